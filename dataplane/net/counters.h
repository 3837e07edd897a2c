// Per-lcore counters: written by one lcore only, read by the main lcore for stats.
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/api/stats.h"

namespace baton::dp {

struct DpCounters {
  std::array<uint64_t, Idx(DropReason::kCount)> drops{};
  std::array<uint64_t, Idx(Counter::kCount)> counters{};
  std::array<LatencyHistogram, Idx(Latency::kCount)> latency{};

  void Drop(DropReason r, uint64_t n = 1) noexcept { drops[Idx(r)] += n; }
  void Count(Counter c, uint64_t n = 1) noexcept { counters[Idx(c)] += n; }
  void Observe(Latency l, uint64_t us) noexcept { latency[Idx(l)].Record(us); }
  uint64_t Dropped(DropReason r) const noexcept { return drops[Idx(r)]; }
  uint64_t Counted(Counter c) const noexcept { return counters[Idx(c)]; }
};

}  // namespace baton::dp
