// Owner words, claims, adoption, rebalance hand-off, heartbeats.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "dataplane/state/heartbeat.h"
#include "tests/state/store_fixture.h"

namespace baton::dp::state::test {
namespace {

uint32_t InsertOwned(SessionStore& s, uint16_t core, uint32_t n) {
  const FlowKey ck = ClientKey(n);
  uint32_t idx = SessionStore::kNone;
  EXPECT_EQ(s.Insert(core, MakeRecord(ck, n), &ck, nullptr, idx), StoreStatus::kOk);
  return idx;
}

TEST(OwnerWord, PackUnpackAndNext) {
  const OwnerWord w = Pack(Owner{41, 3, 2, OwnerState::kOwned});
  EXPECT_EQ(Unpack(w), (Owner{41, 3, 2, OwnerState::kOwned}));
  const Owner n = Unpack(Next(w, 9, 2, OwnerState::kHandingOff));
  EXPECT_EQ(n.epoch, 42u);
  EXPECT_EQ(n.core, 9);
  EXPECT_EQ(n.state, OwnerState::kHandingOff);
}

TEST(Ownership, StaleEpochClaimFails) {
  auto s = MakeStore("claim", 8);
  const uint32_t idx = InsertOwned(*s, 0, 1);
  const OwnerWord seen = s->OwnerOf(idx);

  OwnerWord a = seen;
  ASSERT_TRUE(s->TryClaim(1, idx, a));
  const Owner after = Unpack(s->OwnerOf(idx));
  EXPECT_EQ(after.core, 1);
  EXPECT_EQ(after.epoch, Unpack(seen).epoch + 1);

  OwnerWord b = seen;  // core 2 read the word before core 1's claim
  EXPECT_FALSE(s->TryClaim(2, idx, b));
  EXPECT_EQ(b, s->OwnerOf(idx)) << "a failed claim returns the current word";
  EXPECT_EQ(Unpack(s->OwnerOf(idx)).core, 1);
  ASSERT_TRUE(s->TryClaim(2, idx, b));  // with the fresh word it works
  EXPECT_EQ(Unpack(s->OwnerOf(idx)).epoch, Unpack(seen).epoch + 2);

  const StateCounters st = s->Stats();
  EXPECT_EQ(st.claims, 2u);
  EXPECT_EQ(st.stale_claims, 1u);
}

// Free and reuse an index: owner core and state come back to the same values, the epoch
// does not, so a claim prepared before the free fails.
TEST(Ownership, AbaOnIndexReuseIsImpossible) {
  auto s = MakeStore("aba", 1);
  ASSERT_TRUE(s->RegisterCore(0));
  const uint32_t idx = InsertOwned(*s, 0, 1);
  const OwnerWord old_word = s->OwnerOf(idx);
  ASSERT_EQ(s->Erase(0, idx), StoreStatus::kOk);
  OwnerWord free_word = s->OwnerOf(idx);
  EXPECT_FALSE(s->TryClaim(1, idx, free_word)) << "free records are only allocated";
  s->Quiescent(0);
  ASSERT_EQ(s->Reclaim(0, 8), 1u);
  ASSERT_EQ(InsertOwned(*s, 0, 2), idx);

  const Owner now = Unpack(s->OwnerOf(idx));
  const Owner old = Unpack(old_word);
  EXPECT_EQ(now.core, old.core);
  EXPECT_EQ(now.state, old.state);
  EXPECT_NE(now.epoch, old.epoch);

  OwnerWord stale = old_word;
  EXPECT_FALSE(s->TryClaim(1, idx, stale));
  EXPECT_EQ(Unpack(s->OwnerOf(idx)).core, 0);
  EXPECT_EQ(s->As<TestRecord>(idx).seq, 2u);
}

// Two cores adopt a dead core's sessions at once, in small resumable chunks: every
// record goes to exactly one of them; other cores' records stay put.
TEST(Ownership, TwoCompetingAdoptersTakeEachRecordExactlyOnce) {
  constexpr uint32_t kCap = 600;
  constexpr uint16_t kDead = 5, kOther = 6;
  auto s = MakeStore("adopt", kCap);
  std::set<uint32_t> dead_records, other_records;
  for (uint32_t n = 0; n < 500; ++n) {
    const uint16_t core = n % 5 == 4 ? kOther : kDead;
    const uint32_t idx = InsertOwned(*s, core, n);
    (core == kDead ? dead_records : other_records).insert(idx);
  }
  // Some of the dead core's records were being handed to it: those are adopted too.
  uint32_t handing = 0;
  for (uint32_t idx : other_records) {
    if (handing == 10) break;
    ASSERT_TRUE(s->HandOff(kOther, idx, kDead));
    dead_records.insert(idx);
    ++handing;
  }
  for (uint32_t idx : dead_records) other_records.erase(idx);

  std::atomic<int> ready{0};
  std::vector<uint32_t> got[2];
  auto adopter = [&](int who) {
    const uint16_t core = uint16_t(1 + who);
    ready.fetch_add(1);
    const Clock::time_point start = Clock::now();
    while (ready.load() < 2 && !Expired(start, std::chrono::milliseconds(2000))) {
    }
    ScanCursor cursor;
    uint32_t out[16];
    for (int chunk = 0; chunk < 10'000 && cursor.next < s->capacity(); ++chunk) {
      const uint32_t n = s->AdoptFrom(kDead, core, cursor, 37, out);
      got[who].insert(got[who].end(), out, out + n);
    }
  };
  std::thread t0(adopter, 0), t1(adopter, 1);
  t0.join();
  t1.join();

  std::vector<uint32_t> all = got[0];
  all.insert(all.end(), got[1].begin(), got[1].end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "adopted twice";
  EXPECT_EQ(std::set<uint32_t>(all.begin(), all.end()), dead_records);
  for (int who = 0; who < 2; ++who) {
    for (uint32_t idx : got[who]) {
      const Owner o = Unpack(s->OwnerOf(idx));
      EXPECT_EQ(o.core, 1 + who);
      EXPECT_EQ(o.state, OwnerState::kOwned);
    }
  }
  for (uint32_t idx : other_records) EXPECT_EQ(Unpack(s->OwnerOf(idx)).core, kOther);
  EXPECT_EQ(s->Stats().adoptions, dead_records.size());
  // The dead core, if it comes back unfenced, can no longer erase what it lost.
  EXPECT_EQ(s->Erase(kDead, *dead_records.begin()), StoreStatus::kNotOwner);
}

TEST(Ownership, RebalanceMovesTheHashShareThroughHandOff) {
  constexpr uint32_t kN = 1000;
  constexpr uint16_t kFrom = 1, kTo = 2;
  auto s = MakeStore("rebal", kN);
  std::set<uint32_t> expected;
  for (uint32_t n = 0; n < kN; ++n) {
    const uint32_t idx = InsertOwned(*s, kFrom, n);
    if (FlowHash(ClientKey(n)) < (1u << 31)) expected.insert(idx);
  }
  // Run on kFrom between bursts, in chunks.
  ScanCursor cursor;
  std::vector<uint32_t> moved;
  uint32_t out[32];
  for (int chunk = 0; chunk < 10'000 && cursor.next < s->capacity(); ++chunk) {
    const uint32_t n = s->Rebalance(kFrom, kTo, 0.5, cursor, 100, out);
    moved.insert(moved.end(), out, out + n);
  }
  EXPECT_EQ(std::set<uint32_t>(moved.begin(), moved.end()), expected);
  EXPECT_GT(moved.size(), kN * 35 / 100);
  EXPECT_LT(moved.size(), kN * 65 / 100);

  for (uint32_t idx : moved) {
    const Owner o = Unpack(s->OwnerOf(idx));
    EXPECT_EQ(o.core, kTo);
    EXPECT_EQ(o.state, OwnerState::kHandingOff);
    EXPECT_EQ(s->Erase(kFrom, idx), StoreStatus::kNotOwner) << "released: old owner hands off";
    EXPECT_EQ(s->Erase(kTo, idx), StoreStatus::kNotOwner) << "not accepted yet";
  }
  EXPECT_FALSE(s->AcceptHandOff(3, moved.front())) << "only the named core accepts";
  for (uint32_t idx : moved) ASSERT_TRUE(s->AcceptHandOff(kTo, idx));
  for (uint32_t idx : moved) EXPECT_EQ(Unpack(s->OwnerOf(idx)).state, OwnerState::kOwned);
  EXPECT_FALSE(s->AcceptHandOff(kTo, moved.front())) << "accepted once";

  const StateCounters st = s->Stats();
  EXPECT_EQ(st.hand_offs, moved.size());
  EXPECT_EQ(st.rebalanced, moved.size());
  // The same share again moves nothing more: what is left hashes above it.
  ScanCursor again;
  EXPECT_EQ(s->Rebalance(kFrom, kTo, 0.5, again, kN, out), 0u);
  // Share 0 moves nothing, share 1 the rest (in one call here: `out` bounds it).
  ScanCursor none;
  EXPECT_EQ(s->Rebalance(kFrom, kTo, 0.0, none, kN, out), 0u);
  std::vector<uint32_t> rest(kN);
  ScanCursor all;
  EXPECT_EQ(s->Rebalance(kFrom, kTo, 1.0, all, kN, rest), kN - moved.size());
  EXPECT_EQ(all.next, kN);
}

TEST(Heartbeats, StalledCoresOnTheWatchersClock) {
  auto beats = std::make_unique<Heartbeats>();
  StallWatch watch(*beats);
  uint16_t out[8];
  constexpr uint64_t kTimeout = 100'000;
  EXPECT_EQ(watch.StalledCores(0, kTimeout, out), 0u) << "nobody joined";
  beats->Join(1);
  beats->Join(2);
  EXPECT_EQ(watch.StalledCores(0, kTimeout, out), 0u);  // first sight: full timeout from now
  beats->Beat(1);
  EXPECT_EQ(watch.StalledCores(50'000, kTimeout, out), 0u);
  beats->Beat(1);
  ASSERT_EQ(watch.StalledCores(120'000, kTimeout, out), 1u);
  EXPECT_EQ(out[0], 2);
  // A slow core that beats again is alive again.
  beats->Beat(2);
  EXPECT_EQ(watch.StalledCores(130'000, kTimeout, out), 0u);
  ASSERT_EQ(watch.StalledCores(260'000, kTimeout, out), 2u);
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], 2);
  // Fenced (declared dead) and left (clean stop) cores are not reported.
  EXPECT_TRUE(beats->Fence(2));
  EXPECT_FALSE(beats->Fence(2));  // one watcher wins the take-over
  EXPECT_TRUE(beats->Fenced(2));
  beats->Leave(1);
  EXPECT_EQ(watch.StalledCores(400'000, kTimeout, out), 0u);
  // The fenced core notices, drops its state and joins again.
  beats->Join(2);
  EXPECT_FALSE(beats->Fenced(2));
  EXPECT_EQ(watch.StalledCores(410'000, kTimeout, out), 0u);
  EXPECT_EQ(watch.StalledCores(520'000, kTimeout, out), 1u);
  // `out` bounds the report.
  beats->Join(3);
  beats->Join(4);
  (void)watch.StalledCores(520'000, kTimeout, out);
  EXPECT_EQ(watch.StalledCores(700'000, kTimeout, std::span<uint16_t>(out, 2)), 2u);
}

TEST(Heartbeats, BeatsFromAnotherThreadAreSeen) {
  auto beats = std::make_unique<Heartbeats>();
  beats->Join(1);
  StallWatch watch(*beats);
  uint16_t out[4];
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    const Clock::time_point start = Clock::now();
    for (int i = 0; i < 10'000'000 && !stop.load() && !Expired(start, std::chrono::seconds(2));
         ++i)
      beats->Beat(1);
  });
  uint64_t now_us = 0;
  uint32_t stalled = 0;
  for (int i = 0; i < 20; ++i) {  // the worker beats, so never stalled for long
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    now_us += 2000;
    if (stop.load()) break;
    stalled += watch.StalledCores(now_us, 1'000'000, out);
  }
  stop.store(true);
  worker.join();
  EXPECT_EQ(stalled, 0u);
  EXPECT_GT(beats->Count(1), 1u);
}

}  // namespace
}  // namespace baton::dp::state::test
