// Latency histograms: fixed, log-spaced buckets in microseconds (1-2-5 per decade,
// 50 us to 10 s, then one bucket for everything slower). Plain integers, no
// allocation: a worker records into its own copy, publishes it like its counters
// (PublishedStats), and the control plane sums the workers' copies with Merge().
// docs/API.md defines what each histogram measures and how it is exported.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace baton::dp {

// Upper bounds (inclusive, like Prometheus `le`) of the finite buckets.
inline constexpr std::array<uint64_t, 17> kLatencyBoundsUs = {
    50,        100,       200,       500,                   // 50 us .. 0.5 ms
    1'000,     2'000,     5'000,     10'000,    20'000,     // 1 ms .. 20 ms
    50'000,    100'000,   200'000,   500'000,               // 50 ms .. 0.5 s
    1'000'000, 2'000'000, 5'000'000, 10'000'000,            // 1 s .. 10 s
};
// The finite buckets plus the overflow bucket (above the last bound, `le="+Inf"` only).
inline constexpr size_t kLatencyBuckets = kLatencyBoundsUs.size() + 1;

static_assert(std::is_sorted(kLatencyBoundsUs.begin(), kLatencyBoundsUs.end()) &&
                  std::adjacent_find(kLatencyBoundsUs.begin(), kLatencyBoundsUs.end()) == kLatencyBoundsUs.end(),
              "latency bounds must increase strictly");

struct LatencyHistogram {
  // Not cumulative: buckets[i] counts observations in (bound[i-1], bound[i]]; the last
  // one those above the last bound. The count is their sum (no separate field, so a
  // published copy can never disagree with its buckets).
  std::array<uint64_t, kLatencyBuckets> buckets{};
  uint64_t sum_us = 0;

  // One observation. A binary search over 17 constants, two increments.
  void Record(uint64_t us) noexcept {
    const size_t i = size_t(std::lower_bound(kLatencyBoundsUs.begin(), kLatencyBoundsUs.end(), us) -
                            kLatencyBoundsUs.begin());
    ++buckets[i];
    sum_us += us;
  }

  void Merge(const LatencyHistogram& o) noexcept {
    for (size_t i = 0; i < kLatencyBuckets; ++i) buckets[i] += o.buckets[i];
    sum_us += o.sum_us;
  }

  uint64_t Count() const noexcept {
    uint64_t n = 0;
    for (const uint64_t b : buckets) n += b;
    return n;
  }

  // An estimate of quantile q (0..1) in microseconds, as Prometheus's
  // histogram_quantile() makes it: find the bucket holding rank q x count and
  // interpolate linearly inside it (the first bucket starts at 0). Ranks in the
  // overflow bucket answer the last bound: "at least 10 s". 0 when empty.
  uint64_t QuantileUs(double q) const noexcept {
    const uint64_t count = Count();
    if (count == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    const double rank = q * double(count);
    uint64_t below = 0;
    for (size_t i = 0; i < kLatencyBoundsUs.size(); ++i) {
      if (buckets[i] != 0 && double(below + buckets[i]) >= rank) {
        const double lo = i == 0 ? 0.0 : double(kLatencyBoundsUs[i - 1]);
        const double hi = double(kLatencyBoundsUs[i]);
        const double within = std::max(0.0, rank - double(below)) / double(buckets[i]);
        return uint64_t(lo + (hi - lo) * within + 0.5);
      }
      below += buckets[i];
    }
    return kLatencyBoundsUs.back();
  }
};

// What the data plane measures (docs/API.md, "Latency").
enum class Latency : uint8_t {
  kTlsHandshake,    // client TCP connection established -> TLS handshake complete
  kRequest,         // client bytes passed with no request outstanding -> first backend bytes back
  kBackendConnect,  // SYN sent to a backend -> its connection established (per attempt)
  kCount
};

// Keys for JSON and the Prometheus family names (baton_<key>_seconds).
inline constexpr std::array<std::string_view, size_t(Latency::kCount)> kLatencyKey = {
    "tls_handshake", "request", "backend_connect"};
static_assert(!kLatencyKey.back().empty(), "a Latency lacks its key");

}  // namespace baton::dp
