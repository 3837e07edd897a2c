// Congestion control behind the interface: NewReno (RFC 5681) and CUBIC (RFC 9438).
#include <cmath>

#include <gtest/gtest.h>

#include "dataplane/tcp/congestion.h"

namespace baton::dp::tcp {
namespace {

constexpr uint32_t kMss = 1000;

TEST(NewReno, SlowStartThenLinearGrowthAndHalving) {
  const CongestionControl& cc = CongestionFor(CcAlgo::kNewReno);
  CcState s;
  cc.Init(s, kMss);
  EXPECT_EQ(s.cwnd_bytes, 4 * kMss);  // RFC 5681 IW for a 1000-byte SMSS
  cc.OnAck(s, kMss, kMss, 0, 0);
  EXPECT_EQ(s.cwnd_bytes, 5 * kMss);
  cc.OnFastRetransmit(s, 20 * kMss, kMss);
  EXPECT_EQ(s.ssthresh_bytes, 10 * kMss);
  s.cwnd_bytes = s.ssthresh_bytes;
  for (int i = 0; i < 10; ++i) cc.OnAck(s, kMss, kMss, 0, 0);  // one window acked
  EXPECT_EQ(s.cwnd_bytes, 11 * kMss);
  cc.OnRto(s, 11 * kMss, kMss);
  EXPECT_EQ(s.cwnd_bytes, kMss);
  EXPECT_EQ(s.ssthresh_bytes, 5500u);
}

TEST(Cubic, ReductionAndCurveReachesPlateauAtK) {
  const CongestionControl& cc = CongestionFor(CcAlgo::kCubic);
  CcState s;
  cc.Init(s, kMss);
  s.cwnd_bytes = 100 * kMss;
  s.ssthresh_bytes = 200 * kMss;
  cc.OnFastRetransmit(s, 100 * kMss, kMss);
  EXPECT_EQ(s.ssthresh_bytes, 70 * kMss);  // beta_cubic = 0.7
  s.cwnd_bytes = s.ssthresh_bytes;
  // K = cbrt(W_max * (1 - beta) / C) = cbrt(75) s.
  const double k_s = std::cbrt(100 * 0.3 / 0.4);
  const uint32_t rtt_us = 100'000;
  uint64_t now = 1'000'000;
  uint32_t at_k = 0, last_inc_before_k = UINT32_MAX;
  bool concave = true;
  for (int rtt = 0; rtt < 80; ++rtt) {
    const uint32_t before = s.cwnd_bytes;
    // One window of ACKs per RTT.
    for (uint32_t acked = 0; acked < before; acked += kMss) cc.OnAck(s, kMss, kMss, now, rtt_us);
    now += rtt_us;
    const double t = double(now - 1'000'000) / 1e6;
    const uint32_t inc = s.cwnd_bytes - before;
    if (t >= 1.0 && t < k_s - 0.5) {
      if (uint64_t{inc} > uint64_t{last_inc_before_k} + kMss / 10) concave = false;  // slows
      last_inc_before_k = inc;
    }
    if (at_k == 0 && t >= k_s) at_k = s.cwnd_bytes;
  }
  EXPECT_TRUE(concave);
  EXPECT_NEAR(double(at_k), 100.0 * kMss, 10.0 * kMss);  // plateau near W_max at K
  // Convex probing after K: W_cubic(8 s) = 0.4 * (8 - 4.22)^3 + 100 = 121.6 segments.
  EXPECT_GT(s.cwnd_bytes, 115 * kMss);
}

TEST(Cubic, FastConvergenceLowersThePlateau) {
  const CongestionControl& cc = CongestionFor(CcAlgo::kCubic);
  CcState s;
  cc.Init(s, kMss);
  s.cwnd_bytes = 100 * kMss;
  cc.OnFastRetransmit(s, 0, kMss);
  s.cwnd_bytes = 80 * kMss;  // lost again below the previous plateau
  cc.OnRto(s, 0, kMss);
  EXPECT_EQ(s.algo_private[0], 68 * kMss);  // 80 * (1 + 0.7) / 2
  EXPECT_EQ(s.ssthresh_bytes, 56 * kMss);
  EXPECT_EQ(s.cwnd_bytes, kMss);
}

}  // namespace
}  // namespace baton::dp::tcp
