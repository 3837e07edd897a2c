#include "dataplane/state/session_store.h"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_spinlock.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace baton::dp::state {
namespace {

// DPDK lcore ids must fit our per-core arrays.
static_assert(kMaxCores >= RTE_MAX_LCORE);
// rte_hash compares raw key bytes: a key with padding could differ in bytes while equal.
static_assert(std::has_unique_object_representations_v<FlowKey> && sizeof(FlowKey) == 12);
static_assert(SessionStore::kMaxBulk == RTE_HASH_LOOKUP_BULK_MAX);

// What waits on the defer ring for a grace period.
enum DeferKind : uint8_t { kDeferIndex, kDeferClientPos, kDeferBackendPos };
struct DeferItem {
  uint64_t token;  // rte_rcu_qsbr_start() after the unlink
  uint32_t value;  // record index or rte_hash key position
  uint8_t kind;
  uint8_t pad[3];
};
static_assert(sizeof(DeferItem) == 16);

constexpr uint32_t kReclaimBatch = 32;
constexpr uint32_t kHashMinEntries = 8;  // rte_hash refuses fewer than one bucket's worth
constexpr size_t kNameMax = 16;  // rte_hash/rte_ring prefix their own names; keep room

rte_spinlock_t* Locks(void* p) noexcept { return static_cast<rte_spinlock_t*>(p); }

// CRC32-C over the 12 key bytes, copied to aligned words first: rte_hash_crc() loads
// 8 bytes at a time from the key pointer, and a FlowKey is only 4-byte aligned.
uint32_t FlowKeyHash(const void* key, uint32_t /*key_len*/, uint32_t init) {
  uint32_t w[3];
  std::memcpy(w, key, sizeof(w));
  return rte_hash_crc_4byte(w[2], rte_hash_crc_4byte(w[1], rte_hash_crc_4byte(w[0], init)));
}

}  // namespace

