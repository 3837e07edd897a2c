// Congestion control behind an interface. The algorithm's state is plain data inside
// the connection record (CcState); implementations are stateless singletons picked by
// an enum, so the record stays pointer-free and copyable. Loss *recovery* (dup-ACK
// counting, NewReno partial ACKs, RFC 6582) lives in the connection; this interface
// only decides the window.
#pragma once

#include <cstdint>

namespace baton::dp::tcp {

enum class CcAlgo : uint8_t { kNewReno, kCubic, kCount };

struct CcState {
  uint32_t cwnd_bytes = 0;
  uint32_t ssthresh_bytes = 0;
  uint32_t acked_accum_bytes = 0;  // congestion-avoidance byte counter (RFC 5681 3.1)
  uint32_t algo_private[5] = {};   // room for an algorithm's own state (e.g. CUBIC)
};

class CongestionControl {
 public:
  virtual ~CongestionControl() = default;
  virtual void Init(CcState& cc, uint32_t mss_bytes) const noexcept = 0;
  // New data acknowledged outside loss recovery.
  virtual void OnAck(CcState& cc, uint32_t acked_bytes, uint32_t mss_bytes,
                     uint64_t now_us, uint32_t srtt_us) const noexcept = 0;
  // Third duplicate ACK: set ssthresh; the caller inflates cwnd for recovery.
  virtual void OnFastRetransmit(CcState& cc, uint32_t flight_bytes,
                                uint32_t mss_bytes) const noexcept = 0;
  // Retransmission timeout.
  virtual void OnRto(CcState& cc, uint32_t flight_bytes, uint32_t mss_bytes) const noexcept = 0;
};

const CongestionControl& CongestionFor(CcAlgo algo) noexcept;

}  // namespace baton::dp::tcp
