// SessionStore: records, both flow tables, bulk lookups, the full-table refusal, and
// reclamation under concurrent readers.
#include <atomic>
#include <thread>
#include <vector>

#include "dataplane/proxy/session.h"
#include "tests/state/store_fixture.h"

namespace baton::dp::state::test {
namespace {

constexpr uint16_t kWriter = 0;

TEST(SessionStore, CreateRejectsBadParameters) {
  std::string error;
  EXPECT_EQ(SessionStore::Create({"", 16, 64, -1, 0}, error), nullptr);
  EXPECT_EQ(SessionStore::Create({"zero", 0, 64, -1, 0}, error), nullptr);
  EXPECT_EQ(SessionStore::Create({"name_far_too_long_for_dpdk", 16, 64, -1, 0}, error), nullptr);
  EXPECT_FALSE(error.empty());
  auto a = MakeStore("dup", 16);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(SessionStore::Create({"dup", 16, 64, -1, 0}, error), nullptr) << "name in use";
}

TEST(SessionStore, InsertLookupEraseAndOccupancy) {
  auto s = MakeStore("basic", 32);
  ASSERT_TRUE(s->RegisterCore(kWriter));
  const FlowKey ck = ClientKey(1), bk = BackendKey(1);
  uint32_t idx = SessionStore::kNone;
  ASSERT_EQ(s->Insert(kWriter, MakeRecord(ck, 1), &ck, &bk, idx), StoreStatus::kOk);
  EXPECT_EQ(s->Lookup(Side::kClient, ck), idx);
  EXPECT_EQ(s->Lookup(Side::kBackend, bk), idx);
  EXPECT_EQ(s->Lookup(Side::kClient, bk), SessionStore::kNone) << "the tables are separate";
  EXPECT_TRUE(Intact(s->As<TestRecord>(idx), ck));
  ASSERT_NE(s->KeyOf(idx, Side::kBackend), nullptr);
  EXPECT_EQ(*s->KeyOf(idx, Side::kBackend), bk);
  const Owner o = Unpack(s->OwnerOf(idx));
  EXPECT_EQ(o.core, kWriter);
  EXPECT_EQ(o.state, OwnerState::kOwned);

  StateCounters st = s->Stats();
  EXPECT_EQ(st.capacity, 32u);
  EXPECT_EQ(st.occupancy, 1u);
  EXPECT_EQ(st.inserts, 1u);
  EXPECT_EQ(st.client_keys, 1u);
  EXPECT_EQ(st.backend_keys, 1u);

  EXPECT_EQ(s->Erase(kWriter + 1, idx), StoreStatus::kNotOwner);
  ASSERT_EQ(s->Erase(kWriter, idx), StoreStatus::kOk);
  EXPECT_EQ(s->Lookup(Side::kClient, ck), SessionStore::kNone);
  EXPECT_EQ(s->Lookup(Side::kBackend, bk), SessionStore::kNone);
  EXPECT_EQ(Unpack(s->OwnerOf(idx)).state, OwnerState::kFree);
  st = s->Stats();
  EXPECT_EQ(st.occupancy, 1u) << "held until a grace period has passed";
  EXPECT_EQ(st.pending_reclaim, 1u);

  s->Quiescent(kWriter);
  EXPECT_EQ(s->Reclaim(kWriter, 64), 1u);
  st = s->Stats();
  EXPECT_EQ(st.occupancy, 0u);
  EXPECT_EQ(st.pending_reclaim, 0u);
  EXPECT_EQ(st.client_keys, 0u);
  EXPECT_EQ(st.backend_keys, 0u);
}

TEST(SessionStore, OneKeyThenTheOtherAndKeyReplacement) {
  auto s = MakeStore("keys", 8);
  ASSERT_TRUE(s->RegisterCore(kWriter));
  const FlowKey ck = ClientKey(7);
  uint32_t idx;
  ASSERT_EQ(s->Insert(kWriter, MakeRecord(ck, 7), &ck, nullptr, idx), StoreStatus::kOk);
  EXPECT_EQ(s->KeyOf(idx, Side::kBackend), nullptr);
  EXPECT_EQ(s->RemoveKey(kWriter, idx, Side::kBackend), StoreStatus::kNoKey);
  // Backend chosen later; then a retry on another backend replaces the backend flow.
  ASSERT_EQ(s->AddKey(kWriter, idx, Side::kBackend, BackendKey(1)), StoreStatus::kOk);
  EXPECT_EQ(s->AddKey(kWriter, idx, Side::kBackend, BackendKey(2)), StoreStatus::kKeyExists);
  ASSERT_EQ(s->RemoveKey(kWriter, idx, Side::kBackend), StoreStatus::kOk);
  ASSERT_EQ(s->AddKey(kWriter, idx, Side::kBackend, BackendKey(2)), StoreStatus::kOk);
  EXPECT_EQ(s->Lookup(Side::kBackend, BackendKey(1)), SessionStore::kNone);
  EXPECT_EQ(s->Lookup(Side::kBackend, BackendKey(2)), idx);
  EXPECT_EQ(s->AddKey(kWriter + 1, idx, Side::kClient, ClientKey(8)), StoreStatus::kNotOwner);
}

TEST(SessionStore, BulkLookupEqualsSingleLookups) {
  constexpr uint32_t kN = 300;
  auto s = MakeStore("bulk", kN);
  ASSERT_TRUE(s->RegisterCore(kWriter));
  for (uint32_t n = 0; n < kN; n += 2) {  // even flows only
    const FlowKey ck = ClientKey(n), bk = BackendKey(n);
    uint32_t idx;
    ASSERT_EQ(s->Insert(kWriter, MakeRecord(ck, n), &ck, &bk, idx), StoreStatus::kOk);
  }
  // 150 keys: spans three rte_hash bulk calls (64 + 64 + 22), hits and misses mixed.
  std::vector<FlowKey> keys;
  for (uint32_t n = 0; n < 150; ++n) keys.push_back(ClientKey(n * 3 % kN));
  std::vector<uint32_t> out(keys.size(), 12345);
  const uint32_t hits = s->LookupBulk(Side::kClient, keys, out);
  uint32_t expect_hits = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint32_t single = s->Lookup(Side::kClient, keys[i]);
    EXPECT_EQ(out[i], single) << "key " << i;
    if (single != SessionStore::kNone) {
      ++expect_hits;
      EXPECT_TRUE(Intact(s->As<TestRecord>(single), keys[i]));
    }
  }
  EXPECT_EQ(hits, expect_hits);
  EXPECT_EQ(hits, 75u);  // n*3 even <=> n even
  // Backend side and an empty burst.
  std::vector<FlowKey> bkeys = {BackendKey(2), BackendKey(3), BackendKey(4)};
  std::vector<uint32_t> bout(3);
  EXPECT_EQ(s->LookupBulk(Side::kBackend, bkeys, bout), 2u);
  EXPECT_EQ(bout[1], SessionStore::kNone);
  EXPECT_EQ(bout[0], s->Lookup(Side::kClient, ClientKey(2)));
  EXPECT_EQ(s->LookupBulk(Side::kClient, {}, out), 0u);
}

TEST(SessionStore, FullTableRefusesAndLeavesOldEntriesIntact) {
  constexpr uint32_t kCap = 64;
  auto s = MakeStore("full", kCap);
  ASSERT_TRUE(s->RegisterCore(kWriter));
  std::vector<uint32_t> idx(kCap);
  for (uint32_t n = 0; n < kCap; ++n) {
    const FlowKey ck = ClientKey(n), bk = BackendKey(n);
    ASSERT_EQ(s->Insert(kWriter, MakeRecord(ck, n), &ck, &bk, idx[n]), StoreStatus::kOk) << n;
  }
  const FlowKey extra = ClientKey(1000);
  uint32_t got = 0;
  EXPECT_EQ(s->Insert(kWriter, MakeRecord(extra, 1000), &extra, nullptr, got),
            StoreStatus::kTableFull);
  EXPECT_EQ(got, SessionStore::kNone);
  EXPECT_EQ(s->Lookup(Side::kClient, extra), SessionStore::kNone);
  // A duplicate flow is refused too, without touching the existing mapping.
  ASSERT_EQ(s->Erase(kWriter, idx[0]), StoreStatus::kOk);
  s->Quiescent(kWriter);
  ASSERT_EQ(s->Reclaim(kWriter, 64), 1u);
  const FlowKey dup = ClientKey(5);
  EXPECT_EQ(s->Insert(kWriter, MakeRecord(dup, 99), &dup, nullptr, got), StoreStatus::kKeyExists);
  EXPECT_EQ(s->Lookup(Side::kClient, dup), idx[5]);

  const StateCounters st = s->Stats();
  EXPECT_EQ(st.table_full, 1u);
  EXPECT_EQ(st.key_exists, 1u);
  for (uint32_t n = 1; n < kCap; ++n) {
    ASSERT_EQ(s->Lookup(Side::kClient, ClientKey(n)), idx[n]);
    ASSERT_EQ(s->Lookup(Side::kBackend, BackendKey(n)), idx[n]);
    ASSERT_TRUE(Intact(s->As<TestRecord>(idx[n]), ClientKey(n)));
    ASSERT_EQ(s->As<TestRecord>(idx[n]).seq, n);
  }
}

// The intended record: today's proxy Session, found from both of its flows.
TEST(SessionStore, HoldsProxySessions) {
  auto s = MakeStore("proxy", 16, sizeof(dp::Session));
  ASSERT_TRUE(s->RegisterCore(kWriter));
  dp::Session in{};
  in.client_flow = ClientKey(3);
  in.backend_flow = BackendKey(3);
  in.client.snd_nxt = tcp::SeqNum(12345);
  in.backend_index = 7;
  uint32_t idx;
  ASSERT_EQ(s->Insert(kWriter, in, &in.client_flow, &in.backend_flow, idx), StoreStatus::kOk);
  const uint32_t via_backend = s->Lookup(Side::kBackend, in.backend_flow);
  ASSERT_EQ(via_backend, idx);
  const dp::Session& out = s->As<dp::Session>(via_backend);
  EXPECT_EQ(out.client_flow, in.client_flow);
  EXPECT_EQ(out.client.snd_nxt, tcp::SeqNum(12345));
  EXPECT_EQ(out.backend_index, 7);
}

TEST(SessionStore, RecordTypeLargerThanSlotIsRefused) {
  auto s = MakeStore("small", 4, 16);
  ASSERT_TRUE(s->RegisterCore(kWriter));
  const FlowKey ck = ClientKey(1);
  uint32_t idx;
  EXPECT_EQ(s->Insert(kWriter, MakeRecord(ck, 1), &ck, nullptr, idx), StoreStatus::kTooBig);
  EXPECT_EQ(s->Stats().occupancy, 0u);
}

// A reader that holds an index across an erase sees the record valid until it reports
// quiescent; only then can the index be reused.
TEST(SessionStore, ReclamationWaitsForAReaderHoldingTheIndex) {
  constexpr uint16_t kReader = 1;
  auto s = MakeStore("reclaim", 1);
  ASSERT_TRUE(s->RegisterCore(kWriter));
  ASSERT_TRUE(s->RegisterCore(kReader));
  const FlowKey ck = ClientKey(1);
  uint32_t idx;
  ASSERT_EQ(s->Insert(kWriter, MakeRecord(ck, 1), &ck, nullptr, idx), StoreStatus::kOk);
  s->Quiescent(kReader);  // an earlier burst

  const uint32_t held = s->Lookup(Side::kClient, ck);  // the reader's burst starts
  ASSERT_EQ(held, idx);
  ASSERT_EQ(s->Erase(kWriter, idx), StoreStatus::kOk);
  s->Quiescent(kWriter);
  EXPECT_EQ(s->Reclaim(kWriter, 64), 0u);
  const FlowKey other = ClientKey(2);
  uint32_t got;
  EXPECT_EQ(s->Insert(kWriter, MakeRecord(other, 2), &other, nullptr, got),
            StoreStatus::kTableFull)
      << "the only index is still held by the reader";
  EXPECT_TRUE(Intact(s->As<TestRecord>(held), ck));

  s->Quiescent(kReader);  // the reader's burst ends
  EXPECT_EQ(s->Reclaim(kWriter, 64), 1u);
  ASSERT_EQ(s->Insert(kWriter, MakeRecord(other, 2), &other, nullptr, got), StoreStatus::kOk);
  EXPECT_EQ(got, idx);

  // An offline core (idle) and a forgotten one (dead) do not hold up grace periods.
  s->Offline(kReader);
  ASSERT_EQ(s->Erase(kWriter, got), StoreStatus::kOk);
  s->Quiescent(kWriter);
  EXPECT_EQ(s->Reclaim(kWriter, 64), 1u);
  s->Online(kReader);
  ASSERT_EQ(s->Insert(kWriter, MakeRecord(ck, 3), &ck, nullptr, got), StoreStatus::kOk);
  ASSERT_EQ(s->Erase(kWriter, got), StoreStatus::kOk);
  s->Quiescent(kWriter);
  EXPECT_EQ(s->Reclaim(kWriter, 64), 0u);
  s->ForgetCore(kReader);
  EXPECT_EQ(s->Reclaim(kWriter, 64), 1u);
}

// One writer churns (insert, erase, reclaim, reuse) while readers look up bursts and
// check every record they find against the key they looked up.
TEST(SessionStore, ConcurrentReadersNeverSeeAWrongOrTornRecord) {
  constexpr uint32_t kCap = 128;
  constexpr uint32_t kLive = 96;  // flows live at a time: the rest churns through reuse
  constexpr uint16_t kReaders = 2;
  constexpr auto kTimeLimit = std::chrono::milliseconds(1500);
  constexpr uint32_t kInserts = 4'000;  // ~30 reuses of every index, unless time runs out
  constexpr uint64_t kMinPasses = 4'000;
  constexpr uint32_t kMaxOps = 400'000;
  auto s = MakeStore("churn", kCap);
  ASSERT_TRUE(s->RegisterCore(kWriter));
  for (uint16_t r = 1; r <= kReaders; ++r) ASSERT_TRUE(s->RegisterCore(r));

  std::atomic<uint32_t> newest{0};  // flows [newest - kLive, newest) are (about) live
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, checked{0}, passes{0};
  const Clock::time_point start = Clock::now();

  auto reader = [&](uint16_t core) {
    std::vector<FlowKey> keys(32);
    std::vector<uint32_t> out(keys.size());
    uint32_t round = 0;
    for (uint32_t pass = 0; pass < 1'000'000 && !stop.load(std::memory_order_relaxed);
         ++pass) {
      const uint32_t hi = newest.load(std::memory_order_relaxed);
      for (uint32_t i = 0; i < keys.size(); ++i)  // live, just erased and not yet inserted
        keys[i] = ClientKey(hi + 8 - (round++ % (kLive + 16)));
      s->LookupBulk(Side::kClient, keys, out);
      for (uint32_t i = 0; i < keys.size(); ++i) {
        if (out[i] == SessionStore::kNone) continue;
        checked.fetch_add(1, std::memory_order_relaxed);
        if (!Intact(s->As<TestRecord>(out[i]), keys[i])) bad.fetch_add(1);
      }
      s->Quiescent(core);  // burst boundary: indices above are no longer held
      passes.fetch_add(1, std::memory_order_relaxed);
    }
    s->UnregisterCore(core);
  };
  std::vector<std::thread> threads;
  for (uint16_t r = 1; r <= kReaders; ++r) threads.emplace_back(reader, r);

  std::vector<uint32_t> idx_of(kMaxOps, SessionStore::kNone);
  uint32_t next = 0, oldest = 0, full = 0;
  // Until enough churn and enough reader passes overlapped it, bounded by ops and time.
  auto enough = [&] { return next >= kInserts && passes.load() >= kMinPasses; };
  for (uint32_t op = 0; op < kMaxOps && !enough() && !Expired(start, kTimeLimit); ++op) {
    if (next - oldest >= kLive) {
      ASSERT_EQ(s->Erase(kWriter, idx_of[oldest]), StoreStatus::kOk);
      ++oldest;
    }
    const FlowKey ck = ClientKey(next);
    uint32_t idx;
    const StoreStatus st = s->Insert(kWriter, MakeRecord(ck, next), &ck, nullptr, idx);
    if (st == StoreStatus::kOk) {
      idx_of[next++] = idx;
      newest.store(next, std::memory_order_relaxed);
    } else {
      ASSERT_EQ(st, StoreStatus::kTableFull);  // readers behind: grace periods pending
      ++full;
      std::this_thread::yield();
    }
    if (op % 8 == 0 || st != StoreStatus::kOk) {
      s->Quiescent(kWriter);
      (void)s->Reclaim(kWriter, 64);
    }
  }
  stop.store(true);
  for (auto& t : threads) t.join();

  const StateCounters st = s->Stats();
  EXPECT_EQ(bad.load(), 0u) << "a reader saw a record that is not its key's";
  EXPECT_GT(checked.load(), 1000u);
  EXPECT_GT(st.reclaimed, uint64_t(kCap)) << "indices were reused";
  EXPECT_EQ(st.table_full, full);
  // What is live now is exactly what the writer kept.
  for (uint32_t n = oldest; n < next; ++n) {
    ASSERT_EQ(s->Lookup(Side::kClient, ClientKey(n)), idx_of[n]);
    ASSERT_TRUE(Intact(s->As<TestRecord>(idx_of[n]), ClientKey(n)));
  }
}

}  // namespace
}  // namespace baton::dp::state::test