std::unique_ptr<SessionStore> SessionStore::Create(const StoreConfig& cfg, std::string& error) {
  if (cfg.name.empty() || cfg.name.size() > kNameMax) {
    error = "session store name must be 1.." + std::to_string(kNameMax) + " characters";
    return nullptr;
  }
  if (cfg.capacity == 0 || cfg.capacity > (1u << 30) || cfg.record_bytes == 0) {
    error = "session store capacity must be 1..2^30 and record_bytes > 0";
    return nullptr;
  }
  std::unique_ptr<SessionStore> s(new SessionStore());
  s->name_ = cfg.name;
  s->capacity_ = cfg.capacity;
  s->record_bytes_ = cfg.record_bytes;
  s->slot_bytes_ = kHeaderBytes + RTE_ALIGN_CEIL(cfg.record_bytes, RTE_CACHE_LINE_SIZE);
  s->box_ = cfg.box;
  const int socket = cfg.socket_id < 0 ? SOCKET_ID_ANY : cfg.socket_id;
  auto fail = [&](const char* what) {
    error = std::string("session store '") + cfg.name + "': " + what + ": " +
            rte_strerror(rte_errno);
    return nullptr;
  };

  // Records: hugepage memory when the EAL has it, anonymous memory under --no-huge.
  s->slots_ = static_cast<uint8_t*>(rte_zmalloc_socket(
      ("rec_" + cfg.name).c_str(), size_t(cfg.capacity) * s->slot_bytes_, RTE_CACHE_LINE_SIZE,
      socket));
  if (s->slots_ == nullptr) return fail("record array");
  const OwnerWord free_word = Pack(Owner{0, kNoCore, cfg.box, OwnerState::kFree});
  for (uint32_t i = 0; i < cfg.capacity; ++i) {
    SlotHeader* h = new (s->SlotAt(i)) SlotHeader{};
    h->owner.store(free_word.raw, std::memory_order_relaxed);
  }

  void* counters = rte_zmalloc_socket(("cnt_" + cfg.name).c_str(),
                                      sizeof(CoreCounters) * kMaxCores, RTE_CACHE_LINE_SIZE, socket);
  if (counters == nullptr) return fail("counters");
  s->counters_ = static_cast<CoreCounters*>(counters);
  for (uint16_t c = 0; c < kMaxCores; ++c) new (&s->counters_[c]) CoreCounters{};

  s->hash_lock_ = rte_zmalloc_socket(("lck_" + cfg.name).c_str(),
                                     sizeof(rte_spinlock_t) * size_t(Side::kCount),
                                     RTE_CACHE_LINE_SIZE, socket);
  if (s->hash_lock_ == nullptr) return fail("locks");
  for (size_t i = 0; i < size_t(Side::kCount); ++i) rte_spinlock_init(&Locks(s->hash_lock_)[i]);

  const size_t qsbr_bytes = rte_rcu_qsbr_get_memsize(kMaxCores);
  s->qsbr_ = static_cast<rte_rcu_qsbr*>(
      rte_zmalloc_socket(("qs_" + cfg.name).c_str(), qsbr_bytes, RTE_CACHE_LINE_SIZE, socket));
  if (s->qsbr_ == nullptr || rte_rcu_qsbr_init(s->qsbr_, kMaxCores) != 0) return fail("qsbr");

  s->free_ = rte_ring_create_elem(("fr_" + cfg.name).c_str(), sizeof(uint32_t), cfg.capacity,
                                  socket, RING_F_EXACT_SZ);
  if (s->free_ == nullptr) return fail("free ring");
  for (uint32_t i = 0; i < cfg.capacity;) {
    uint32_t batch[64];
    const uint32_t n = std::min<uint32_t>(64, cfg.capacity - i);
    for (uint32_t k = 0; k < n; ++k) batch[k] = i + k;
    if (rte_ring_enqueue_bulk_elem(s->free_, batch, sizeof(uint32_t), n, nullptr) != n)
      return fail("free ring fill");
    i += n;
  }
  // At most one index per record and one key position per hash slot wait at a time.
  s->defer_ = rte_ring_create_elem(("df_" + cfg.name).c_str(), sizeof(DeferItem),
                                   3 * cfg.capacity + 64, socket, RING_F_EXACT_SZ);
  if (s->defer_ == nullptr) return fail("defer ring");

  static constexpr const char* kPrefix[] = {"cl_", "be_"};
  for (size_t side = 0; side < size_t(Side::kCount); ++side) {
    const std::string hname = kPrefix[side] + cfg.name;
    rte_hash_parameters p{};
    p.name = hname.c_str();
    p.entries = std::max(cfg.capacity, kHashMinEntries);
    p.key_len = sizeof(FlowKey);
    p.hash_func = FlowKeyHash;
    p.hash_func_init_val = 0;
    p.socket_id = socket;
    // Lock-free readers; extendable buckets so that `capacity` keys always fit (no cuckoo
    // path failure near full load). Writers serialise on our lock (see the header).
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    s->hash_[side] = rte_hash_create(&p);
    if (s->hash_[side] == nullptr) return fail("rte_hash");
  }
  return s;
}

SessionStore::~SessionStore() {
  for (rte_hash* h : hash_) rte_hash_free(h);
  rte_ring_free(defer_);
  rte_ring_free(free_);
  rte_free(qsbr_);
  rte_free(hash_lock_);
  rte_free(counters_);
  rte_free(slots_);
}

// ---- Cores ------------------------------------------------------------------------

bool SessionStore::RegisterCore(uint16_t core) noexcept {
  if (core >= kMaxCores || rte_rcu_qsbr_thread_register(qsbr_, core) != 0) return false;
  rte_rcu_qsbr_thread_online(qsbr_, core);
  return true;
}

void SessionStore::UnregisterCore(uint16_t core) noexcept {
  rte_rcu_qsbr_thread_offline(qsbr_, core);
  (void)rte_rcu_qsbr_thread_unregister(qsbr_, core);
}

