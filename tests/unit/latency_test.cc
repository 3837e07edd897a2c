// The latency histogram (dataplane/api/latency.h): bucket edges, sum and count, merge,
// quantile estimates; and the request-latency rule of dataplane/proxy/request_latency.h.
#include <gtest/gtest.h>

#include <cstdint>

#include "dataplane/api/latency.h"
#include "dataplane/net/counters.h"
#include "dataplane/proxy/request_latency.h"

namespace baton::dp {
namespace {

// The bucket the single observation went to.
size_t BucketOf(uint64_t us) {
  LatencyHistogram h;
  h.Record(us);
  for (size_t i = 0; i < kLatencyBuckets; ++i)
    if (h.buckets[i] == 1) return i;
  return kLatencyBuckets;
}

TEST(LatencyHistogram, BoundsAreLogSpacedFrom50UsTo10s) {
  EXPECT_EQ(kLatencyBoundsUs.front(), 50u);
  EXPECT_EQ(kLatencyBoundsUs.back(), 10'000'000u);
  EXPECT_EQ(kLatencyBuckets, kLatencyBoundsUs.size() + 1);
  for (size_t i = 1; i < kLatencyBoundsUs.size(); ++i) {
    const double ratio = double(kLatencyBoundsUs[i]) / double(kLatencyBoundsUs[i - 1]);
    EXPECT_GE(ratio, 2.0) << i;
    EXPECT_LE(ratio, 2.5) << i;
  }
}

TEST(LatencyHistogram, BucketEdgesAreInclusiveUpperBounds) {
  EXPECT_EQ(BucketOf(0), 0u);
  EXPECT_EQ(BucketOf(50), 0u);  // le="0.00005" holds 50 us itself
  EXPECT_EQ(BucketOf(51), 1u);
  EXPECT_EQ(BucketOf(100), 1u);
  EXPECT_EQ(BucketOf(101), 2u);
  for (size_t i = 0; i < kLatencyBoundsUs.size(); ++i) {
    EXPECT_EQ(BucketOf(kLatencyBoundsUs[i]), i) << kLatencyBoundsUs[i];
    EXPECT_EQ(BucketOf(kLatencyBoundsUs[i] + 1), i + 1) << kLatencyBoundsUs[i] + 1;
  }
  EXPECT_EQ(BucketOf(10'000'000), kLatencyBuckets - 2);
  EXPECT_EQ(BucketOf(10'000'001), kLatencyBuckets - 1);  // overflow: only +Inf
  EXPECT_EQ(BucketOf(UINT64_MAX / 2), kLatencyBuckets - 1);
}

TEST(LatencyHistogram, CountAndSum) {
  LatencyHistogram h;
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.sum_us, 0u);
  for (uint64_t us : {10u, 70u, 70u, 1'500u, 30'000'000u}) h.Record(us);
  EXPECT_EQ(h.Count(), 5u);
  EXPECT_EQ(h.sum_us, 10u + 70u + 70u + 1'500u + 30'000'000u);
  EXPECT_EQ(h.buckets[0], 1u);
  EXPECT_EQ(h.buckets[1], 2u);
  EXPECT_EQ(h.buckets[5], 1u);  // (1 ms, 2 ms]
  EXPECT_EQ(h.buckets.back(), 1u);
}

TEST(LatencyHistogram, MergeAddsBucketsAndSums) {
  LatencyHistogram a, b, both;
  for (uint64_t us : {40u, 900u, 900u}) {
    a.Record(us);
    both.Record(us);
  }
  for (uint64_t us : {900u, 12'000u, 11'000'000u}) {
    b.Record(us);
    both.Record(us);
  }
  LatencyHistogram merged = a;
  merged.Merge(b);
  EXPECT_EQ(merged.buckets, both.buckets);
  EXPECT_EQ(merged.sum_us, both.sum_us);
  EXPECT_EQ(merged.Count(), 6u);
  merged.Merge(LatencyHistogram{});  // merging nothing changes nothing
  EXPECT_EQ(merged.buckets, both.buckets);
}

TEST(LatencyHistogram, QuantilesInterpolateInsideTheBucket) {
  LatencyHistogram empty;
  EXPECT_EQ(empty.QuantileUs(0.5), 0u);

  // 100 observations spread over (1 ms, 2 ms]: quantiles interpolate linearly there.
  LatencyHistogram h;
  for (int i = 0; i < 100; ++i) h.Record(1'500);
  EXPECT_EQ(h.QuantileUs(0.5), 1'500u);
  EXPECT_EQ(h.QuantileUs(0.9), 1'900u);
  EXPECT_EQ(h.QuantileUs(0.99), 1'990u);
  EXPECT_EQ(h.QuantileUs(1.0), 2'000u);
  EXPECT_EQ(h.QuantileUs(0.0), 1'000u);  // the bucket's lower edge

  // 90 fast (<= 50 us: the first bucket starts at 0) and 10 around 300 ms.
  LatencyHistogram mix;
  for (int i = 0; i < 90; ++i) mix.Record(20);
  for (int i = 0; i < 10; ++i) mix.Record(300'000);
  EXPECT_EQ(mix.QuantileUs(0.5), 28u);  // rank 50 of 90 in (0, 50]: 27.8
  EXPECT_EQ(mix.QuantileUs(0.9), 50u);
  EXPECT_EQ(mix.QuantileUs(0.99), 470'000u);  // rank 99: 9 of 10 into (200 ms, 500 ms]
  // Quantiles never decrease with q.
  uint64_t last = 0;
  for (int i = 0; i <= 100; ++i) {
    const uint64_t v = mix.QuantileUs(i / 100.0);
    EXPECT_GE(v, last) << i;
    last = v;
  }
}

TEST(LatencyHistogram, OverflowQuantileIsTheLastBound) {
  LatencyHistogram h;
  h.Record(100);
  h.Record(60'000'000);
  EXPECT_EQ(h.QuantileUs(0.99), kLatencyBoundsUs.back());
  EXPECT_EQ(h.QuantileUs(0.5), 100u);
}

TEST(LatencyHistogram, CountersObserveIntoTheirOwnHistogram) {
  DpCounters c;
  c.Observe(Latency::kRequest, 700);
  EXPECT_EQ(c.latency[Idx(Latency::kRequest)].Count(), 1u);
  EXPECT_EQ(c.latency[Idx(Latency::kRequest)].sum_us, 700u);
  EXPECT_EQ(c.latency[Idx(Latency::kTlsHandshake)].Count(), 0u);
}

// ---- Request latency rule ----

TEST(RequestLatency, FirstAnswerBytesEndTheExchange) {
  DpCounters c;
  uint64_t start = 0;
  const LatencyHistogram& h = c.latency[Idx(Latency::kRequest)];
  TrackRequest(start, 100, 0, 1'000, c);  // request out
  EXPECT_EQ(start, 1'000u);
  TrackRequest(start, 50, 0, 1'200, c);   // more of it: the start stays
  EXPECT_EQ(start, 1'000u);
  TrackRequest(start, 0, 0, 1'300, c);    // nothing moved
  TrackRequest(start, 0, 4'000, 3'500, c);  // first answer bytes
  EXPECT_EQ(h.Count(), 1u);
  EXPECT_EQ(h.sum_us, 2'500u);
  EXPECT_EQ(start, 0u);
  TrackRequest(start, 0, 4'000, 3'600, c);  // the rest of the answer
  EXPECT_EQ(h.Count(), 1u);
}

TEST(RequestLatency, BytesBeforeAnyRequestStartNothing) {
  DpCounters c;
  uint64_t start = 0;
  TrackRequest(start, 0, 200, 1'000, c);  // a server greeting
  EXPECT_EQ(c.latency[Idx(Latency::kRequest)].Count(), 0u);
  EXPECT_EQ(start, 0u);
}

TEST(RequestLatency, BothWaysInOnePump) {
  DpCounters c;
  uint64_t start = 0;
  // Nothing outstanding: the backend bytes cannot answer the client bytes of the same
  // pump, so they only start an exchange.
  TrackRequest(start, 10, 20, 1'000, c);
  EXPECT_EQ(c.latency[Idx(Latency::kRequest)].Count(), 0u);
  EXPECT_EQ(start, 1'000u);
  // Outstanding: the backend bytes end it, the client bytes start the next one.
  TrackRequest(start, 10, 20, 1'400, c);
  EXPECT_EQ(c.latency[Idx(Latency::kRequest)].Count(), 1u);
  EXPECT_EQ(c.latency[Idx(Latency::kRequest)].sum_us, 400u);
  EXPECT_EQ(start, 1'400u);
}

}  // namespace
}  // namespace baton::dp
