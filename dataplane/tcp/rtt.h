// Retransmission timer computation, RFC 6298. Microseconds throughout.
#pragma once

#include <algorithm>
#include <cstdint>

namespace baton::dp::tcp {

struct RttState {
  uint32_t srtt_us = 0;
  uint32_t rttvar_us = 0;
  uint32_t rto_us = 0;
  bool has_sample = false;
};

struct RtoLimits {
  uint32_t initial_us;
  uint32_t min_us;
  uint32_t max_us;
  uint32_t granularity_us;  // G in RFC 6298 2.2
};

// RFC 6298 2.1: before any sample, RTO is the initial value.
inline void RttInit(RttState& r, const RtoLimits& lim) noexcept {
  r = RttState{};
  r.rto_us = lim.initial_us;
}

// RFC 6298 2.2 and 2.3, then 2.4 (min) and 2.5 (max).
inline void RttSample(RttState& r, uint32_t sample_us, const RtoLimits& lim) noexcept {
  if (!r.has_sample) {
    r.srtt_us = sample_us;
    r.rttvar_us = sample_us / 2;
    r.has_sample = true;
  } else {
    const uint32_t err = r.srtt_us > sample_us ? r.srtt_us - sample_us : sample_us - r.srtt_us;
    // beta = 1/4, alpha = 1/8; RTTVAR first, with the old SRTT (2.3 ordering).
    r.rttvar_us = r.rttvar_us - r.rttvar_us / 4 + err / 4;
    r.srtt_us = r.srtt_us - r.srtt_us / 8 + sample_us / 8;
  }
  const uint64_t rto = uint64_t{r.srtt_us} + std::max<uint64_t>(lim.granularity_us,
                                                                 uint64_t{4} * r.rttvar_us);
  r.rto_us = static_cast<uint32_t>(std::clamp<uint64_t>(rto, lim.min_us, lim.max_us));
}

// RFC 6298 5.5: back the timer off by doubling, bounded by the maximum (2.5).
inline void RttBackOff(RttState& r, const RtoLimits& lim) noexcept {
  r.rto_us = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{r.rto_us} * 2, lim.max_us));
}

}  // namespace baton::dp::tcp