void SessionStore::Quiescent(uint16_t core) noexcept { rte_rcu_qsbr_quiescent(qsbr_, core); }
void SessionStore::Offline(uint16_t core) noexcept { rte_rcu_qsbr_thread_offline(qsbr_, core); }
void SessionStore::Online(uint16_t core) noexcept { rte_rcu_qsbr_thread_online(qsbr_, core); }

// The dead core cannot report; mark its counter offline for it (a plain release store
// of the offline value) and drop it from the set. If it was only slow, it sees
// Heartbeats::Fenced() at its next burst boundary and registers again.
void SessionStore::ForgetCore(uint16_t core) noexcept { UnregisterCore(core); }

// ---- Records ----------------------------------------------------------------------

bool SessionStore::OwnedBy(uint32_t idx, uint16_t core) const noexcept {
  const Owner o = Unpack(OwnerOf(idx));
  return o.core == core && o.state == OwnerState::kOwned;
}

StoreStatus SessionStore::Allocate(uint16_t core, uint32_t& idx) noexcept {
  CoreCounters& cnt = counters_[core];
  if (rte_ring_mc_dequeue_elem(free_, &idx, sizeof(uint32_t)) != 0) {
    (void)Reclaim(core, 2 * kReclaimBatch);
    if (rte_ring_mc_dequeue_elem(free_, &idx, sizeof(uint32_t)) != 0) {
      cnt.table_full.fetch_add(1, std::memory_order_relaxed);
      idx = kNone;
      return StoreStatus::kTableFull;
    }
  }
  SlotHeader& h = Header(idx);
  h.has_key[0] = h.has_key[1] = false;
  // Nobody else writes a free word (TryClaim and AdoptFrom skip kFree), so a store is
  // enough. Release: pairs with OwnerOf()'s acquire.
  const OwnerWord w{h.owner.load(std::memory_order_relaxed)};
  h.owner.store(Next(w, core, box_, OwnerState::kOwned).raw, std::memory_order_release);
  cnt.inserts.fetch_add(1, std::memory_order_relaxed);
  return StoreStatus::kOk;
}

StoreStatus SessionStore::AddKey(uint16_t core, uint32_t idx, Side side,
                                 const FlowKey& key) noexcept {
  if (!OwnedBy(idx, core)) return StoreStatus::kNotOwner;
  SlotHeader& h = Header(idx);
  const size_t s = size_t(side);
  if (h.has_key[s]) return StoreStatus::kKeyExists;  // RemoveKey() first
  CoreCounters& cnt = counters_[core];
  for (int attempt = 0; attempt < 2; ++attempt) {
    rte_spinlock_t* lock = &Locks(hash_lock_)[s];
    rte_spinlock_lock(lock);
    // Under the lock, so that the check and the add are one step for all writers.
    if (rte_hash_lookup(hash_[s], &key) >= 0) {
      rte_spinlock_unlock(lock);
      cnt.key_exists.fetch_add(1, std::memory_order_relaxed);
      return StoreStatus::kKeyExists;
    }
    // rte_hash (LF mode) stores the data and then the key index with release order:
    // a reader that finds the key sees the record written before this call.
    const int r = rte_hash_add_key_data(hash_[s], &key,
                                        reinterpret_cast<void*>(uintptr_t(idx)));
    rte_spinlock_unlock(lock);
    if (r == 0) {
      h.key[s] = key;
      h.has_key[s] = true;
      return StoreStatus::kOk;
    }
    // -ENOSPC: slots may be waiting for a grace period; one reclaim pass, then give up.
    (void)Reclaim(core, 2 * kReclaimBatch);
  }
  cnt.hash_full.fetch_add(1, std::memory_order_relaxed);
  return StoreStatus::kHashFull;
}

