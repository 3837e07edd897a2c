// Backend pools: smooth weighted round robin, weighted least connections, Maglev
// (distribution, stability, disruption), availability, exclusion, weight 0, counters.
#include "dataplane/lb/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

// Counts heap allocations so a test can show Pick() makes none. Replacing the global
// operator new is the standard's hook for this ([new.delete.single]); only this test
// binary sees it. malloc/free sit behind noinline helpers because g++ 12, once it
// inlines both sides, flags free() on a pointer "from operator new"
// (-Wmismatched-new-delete), which is exactly the pairing a replacement must do.
namespace {
size_t g_allocations = 0;
[[gnu::noinline]] void* RawAlloc(size_t bytes) noexcept {
  return std::malloc(bytes == 0 ? 1 : bytes);
}
[[gnu::noinline]] void RawFree(void* p) noexcept { std::free(p); }
}  // namespace
void* operator new(size_t bytes) {
  ++g_allocations;
  if (void* p = RawAlloc(bytes)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { RawFree(p); }
void operator delete(void* p, size_t) noexcept { RawFree(p); }

namespace baton::dp::lb {
namespace {

PoolConfig MakeConfig(BalanceAlgorithm algo, const std::vector<uint16_t>& weights) {
  PoolConfig c;
  c.name = "test";
  c.algorithm = algo;
  for (size_t i = 0; i < weights.size(); ++i) {
    // 10.0.<i/200>.<i%200+1>:8080, distinct identities for the Maglev hashes.
    c.backends.push_back({.address = IpAddr::V4(0x0a000000u | uint32_t(i / 200) << 8 |
                                                uint32_t(i % 200 + 1)),
                          .port = 8080,
                          .weight = weights[i]});
  }
  return c;
}

Pool MakePool(BalanceAlgorithm algo, const std::vector<uint16_t>& weights,
              PoolOptions options = {}) {
  Pool p;
  EXPECT_EQ(p.Init(MakeConfig(algo, weights), options), PoolStatus::kOk);
  return p;
}

std::string Letters(Pool& p, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    const auto b = p.Pick(0);
    s += b ? char('A' + *b) : '-';
  }
  return s;
}

std::vector<uint64_t> RandomKeys(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> keys(n);
  for (uint64_t& k : keys) k = rng();
  return keys;
}

// ---------------------------------------------------------------------------- Init

TEST(PoolInit, RejectsBadConfigs) {
  Pool p;
  EXPECT_EQ(p.Init(MakeConfig(BalanceAlgorithm::kRoundRobin, {})), PoolStatus::kNoBackends);
  EXPECT_EQ(p.Init(MakeConfig(BalanceAlgorithm::kRoundRobin, std::vector<uint16_t>(65, 1))),
            PoolStatus::kTooManyBackends);
  EXPECT_EQ(p.Init(MakeConfig(BalanceAlgorithm::kRoundRobin, std::vector<uint16_t>(64, 1))),
            PoolStatus::kOk);
  const PoolConfig maglev = MakeConfig(BalanceAlgorithm::kMaglev, {1, 1, 1});
  EXPECT_EQ(p.Init(maglev, {.maglev_table_size = 65536}), PoolStatus::kTableSizeNotPrime);
  EXPECT_EQ(p.Init(maglev, {.maglev_table_size = 3}), PoolStatus::kTableSizeTooSmall);
  EXPECT_EQ(p.Init(maglev, {.maglev_table_size = (1u << 24) + 43}), PoolStatus::kTableSizeTooLarge);
  EXPECT_EQ(p.Init(maglev, {.maglev_table_size = 5}), PoolStatus::kOk);
  // Table size is Maglev's business only.
  EXPECT_EQ(p.Init(MakeConfig(BalanceAlgorithm::kRoundRobin, {1}), {.maglev_table_size = 4}),
            PoolStatus::kOk);
}

// ------------------------------------------------------------------- round robin

TEST(RoundRobin, SmoothSequenceForWeights511) {
  Pool p = MakePool(BalanceAlgorithm::kRoundRobin, {5, 1, 1});
  // Spread, not AAAAABC; and the same cycle repeats.
  EXPECT_EQ(Letters(p, 14), "AABACAAAABACAA");
}

TEST(RoundRobin, EqualWeightsRotate) {
  Pool p = MakePool(BalanceAlgorithm::kRoundRobin, {1, 1, 1});
  EXPECT_EQ(Letters(p, 7), "ABCABCA");
}

TEST(RoundRobin, ExactProportionsOverEachCycleAndBoundedBursts) {
  const std::vector<uint16_t> weights = {7, 3, 1, 4, 10, 2};
  const int cycle = 27;
  Pool p = MakePool(BalanceAlgorithm::kRoundRobin, weights);
  for (int c = 0; c < 5; ++c) {
    std::vector<int> count(weights.size());
    int run = 0, longest_run = 0, prev = -1;
    for (int i = 0; i < cycle; ++i) {
      const int b = *p.Pick(0);
      ++count[b];
      run = b == prev ? run + 1 : 1;
      longest_run = std::max(longest_run, run);
      prev = b;
    }
    for (size_t b = 0; b < weights.size(); ++b) EXPECT_EQ(count[b], weights[b]) << "cycle " << c;
    // The heaviest backend has 10/27 of the share: never more than two in a row.
    EXPECT_LE(longest_run, 2);
  }
}

TEST(RoundRobin, SkipsUnavailableAndWeightZero) {
  Pool p = MakePool(BalanceAlgorithm::kRoundRobin, {1, 0, 1, 1});
  EXPECT_EQ(p.Eligible(), 0b1101u);
  EXPECT_EQ(Letters(p, 6), "ACDACD");
  p.SetAvailable(2, false);
  EXPECT_EQ(Letters(p, 4), "ADAD");
  p.SetAvailable(2, true);
  EXPECT_EQ(Letters(p, 3), "ACD");
  p.SetWeight(1, 2);  // now takes sessions
  EXPECT_EQ(Letters(p, 5), "BACDB");
}

TEST(RoundRobin, ExcludeMaskAvoidsTriedBackends) {
  Pool p = MakePool(BalanceAlgorithm::kRoundRobin, {1, 1, 1});
  for (int i = 0; i < 10; ++i) {
    const auto b = p.Pick(0, BackendBit(0) | BackendBit(2));
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, 1);
  }
  EXPECT_FALSE(p.Pick(0, 0b111));
}

TEST(RoundRobin, NothingEligibleIsNone) {
  Pool p = MakePool(BalanceAlgorithm::kRoundRobin, {1, 1});
  p.SetAvailable(0, false);
  p.SetAvailable(1, false);
  EXPECT_FALSE(p.Pick(0));
  Pool zero = MakePool(BalanceAlgorithm::kRoundRobin, {0, 0});
  EXPECT_FALSE(zero.Pick(0));
}

// ------------------------------------------------------------- least connections

TEST(LeastConnections, TiesRotateInsteadOfPilingOnTheFirst) {
  Pool p = MakePool(BalanceAlgorithm::kLeastConnections, {1, 1, 1});
  // Without accounting every load stays equal (0): picks still spread.
  EXPECT_EQ(Letters(p, 6), "ABCABC");
}

TEST(LeastConnections, PicksFewestActivePerWeight) {
  Pool p = MakePool(BalanceAlgorithm::kLeastConnections, {1, 3});
  std::vector<int> count(2);
  for (int i = 0; i < 40; ++i) {
    const uint16_t b = *p.Pick(0);
    p.OnSessionStart(b);
    ++count[b];
  }
  EXPECT_EQ(count[0], 10);
  EXPECT_EQ(count[1], 30);
  EXPECT_EQ(p.Counters()[0].active_sessions, 10u);
  EXPECT_EQ(p.Counters()[1].active_sessions, 30u);
  // Five sessions end on backend 1: it has 25/3 < 10/1, so it gets the next five.
  for (int i = 0; i < 5; ++i) p.OnSessionEnd(1);
  for (int i = 0; i < 3; ++i) {
    const uint16_t b = *p.Pick(0);
    EXPECT_EQ(b, 1);
    p.OnSessionStart(b);
  }
}

TEST(LeastConnections, EqualLoadsSpreadAcrossWeights) {
  // Loads 2/1 and 4/2 tie; the rotation alternates between them.
  Pool p = MakePool(BalanceAlgorithm::kLeastConnections, {1, 2, 1});
  for (int i = 0; i < 2; ++i) p.OnSessionStart(0);
  for (int i = 0; i < 4; ++i) p.OnSessionStart(1);
  for (int i = 0; i < 9; ++i) p.OnSessionStart(2);
  EXPECT_EQ(Letters(p, 4), "ABAB");
}

TEST(LeastConnections, ExcludeUnavailableAndWeightZero) {
  Pool p = MakePool(BalanceAlgorithm::kLeastConnections, {1, 0, 1, 1});
  for (int i = 0; i < 5; ++i) p.OnSessionStart(3);
  // Backend 1 has no sessions but weight 0; backend 0 is down; 3 is loaded.
  p.SetAvailable(0, false);
  EXPECT_EQ(*p.Pick(0), 2);
  EXPECT_EQ(*p.Pick(0, BackendBit(2)), 3);
  EXPECT_FALSE(p.Pick(0, BackendBit(2) | BackendBit(3)));
}

// ------------------------------------------------------------------------ Maglev

TEST(Maglev, TableIsFullAndSharesFollowWeights) {
  const std::vector<uint16_t> weights = {1, 2, 3, 4, 0};
  Pool p = MakePool(BalanceAlgorithm::kMaglev, weights);
  const auto table = p.MaglevTableForTest();
  ASSERT_EQ(table.size(), kDefaultMaglevTableSize);
  std::vector<uint32_t> slots(weights.size());
  for (uint8_t b : table) {
    ASSERT_LT(b, weights.size());
    ++slots[b];
  }
  EXPECT_EQ(slots[4], 0u) << "weight 0 gets no slots";
  // Every turn claims one slot and the turn order is smooth WRR, so each share is
  // M * weight / sum(weights) to within a slot.
  for (size_t b = 0; b < 4; ++b) {
    const double expected = kDefaultMaglevTableSize * weights[b] / 10.0;
    EXPECT_NEAR(slots[b], expected, 2.0) << "backend " << b;
  }
}

TEST(Maglev, SmallPrimeTableStillFills) {
  Pool p = MakePool(BalanceAlgorithm::kMaglev, {1, 1, 1, 1, 1}, {.maglev_table_size = 13});
  const auto table = p.MaglevTableForTest();
  ASSERT_EQ(table.size(), 13u);
  std::vector<int> slots(5);
  for (uint8_t b : table) ++slots[b];
  for (int s : slots) EXPECT_TRUE(s == 2 || s == 3);
}

void ExpectDistribution(const std::vector<uint16_t>& weights, const char* label) {
  Pool p = MakePool(BalanceAlgorithm::kMaglev, weights);
  const std::vector<uint64_t> keys = RandomKeys(100'000, 42);
  std::vector<int> count(weights.size());
  for (uint64_t k : keys) ++count[*p.Pick(k)];
  double total_weight = 0;
  for (uint16_t w : weights) total_weight += w;
  double worst = 0;
  for (size_t b = 0; b < weights.size(); ++b) {
    const double expected = keys.size() * weights[b] / total_weight;
    const double rel = (count[b] - expected) / expected;
    worst = std::max(worst, std::abs(rel));
    EXPECT_LT(std::abs(rel), 0.03) << label << " backend " << b << ": " << count[b]
                                   << " keys, expected " << expected;
  }
  std::printf("[measure] Maglev distribution %s, 100k keys: worst deviation %.2f%%\n", label,
              worst * 100);
}

TEST(Maglev, DistributionFollowsWeights) {
  ExpectDistribution({1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, "10 equal");
  ExpectDistribution({1, 2, 3, 4}, "weights 1,2,3,4");
  ExpectDistribution({5, 1, 1}, "weights 5,1,1");
}

TEST(Maglev, SameKeySameBackendAcrossPicksAndWorkers) {
  Pool a = MakePool(BalanceAlgorithm::kMaglev, {1, 1, 2, 1, 3});
  Pool b = MakePool(BalanceAlgorithm::kMaglev, {1, 1, 2, 1, 3});  // another worker
  for (uint64_t k : RandomKeys(10'000, 7)) {
    const auto first = a.Pick(k);
    ASSERT_TRUE(first);
    EXPECT_EQ(a.Pick(k), first);
    EXPECT_EQ(b.Pick(k), first);
  }
  EXPECT_TRUE(std::equal(a.MaglevTableForTest().begin(), a.MaglevTableForTest().end(),
                         b.MaglevTableForTest().begin()));
}

// Removing a backend from the config (a rebuilt table): only about the keys that were
// on it move. Compared by backend identity since indexes shift.
TEST(Maglev, RemovingABackendFromConfigMovesAboutOnlyItsKeys) {
  for (const size_t n : {5u, 10u, 30u}) {
    const PoolConfig full_cfg = MakeConfig(BalanceAlgorithm::kMaglev, std::vector<uint16_t>(n, 1));
    PoolConfig less_cfg = full_cfg;
    const size_t removed = n / 2;
    less_cfg.backends.erase(less_cfg.backends.begin() + long(removed));
    Pool full, less;
    ASSERT_EQ(full.Init(full_cfg), PoolStatus::kOk);
    ASSERT_EQ(less.Init(less_cfg), PoolStatus::kOk);

    const std::vector<uint64_t> keys = RandomKeys(100'000, 1234);
    size_t on_removed = 0, others_moved = 0;
    for (uint64_t k : keys) {
      const uint16_t before = *full.Pick(k);
      const uint16_t after = *less.Pick(k);
      if (before == removed) {
        ++on_removed;
        continue;
      }
      if (!(full.Backend(before).address == less.Backend(after).address)) ++others_moved;
    }
    const double moved = double(on_removed + others_moved) / keys.size();
    const double collateral = double(others_moved) / keys.size();
    std::printf("[measure] Maglev remove 1 of %zu (rebuild): %.2f%% of keys moved "
                "(1/N = %.2f%%), collateral %.2f%%\n",
                n, moved * 100, 100.0 / n, collateral * 100);
    EXPECT_LT(moved, 1.0 / n + 0.02) << n << " backends";
  }
}

// Marking a backend unavailable: no rebuild; keys on other backends never move, its
// keys spread over the rest, and all return when it recovers.
TEST(Maglev, UnavailableBackendMovesOnlyItsKeysAndTheyComeBack) {
  const size_t n = 10;
  Pool p = MakePool(BalanceAlgorithm::kMaglev, std::vector<uint16_t>(n, 1));
  const std::vector<uint64_t> keys = RandomKeys(100'000, 99);
  std::vector<uint16_t> before;
  for (uint64_t k : keys) before.push_back(*p.Pick(k));

  const uint16_t down = 4;
  p.SetAvailable(down, false);
  size_t others_moved = 0, displaced = 0;
  std::vector<int> landed(n);
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint16_t now = *p.Pick(keys[i]);
    ASSERT_NE(now, down);
    if (before[i] == down) {
      ++displaced;
      ++landed[now];
    } else if (now != before[i]) {
      ++others_moved;
    }
  }
  EXPECT_EQ(others_moved, 0u);
  // Displaced keys spread over all nine others (each ~1/9 of them).
  int least = INT32_MAX, most = 0;
  for (size_t b = 0; b < n; ++b) {
    if (b == down) continue;
    least = std::min(least, landed[b]);
    most = std::max(most, landed[b]);
  }
  std::printf("[measure] Maglev 1 of %zu unavailable: %.2f%% of keys moved, collateral 0; "
              "displaced keys per survivor %d..%d (mean %.0f)\n",
              n, 100.0 * displaced / keys.size(), least, most, displaced / 9.0);
  // Each displaced key probes independent slots, so the split is binomial (~3% sd).
  EXPECT_GT(least, int(displaced / 9 * 0.85));
  EXPECT_LT(most, int(displaced / 9 * 1.15));

  p.SetAvailable(down, true);
  for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(*p.Pick(keys[i]), before[i]);
}

TEST(Maglev, ExcludeMaskFallsThroughDeterministically) {
  Pool p = MakePool(BalanceAlgorithm::kMaglev, {1, 1, 1, 1});
  for (uint64_t k : RandomKeys(2'000, 5)) {
    const uint16_t first = *p.Pick(k);
    const auto retry = p.Pick(k, BackendBit(first));
    ASSERT_TRUE(retry);
    EXPECT_NE(*retry, first);
    EXPECT_EQ(p.Pick(k, BackendBit(first)), retry);  // same answer every time
    const auto third = p.Pick(k, BackendBit(first) | BackendBit(*retry));
    ASSERT_TRUE(third);
    EXPECT_NE(*third, first);
    EXPECT_NE(*third, *retry);
  }
  EXPECT_FALSE(p.Pick(1, 0b1111));
}

TEST(Maglev, OneSurvivorOfSixtyFourTakesEverything) {
  // With 1/64 of the weight left, ~60% of keys exhaust the 32 probes: this exercises
  // both the rehash probes and the ranking fallback.
  Pool p = MakePool(BalanceAlgorithm::kMaglev, std::vector<uint16_t>(64, 1));
  for (uint16_t b = 0; b < 64; ++b) {
    if (b != 37) p.SetAvailable(b, false);
  }
  for (uint64_t k : RandomKeys(5'000, 3)) EXPECT_EQ(p.Pick(k), 37);
  p.SetAvailable(37, false);
  EXPECT_FALSE(p.Pick(123));
}

TEST(Maglev, WeightZeroAndSetWeightRebuild) {
  Pool p = MakePool(BalanceAlgorithm::kMaglev, {1, 0, 1});
  const std::vector<uint64_t> keys = RandomKeys(20'000, 11);
  for (uint64_t k : keys) EXPECT_NE(*p.Pick(k), 1);
  p.SetWeight(1, 2);  // now half the weight
  int on_1 = 0;
  for (uint64_t k : keys) on_1 += *p.Pick(k) == 1;
  EXPECT_NEAR(on_1 / double(keys.size()), 0.5, 0.02);
  p.SetWeight(0, 0);
  p.SetWeight(1, 0);
  p.SetWeight(2, 0);
  EXPECT_FALSE(p.Pick(7));
}

// ------------------------------------------------------------ admin state (run time)

TEST(Admin, DisabledAndDrainingTakeNoNewSessionsAndKeepCounting) {
  for (BalanceAlgorithm algo : {BalanceAlgorithm::kRoundRobin, BalanceAlgorithm::kLeastConnections}) {
    Pool p = MakePool(algo, {1, 1, 1});
    p.OnSessionStart(1);  // a session already on B
    p.SetAdmin(1, BackendAdmin::kDisabled);
    EXPECT_EQ(p.Backend(1).admin, BackendAdmin::kDisabled);
    EXPECT_EQ(p.Eligible(), 0b101u);
    for (int i = 0; i < 30; ++i) EXPECT_NE(*p.Pick(0), 1);
    // The existing session continues: its accounting still works.
    EXPECT_EQ(p.Counters()[1].active_sessions, 1u);
    p.SetAdmin(1, BackendAdmin::kDraining);
    EXPECT_EQ(p.Eligible(), 0b101u);
    for (int i = 0; i < 30; ++i) EXPECT_NE(*p.Pick(0), 1);
    p.OnSessionEnd(1);
    EXPECT_EQ(p.Counters()[1].active_sessions, 0u);
    p.SetAdmin(1, BackendAdmin::kEnabled);
    EXPECT_EQ(p.Eligible(), 0b111u);
    int on_b = 0;
    for (int i = 0; i < 30; ++i) {
      const uint16_t b = *p.Pick(0);
      on_b += b == 1;
    }
    EXPECT_EQ(on_b, 10) << int(algo);  // back to its third (least-connections: ties rotate)
  }
}

TEST(Admin, AdminAndHealthAreIndependent) {
  Pool p = MakePool(BalanceAlgorithm::kRoundRobin, {1, 1});
  p.SetAdmin(0, BackendAdmin::kDisabled);
  p.SetAvailable(0, false);
  p.SetAdmin(0, BackendAdmin::kEnabled);  // enabled but still down
  EXPECT_EQ(p.Eligible(), 0b10u);
  p.SetAvailable(0, true);
  EXPECT_EQ(p.Eligible(), 0b11u);
  p.SetAdmin(1, BackendAdmin::kDraining);
  p.SetAdmin(0, BackendAdmin::kDisabled);
  EXPECT_FALSE(p.Pick(0));
}

TEST(Admin, WeightChangesTheShare) {
  Pool rr = MakePool(BalanceAlgorithm::kRoundRobin, {1, 1});
  rr.SetWeight(0, 3);
  EXPECT_EQ(Letters(rr, 8), "AABAAABA");  // 3:1 in every cycle of 4
  rr.SetWeight(0, 0);
  EXPECT_EQ(Letters(rr, 3), "BBB");

  Pool lc = MakePool(BalanceAlgorithm::kLeastConnections, {1, 1});
  lc.SetWeight(1, 4);
  int on_b = 0;
  for (int i = 0; i < 50; ++i) {
    const uint16_t b = *lc.Pick(0);
    lc.OnSessionStart(b);  // sessions never end: the loads settle at 1:4
    on_b += b == 1;
  }
  EXPECT_EQ(on_b, 40);

  Pool mg = MakePool(BalanceAlgorithm::kMaglev, {1, 1, 1}, {.maglev_table_size = 65537});
  const std::vector<uint64_t> keys = RandomKeys(30'000, 21);
  mg.SetWeight(2, 1000);  // the table is rebuilt: C owns ~1000/1002 of it
  int on_c = 0;
  for (uint64_t k : keys) on_c += *mg.Pick(k) == 2;
  EXPECT_GT(on_c / double(keys.size()), 0.99);
  // Disabling does not rebuild: keys of the others stay where they were.
  std::vector<uint16_t> before;
  for (uint64_t k : keys) before.push_back(*mg.Pick(k));
  mg.SetAdmin(0, BackendAdmin::kDisabled);
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint16_t now = *mg.Pick(keys[i]);
    EXPECT_NE(now, 0);
    if (before[i] != 0) {
      ASSERT_EQ(now, before[i]);
    }
  }
}

TEST(Admin, PassiveMarkingAfterFailuresInARow) {
  Pool p = MakePool(BalanceAlgorithm::kRoundRobin, {1, 1});
  p.OnConnectFailure(0);
  p.OnConnectFailure(0);
  EXPECT_EQ(p.Eligible(), 0b11u);  // passive marking is off by default
  p.SetPassiveFall(3);
  p.OnConnectSuccess(0);  // breaks the run
  p.OnConnectFailure(0);
  p.OnConnectFailure(0);
  EXPECT_EQ(p.Eligible(), 0b11u);
  EXPECT_EQ(p.TakePassiveDown(), 0u);
  p.OnConnectFailure(0);
  EXPECT_EQ(p.Eligible(), 0b10u);
  EXPECT_FALSE(p.Backend(0).available);
  EXPECT_EQ(p.TakePassiveDown(), 0b01u);
  EXPECT_EQ(p.TakePassiveDown(), 0u);  // taken once
  p.OnConnectFailure(0);               // already down: not reported again
  EXPECT_EQ(p.TakePassiveDown(), 0u);
  p.SetAvailable(0, true);  // a probe succeeded
  EXPECT_EQ(p.Counters()[0].failures_in_a_row, 0u);
  EXPECT_EQ(p.Eligible(), 0b11u);
  p.OnConnectFailure(0);
  EXPECT_EQ(p.Eligible(), 0b11u);  // a new run starts from zero
}

// ----------------------------------------------------------------------- shared

TEST(Pool, CountersArePlainDataAndEndSaturates) {
  Pool p = MakePool(BalanceAlgorithm::kRoundRobin, {1, 1});
  p.OnSessionStart(0);
  p.OnSessionStart(0);
  p.OnConnectFailure(0);
  p.OnSessionEnd(0);
  p.OnSessionEnd(1);   // unmatched: stays 0
  p.OnSessionStart(9); // out of range: ignored
  const BackendCounters c0 = p.Counters()[0];
  EXPECT_EQ(c0.sessions_started, 2u);
  EXPECT_EQ(c0.active_sessions, 1u);
  EXPECT_EQ(c0.connect_failures, 1u);
  EXPECT_EQ(p.Counters()[1].active_sessions, 0u);
  static_assert(std::is_trivially_copyable_v<BackendCounters>);
}

TEST(Pool, PickDoesNotAllocate) {
  for (BalanceAlgorithm algo : {BalanceAlgorithm::kRoundRobin,
                                BalanceAlgorithm::kLeastConnections, BalanceAlgorithm::kMaglev}) {
    Pool p = MakePool(algo, {3, 1, 2, 5});
    p.SetAvailable(2, false);
    const size_t before = g_allocations;
    uint64_t sink = 0;
    for (uint64_t k = 0; k < 10'000; ++k) {
      const auto b = p.Pick(k * 0x9e3779b97f4a7c15ull, k & 1);
      p.OnSessionStart(*b);
      if (k % 3 == 0) p.OnSessionEnd(*b);
      sink += *b;
    }
    EXPECT_EQ(g_allocations, before) << int(algo);
    EXPECT_GT(sink, 0u);
  }
}

}  // namespace
}  // namespace baton::dp::lb
