#include "dataplane/tcp/congestion.h"

#include <algorithm>
#include <cmath>

namespace baton::dp::tcp {
namespace {

void InitWindow(CcState& cc, uint32_t mss) noexcept {
  cc = CcState{};
  // RFC 5681 3.1: IW = min(4*SMSS, max(2*SMSS, 4380 bytes)).
  cc.cwnd_bytes = std::min(4 * mss, std::max(2 * mss, 4380u));
  cc.ssthresh_bytes = UINT32_MAX;  // "arbitrarily high" (RFC 5681 3.1)
}

// RFC 5681 congestion control as used by NewReno (RFC 6582).
class NewReno final : public CongestionControl {
 public:
  void Init(CcState& cc, uint32_t mss) const noexcept override { InitWindow(cc, mss); }
  void OnAck(CcState& cc, uint32_t acked, uint32_t mss, uint64_t /*now_us*/,
             uint32_t /*srtt_us*/) const noexcept override {
    if (cc.cwnd_bytes < cc.ssthresh_bytes) {
      // RFC 5681 3.1 slow start: cwnd += min(N, SMSS) per ACK.
      cc.cwnd_bytes += std::min(acked, mss);
      return;
    }
    // RFC 5681 3.1 congestion avoidance with byte counting: one SMSS per cwnd acked.
    cc.acked_accum_bytes += acked;
    if (cc.acked_accum_bytes >= cc.cwnd_bytes) {
      cc.acked_accum_bytes -= cc.cwnd_bytes;
      cc.cwnd_bytes += mss;
    }
  }
  void OnFastRetransmit(CcState& cc, uint32_t flight, uint32_t mss) const noexcept override {
    // RFC 6582 3.2 step 3 (RFC 5681 eq. 4): ssthresh = max(FlightSize / 2, 2*SMSS).
    cc.ssthresh_bytes = std::max(flight / 2, 2 * mss);
    cc.acked_accum_bytes = 0;
  }
  void OnRto(CcState& cc, uint32_t flight, uint32_t mss) const noexcept override {
    // RFC 5681 3.1: ssthresh per eq. 4, cwnd = loss window = 1 SMSS.
    cc.ssthresh_bytes = std::max(flight / 2, 2 * mss);
    cc.cwnd_bytes = mss;
    cc.acked_accum_bytes = 0;
  }
};

// CUBIC, RFC 9438. Windows are computed in segments (as the RFC writes them) and kept
// in bytes. Private words: [0] W_max bytes, [1] K in microseconds, [2..3] epoch start
// in microseconds plus one (0: no epoch), [4] W_est bytes (Reno-friendly estimate).
class Cubic final : public CongestionControl {
 public:
  static constexpr double kC = 0.4;      // RFC 9438 5.1
  static constexpr double kBeta = 0.7;   // RFC 9438 4.6
  // RFC 9438 4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta).
  static constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

  void Init(CcState& cc, uint32_t mss) const noexcept override { InitWindow(cc, mss); }

  void OnAck(CcState& cc, uint32_t acked, uint32_t mss, uint64_t now_us,
             uint32_t srtt_us) const noexcept override {
    if (cc.cwnd_bytes < cc.ssthresh_bytes) {
      cc.cwnd_bytes += std::min(acked, mss);  // RFC 9438 4.10: standard slow start
      return;
    }
    uint64_t epoch = Epoch(cc);
    if (epoch == 0) {
      // RFC 9438 4.2: a new congestion-avoidance epoch. Without an earlier loss (or
      // above it), the plateau is where we are now.
      epoch = now_us;
      SetEpoch(cc, now_us);
      if (cc.algo_private[0] < cc.cwnd_bytes) {
        cc.algo_private[0] = cc.cwnd_bytes;
        cc.algo_private[1] = 0;
      } else {
        const double gap = double(cc.algo_private[0] - cc.cwnd_bytes) / mss;
        cc.algo_private[1] = static_cast<uint32_t>(std::cbrt(gap / kC) * 1e6);  // eq. 2
      }
      cc.algo_private[4] = cc.cwnd_bytes;
    }
    const double cwnd = double(cc.cwnd_bytes) / mss;
    const double w_max = double(cc.algo_private[0]) / mss;
    // RFC 9438 4.2: aim at W_cubic(t + RTT), bounded to [cwnd, 1.5 * cwnd].
    const double t = (double(now_us - epoch) + srtt_us - cc.algo_private[1]) / 1e6;
    const double target = std::clamp(kC * t * t * t + w_max, cwnd, 1.5 * cwnd);
    // RFC 9438 4.3: the Reno-friendly estimate grows by alpha per cwnd acked.
    const double acked_segs = double(acked) / mss;
    const double w_est = double(cc.algo_private[4]) / mss + kAlpha * acked_segs / cwnd;
    cc.algo_private[4] = static_cast<uint32_t>(w_est * mss);
    if (w_est > target) {
      cc.cwnd_bytes = std::max(cc.cwnd_bytes, cc.algo_private[4]);
      return;
    }
    // RFC 9438 4.4 / 4.5: (target - cwnd) / cwnd segments per acked segment.
    // Accumulated in 1/1024 bytes so that the slow growth near the plateau is kept.
    const double inc = (target - cwnd) / cwnd * acked_segs * mss;
    cc.acked_accum_bytes += static_cast<uint32_t>(inc * 1024);
    cc.cwnd_bytes += cc.acked_accum_bytes >> 10;
    cc.acked_accum_bytes &= 1023;
  }

  void OnFastRetransmit(CcState& cc, uint32_t /*flight*/, uint32_t mss) const noexcept override {
    Reduce(cc, mss);
  }

  void OnRto(CcState& cc, uint32_t /*flight*/, uint32_t mss) const noexcept override {
    Reduce(cc, mss);
    cc.cwnd_bytes = mss;  // RFC 9438 4.8: loss window after a timeout
  }

 private:
  static uint64_t Epoch(const CcState& cc) noexcept {
    const uint64_t v = (uint64_t{cc.algo_private[3]} << 32) | cc.algo_private[2];
    return v == 0 ? 0 : v - 1;
  }
  static void SetEpoch(CcState& cc, uint64_t now_us) noexcept {
    const uint64_t v = now_us + 1;
    cc.algo_private[2] = static_cast<uint32_t>(v);
    cc.algo_private[3] = static_cast<uint32_t>(v >> 32);
  }
  static void Reduce(CcState& cc, uint32_t mss) noexcept {
    // RFC 9438 4.7 fast convergence: a plateau below the last one releases bandwidth.
    const uint32_t cwnd = cc.cwnd_bytes;
    cc.algo_private[0] = cwnd < cc.algo_private[0]
                             ? static_cast<uint32_t>(cwnd * (1.0 + kBeta) / 2.0)
                             : cwnd;
    // RFC 9438 4.6: ssthresh = cwnd * beta_cubic, at least 2 segments.
    cc.ssthresh_bytes = std::max(static_cast<uint32_t>(cwnd * kBeta), 2 * mss);
    cc.acked_accum_bytes = 0;
    cc.algo_private[2] = cc.algo_private[3] = 0;  // the next ACK in CA starts an epoch
  }
};

const NewReno kNewReno;
const Cubic kCubic;

}  // namespace

const CongestionControl& CongestionFor(CcAlgo algo) noexcept {
  switch (algo) {
    case CcAlgo::kCubic:
      return kCubic;
    case CcAlgo::kNewReno:
    case CcAlgo::kCount:
      break;
  }
  return kNewReno;
}

}  // namespace baton::dp::tcp