void SessionStore::Unlink(uint16_t core, uint32_t idx, Side side, uint64_t& token) noexcept {
  SlotHeader& h = Header(idx);
  const size_t s = size_t(side);
  if (!h.has_key[s]) return;
  rte_spinlock_t* lock = &Locks(hash_lock_)[s];
  rte_spinlock_lock(lock);
  const int32_t pos = rte_hash_del_key(hash_[s], &h.key[s]);
  rte_spinlock_unlock(lock);
  h.has_key[s] = false;
  if (pos < 0) return;  // not in the table (cannot happen while has_key is true)
  // The token is taken after the unlink: a reader that can still hold the key's slot
  // has not been quiescent since before this point.
  if (token == 0) token = rte_rcu_qsbr_start(qsbr_);
  Defer(core, side == Side::kClient ? kDeferClientPos : kDeferBackendPos, uint32_t(pos), token);
}

StoreStatus SessionStore::RemoveKey(uint16_t core, uint32_t idx, Side side) noexcept {
  if (!OwnedBy(idx, core)) return StoreStatus::kNotOwner;
  if (!Header(idx).has_key[size_t(side)]) return StoreStatus::kNoKey;
  uint64_t token = 0;
  Unlink(core, idx, side, token);
  return StoreStatus::kOk;
}

StoreStatus SessionStore::Erase(uint16_t core, uint32_t idx) noexcept {
  SlotHeader& h = Header(idx);
  uint64_t w = h.owner.load(std::memory_order_acquire);
  const Owner o = Unpack(OwnerWord{w});
  if (o.core != core || o.state != OwnerState::kOwned) return StoreStatus::kNotOwner;
  // CAS, not store: an adopter that declared us dead may have taken it meanwhile.
  if (!h.owner.compare_exchange_strong(
          w, Next(OwnerWord{w}, kNoCore, box_, OwnerState::kFree).raw,
          std::memory_order_acq_rel, std::memory_order_acquire))
    return StoreStatus::kNotOwner;
  uint64_t token = 0;
  Unlink(core, idx, Side::kClient, token);
  Unlink(core, idx, Side::kBackend, token);
  if (token == 0) token = rte_rcu_qsbr_start(qsbr_);
  Defer(core, kDeferIndex, idx, token);
  counters_[core].erases.fetch_add(1, std::memory_order_relaxed);
  return StoreStatus::kOk;
}

void SessionStore::Defer(uint16_t core, uint8_t kind, uint32_t value, uint64_t token) noexcept {
  DeferItem item{token, value, kind, {}};
  if (rte_ring_mp_enqueue_elem(defer_, &item, sizeof(DeferItem)) == 0) return;
  // Cannot happen (the ring holds every index and every key slot at once); if it did,
  // wait out the grace period here rather than leak or reuse too early. Passing our own
  // id marks us quiescent, which the caller (between sessions of a burst) can afford.
  rte_rcu_qsbr_synchronize(qsbr_, core);
  if (kind == kDeferIndex) {
    (void)rte_ring_mp_enqueue_elem(free_, &value, sizeof(uint32_t));
  } else {
    const size_t s = kind == kDeferClientPos ? 0 : 1;
    rte_spinlock_lock(&Locks(hash_lock_)[s]);
    (void)rte_hash_free_key_with_position(hash_[s], int32_t(value));
    rte_spinlock_unlock(&Locks(hash_lock_)[s]);
  }
}

uint32_t SessionStore::Reclaim(uint16_t core, uint32_t max) noexcept {
  uint32_t records = 0;
  for (uint32_t seen = 0; seen < max;) {
    DeferItem items[kReclaimBatch];
    const uint32_t n = rte_ring_mc_dequeue_burst_elem(
        defer_, items, sizeof(DeferItem), std::min(kReclaimBatch, max - seen), nullptr);
    if (n == 0) break;
    seen += n;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < n; ++i) {
      DeferItem& it = items[i];
      if (rte_rcu_qsbr_check(qsbr_, it.token, false) != 1) {
        items[keep++] = items[i];
        continue;
      }
      if (it.kind == kDeferIndex) {
        (void)rte_ring_mp_enqueue_elem(free_, &it.value, sizeof(uint32_t));
        ++records;
      } else {
        const size_t s = it.kind == kDeferClientPos ? 0 : 1;
        rte_spinlock_lock(&Locks(hash_lock_)[s]);
        (void)rte_hash_free_key_with_position(hash_[s], int32_t(it.value));
        rte_spinlock_unlock(&Locks(hash_lock_)[s]);
      }
    }
    // Still in their grace period: back to the tail (order does not matter, each item
    // carries its own token; the ring has room for every item at once).
    if (keep > 0) {
      (void)rte_ring_mp_enqueue_bulk_elem(defer_, items, sizeof(DeferItem), keep, nullptr);
      break;  // what follows is younger still
    }
  }
  if (records > 0) counters_[core].reclaimed.fetch_add(records, std::memory_order_relaxed);
  return records;
}

// ---- Lookups ----------------------------------------------------------------------

uint32_t SessionStore::Lookup(Side side, const FlowKey& key) const noexcept {
  void* data = nullptr;
  if (rte_hash_lookup_data(hash_[size_t(side)], &key, &data) < 0) return kNone;
  return uint32_t(reinterpret_cast<uintptr_t>(data));
}

uint32_t SessionStore::LookupBulk(Side side, std::span<const FlowKey> keys,
                                  std::span<uint32_t> out) const noexcept {
  uint32_t hits = 0;
  for (size_t off = 0; off < keys.size(); off += kMaxBulk) {
    const uint32_t n = uint32_t(std::min<size_t>(kMaxBulk, keys.size() - off));
    const void* ptrs[kMaxBulk];
    void* data[kMaxBulk];
    for (uint32_t i = 0; i < n; ++i) ptrs[i] = &keys[off + i];
    uint64_t hit_mask = 0;
    if (rte_hash_lookup_bulk_data(hash_[size_t(side)], ptrs, n, &hit_mask, data) < 0)
      hit_mask = 0;  // only on bad arguments
    for (uint32_t i = 0; i < n; ++i) {
      const bool hit = (hit_mask >> i) & 1;
      out[off + i] = hit ? uint32_t(reinterpret_cast<uintptr_t>(data[i])) : kNone;
      hits += hit;
    }
  }
  return hits;
}

const FlowKey* SessionStore::KeyOf(uint32_t idx, Side side) const noexcept {
  const SlotHeader& h = Header(idx);
  return h.has_key[size_t(side)] ? &h.key[size_t(side)] : nullptr;
}

// ---- Ownership --------------------------------------------------------------------

bool SessionStore::TryClaim(uint16_t core, uint32_t idx, OwnerWord& expected) noexcept {
  CoreCounters& cnt = counters_[core];
  if (Unpack(expected).state == OwnerState::kFree) {  // only Allocate() takes free records
    expected = OwnerOf(idx);
    cnt.stale_claims.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  uint64_t w = expected.raw;
  if (Header(idx).owner.compare_exchange_strong(
          w, Next(expected, core, box_, OwnerState::kOwned).raw, std::memory_order_acq_rel,
          std::memory_order_acquire)) {
    cnt.claims.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  expected = OwnerWord{w};
  cnt.stale_claims.fetch_add(1, std::memory_order_relaxed);
  return false;
}

uint32_t SessionStore::AdoptFrom(uint16_t dead, uint16_t core, ScanCursor& cursor,
                                 uint32_t max_scan, std::span<uint32_t> out) noexcept {
  const uint32_t end = uint32_t(std::min<uint64_t>(capacity_, uint64_t(cursor.next) + max_scan));
  uint32_t n = 0;
  uint32_t i = cursor.next;
  for (; i < end && n < out.size(); ++i) {
    std::atomic<uint64_t>& word = Header(i).owner;
    uint64_t w = word.load(std::memory_order_acquire);
    // Retry only while the word still names `dead`: a failed CAS then means a competing
    // adopter won (the word names it now) and we move on.
    for (Owner o = Unpack(OwnerWord{w}); o.core == dead && o.state != OwnerState::kFree;
         o = Unpack(OwnerWord{w})) {
      if (word.compare_exchange_weak(w, Next(OwnerWord{w}, core, box_, OwnerState::kOwned).raw,
                                     std::memory_order_acq_rel, std::memory_order_acquire)) {
        out[n++] = i;
        break;
      }
    }
  }
  cursor.next = i;
  if (n > 0) counters_[core].adoptions.fetch_add(n, std::memory_order_relaxed);
  return n;
}

bool SessionStore::HandOff(uint16_t from, uint32_t idx, uint16_t to) noexcept {
  std::atomic<uint64_t>& word = Header(idx).owner;
  uint64_t w = word.load(std::memory_order_acquire);
  const Owner o = Unpack(OwnerWord{w});
  if (o.core != from || o.state != OwnerState::kOwned) return false;
  // Release: the new owner, after its acquire, sees everything `from` wrote.
  if (!word.compare_exchange_strong(w, Next(OwnerWord{w}, to, box_, OwnerState::kHandingOff).raw,
                                    std::memory_order_acq_rel, std::memory_order_acquire))
    return false;
  counters_[from].hand_offs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool SessionStore::InShare(uint32_t idx, double share) const noexcept {
  const uint64_t threshold = share <= 0   ? 0
                             : share >= 1 ? uint64_t(1) << 32
                                          : uint64_t(share * 4294967296.0);
  const SlotHeader& h = Header(idx);
  const uint32_t hash = h.has_key[0] ? FlowHash(h.key[0]) : FlowHash(FlowKey{idx, 0, 0, 0});
  return hash < threshold;
}

uint32_t SessionStore::Rebalance(uint16_t from, uint16_t to, double share, ScanCursor& cursor,
                                 uint32_t max_scan, std::span<uint32_t> out) noexcept {
  const uint32_t end = uint32_t(std::min<uint64_t>(capacity_, uint64_t(cursor.next) + max_scan));
  uint32_t n = 0;
  uint32_t i = cursor.next;
  for (; i < end && n < out.size(); ++i) {
    if (OwnedBy(i, from) && InShare(i, share) && HandOff(from, i, to)) out[n++] = i;
  }
  cursor.next = i;
  return n;
}

bool SessionStore::AcceptHandOff(uint16_t core, uint32_t idx) noexcept {
  std::atomic<uint64_t>& word = Header(idx).owner;
  uint64_t w = word.load(std::memory_order_acquire);
  const Owner o = Unpack(OwnerWord{w});
  if (o.core != core || o.state != OwnerState::kHandingOff) return false;
  if (!word.compare_exchange_strong(w, Next(OwnerWord{w}, core, box_, OwnerState::kOwned).raw,
                                    std::memory_order_acq_rel, std::memory_order_acquire))
    return false;
  counters_[core].rebalanced.fetch_add(1, std::memory_order_relaxed);
  return true;
}

StateCounters SessionStore::Stats() const noexcept {
  StateCounters s;
  for (uint16_t c = 0; c < kMaxCores; ++c) {
    const CoreCounters& k = counters_[c];
    constexpr auto r = std::memory_order_relaxed;
    s.inserts += k.inserts.load(r);
    s.erases += k.erases.load(r);
    s.reclaimed += k.reclaimed.load(r);
    s.table_full += k.table_full.load(r);
    s.hash_full += k.hash_full.load(r);
    s.key_exists += k.key_exists.load(r);
    s.adoptions += k.adoptions.load(r);
    s.hand_offs += k.hand_offs.load(r);
    s.rebalanced += k.rebalanced.load(r);
    s.claims += k.claims.load(r);
    s.stale_claims += k.stale_claims.load(r);
  }
  s.capacity = capacity_;
  s.occupancy = capacity_ - rte_ring_count(free_);
  s.pending_reclaim = s.erases >= s.reclaimed ? s.erases - s.reclaimed : 0;
  s.client_keys = uint64_t(std::max(0, rte_hash_count(hash_[0])));
  s.backend_keys = uint64_t(std::max(0, rte_hash_count(hash_[1])));
  return s;
}

}  // namespace baton::dp::state
