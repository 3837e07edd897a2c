// Shared session tables (ARCHITECTURE.md 4): every session's record in one array in
// hugepage memory, found from either side's flow through lock-free rte_hash tables, so
// that any core can find any session and a new owner can take it over.
//
// Layout. A record slot is a 64-byte header (the owner word and the record's flow keys)
// followed by the caller's record, rounded up to a cache line. The store is not a
// template: it holds fixed-size byte slots of `record_bytes`, and As<T>() gives the
// typed view, with static_asserts that T is trivially copyable and cache-line
// alignable and a check that it fits. One compiled store serves any record type
// (today's proxy Session, tomorrow's versioned record with TLS state), and the slot
// size comes from the caller at run time like the capacity does.
//
// Who may do what:
//  - Any registered core: Lookup/LookupBulk (lock-free), OwnerOf, TryClaim, AdoptFrom.
//  - The owner only: the record bytes, AddKey/RemoveKey/Erase, HandOff/Rebalance.
//  - Key changes (add/remove/free) serialise on one spinlock per table, as rte_hash's
//    own multi-writer mode would; readers never take it. Holding our own lock makes
//    "refuse a flow that is already in the table" atomic (rte_hash_add_key_data would
//    silently re-point an existing key at the new record) and keeps rte_hash in its
//    single-writer mode, whose capacity is exact and which does not depend on the
//    caller being an EAL lcore (the multi-writer mode's per-lcore key caches do).
//
// Reclamation (RCU QSBR, rte_rcu_qsbr). Each core that looks up indices registers
// with its core id and reports quiescent at every burst boundary; it may use an index
// it looked up only until its next Quiescent() or Offline(). Erase() marks the owner
// word free (CAS, epoch + 1), deletes both keys from their tables, then takes a QSBR
// token (rte_rcu_qsbr_start) and parks the index and the two rte_hash key positions
// (LF mode does not free them on delete) on an MP/MC defer ring. Reclaim() returns
// them to the free ring / rte_hash_free_key_with_position() only once every registered
// online core has been quiescent since that token (rte_rcu_qsbr_check, non-blocking).
// So a freed index is never reused, and a hash slot never rewritten, while a reader
// may still hold it. A dead core that stopped mid-burst would stall every grace period:
// ForgetCore() takes it out of the QSBR set once it is fenced. (rte_rcu_qsbr_dq would
// do the same bookkeeping but is experimental in 22.11, so the defer ring is ours.)
//
// Hand-off protocol (rebalance) expected from the engine:
//  1. The old owner, at a burst boundary (nothing of the session pending in its burst),
//     calls HandOff()/Rebalance(): CAS {from, kOwned, e} -> {to, kHandingOff, e+1}.
//     From then on it never writes the record; packets it still gets for the session
//     go to `to`'s inbox ring (the owner word names `to`).
//  2. It posts the indices to `to` through `to`'s inbox ring. The ring's release/
//     acquire (and the CAS) make everything the old owner wrote visible to `to`.
//  3. `to` calls AcceptHandOff(): CAS {to, kHandingOff, e+1} -> {to, kOwned, e+2},
//     re-arms the session's timers, then processes what was queued for it. It may
//     also accept on the first packet it sees for a kHandingOff record naming it.
//  4. If `to` dies before accepting, AdoptFrom(to) takes kHandingOff records naming
//     it as well. A record never sits without a core responsible for it.
// Adoption: a core that sees another core stalled (StallWatch) fences it
// (Heartbeats::Fence), calls ForgetCore(), then AdoptFrom() in chunks between bursts.
// Two adopters may race: the CAS gives each record to exactly one of them. A core
// declared dead may only have been slow: it must check Heartbeats::Fenced() at each
// burst boundary, and re-check OwnerOf() (same cache line as the record) before it
// commits output for a session; a session it lost is dropped from its burst.
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <type_traits>

#include "dataplane/proxy/flow_table.h"
#include "dataplane/state/counters.h"
#include "dataplane/state/owner.h"

struct rte_hash;
struct rte_ring;
struct rte_rcu_qsbr;

namespace baton::dp::state {

using dp::FlowKey;

enum class Side : uint8_t { kClient, kBackend, kCount };

enum class [[nodiscard]] StoreStatus : uint8_t {
  kOk,
  kTableFull,  // no free record index (counted in table_full): refuse the session
  kHashFull,   // the side's rte_hash had no room for the key (counted in hash_full)
  kKeyExists,  // the flow maps to a record already (counted in key_exists)
  kNoKey,      // RemoveKey(): the record has no key on that side
  kNotOwner,   // the caller does not own the record (any more)
  kTooBig,     // Insert(): the record type is larger than the store's record_bytes
};

struct StoreConfig {
  std::string name;           // prefixes the DPDK object names; unique, <= 24 chars
  uint32_t capacity = 0;      // sessions (the config's session limit)
  uint32_t record_bytes = 0;  // sizeof the record type As<T>() will be used with
  int socket_id = -1;         // NUMA socket for all memory; -1: SOCKET_ID_ANY
  uint8_t box = 0;            // this box's id, written into owner words
};

// Position of a resumable scan (AdoptFrom, Rebalance) over the record array.
struct ScanCursor {
  uint32_t next = 0;  // next index to examine
};

class SessionStore {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kHeaderBytes = 64;
  static constexpr uint32_t kMaxBulk = 64;  // RTE_HASH_LOOKUP_BULK_MAX, one rte_hash call

  // Needs an initialised EAL (works under --no-huge). Returns nullptr and says why in
  // `error` on bad parameters, a name in use or no memory.
  static std::unique_ptr<SessionStore> Create(const StoreConfig& cfg, std::string& error);
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // ---- Cores (QSBR readers) -------------------------------------------------------
  // Register once per core, before its first lookup; leaves it online.
  [[nodiscard]] bool RegisterCore(uint16_t core) noexcept;
  void UnregisterCore(uint16_t core) noexcept;
  // At every burst boundary: the core holds no index from an earlier lookup.
  void Quiescent(uint16_t core) noexcept;
  // Around idle sleeps: an offline core never holds up reclamation.
  void Offline(uint16_t core) noexcept;
  void Online(uint16_t core) noexcept;
  // For a core declared dead and fenced: stops grace periods from waiting for it.
  void ForgetCore(uint16_t core) noexcept;

  // ---- Records (owner side) -------------------------------------------------------
  // Takes a free index for `core` (owner word {core, kOwned, epoch+1}). The record is
  // private until a key is added: fill it first, then AddKey(), so that a reader who
  // finds the key sees the complete record (rte_hash publishes with release order).
  // kTableFull when none is free even after a reclaim pass; old records are untouched.
  StoreStatus Allocate(uint16_t core, uint32_t& idx) noexcept;
  StoreStatus AddKey(uint16_t core, uint32_t idx, Side side, const FlowKey& key) noexcept;
  // Unlinks one side's key (e.g. the backend flow before a retry on another backend);
  // its hash slot is reclaimed after a grace period.
  StoreStatus RemoveKey(uint16_t core, uint32_t idx, Side side) noexcept;
  // Unlinks both keys and frees the index after a grace period. kNotOwner when the
  // record was adopted meanwhile (then nothing changes).
  StoreStatus Erase(uint16_t core, uint32_t idx) noexcept;
  // Returns up to `max` deferred items whose grace period is over; call right after
  // Quiescent(). Returns how many record indices went back to the free ring.
  uint32_t Reclaim(uint16_t core, uint32_t max) noexcept;

  // Allocate + copy + keys; on any refusal nothing of it stays visible.
  template <class T>
  StoreStatus Insert(uint16_t core, const T& record, const FlowKey* client,
                     const FlowKey* backend, uint32_t& idx) noexcept;

  // ---- Lookups (any registered, online core) --------------------------------------
  uint32_t Lookup(Side side, const FlowKey& key) const noexcept;
  // out[i] = record index of keys[i] or kNone; returns the number of hits. Any length:
  // split into rte_hash_lookup_bulk_data() calls of kMaxBulk. out.size() >= keys.size().
  uint32_t LookupBulk(Side side, std::span<const FlowKey> keys,
                      std::span<uint32_t> out) const noexcept;

  template <class T>
  T& As(uint32_t idx) noexcept;
  template <class T>
  const T& As(uint32_t idx) const noexcept;
  uint8_t* RecordBytes(uint32_t idx) noexcept { return SlotAt(idx) + kHeaderBytes; }
  // The record's key on `side`, or nullptr. Stable while the caller owns the record.
  const FlowKey* KeyOf(uint32_t idx, Side side) const noexcept;

  // ---- Ownership ------------------------------------------------------------------
  // Pairs with the CAS (acq_rel) of every ownership change.
  OwnerWord OwnerOf(uint32_t idx) const noexcept {
    return OwnerWord{Header(idx).owner.load(std::memory_order_acquire)};
  }
  // CAS `expected` -> {core, kOwned, epoch+1}. False (and `expected` refreshed) when the
  // word moved on since `expected` was read, or when `expected` is a free record.
  [[nodiscard]] bool TryClaim(uint16_t core, uint32_t idx, OwnerWord& expected) noexcept;
  // Claims for `core` every record whose word names `dead` (kOwned or kHandingOff),
  // scanning at most `max_scan` indices from `cursor` and stopping early when `out` is
  // full; adopted indices go to `out`. Returns how many. Done when cursor.next ==
  // capacity(). Several adopters may run at once: each record goes to exactly one.
  uint32_t AdoptFrom(uint16_t dead, uint16_t core, ScanCursor& cursor, uint32_t max_scan,
                     std::span<uint32_t> out) noexcept;
  // Protocol step 1 for one record; run on `from`. False when `from` does not own it.
  [[nodiscard]] bool HandOff(uint16_t from, uint32_t idx, uint16_t to) noexcept;
  // HandOff() for the records of `from` whose client flow hash (FlowHash, the steering
  // hash) falls in the lowest `share` (0..1) of the hash space: a deterministic share,
  // so flows and steering can move together. Scans like AdoptFrom; run on `from`.
  uint32_t Rebalance(uint16_t from, uint16_t to, double share, ScanCursor& cursor,
                     uint32_t max_scan, std::span<uint32_t> out) noexcept;
  // Whether the record's client flow hash falls in the lowest `share` of the hash space
  // (Rebalance's choice, for callers that hand off record by record).
  bool InShare(uint32_t idx, double share) const noexcept;
  // Protocol step 3; run on `core`. False unless the word is {core, kHandingOff}.
  [[nodiscard]] bool AcceptHandOff(uint16_t core, uint32_t idx) noexcept;

  StateCounters Stats() const noexcept;
  uint32_t capacity() const noexcept { return capacity_; }
  uint32_t record_bytes() const noexcept { return record_bytes_; }

 private:
  struct alignas(64) SlotHeader {
    std::atomic<uint64_t> owner;
    FlowKey key[size_t(Side::kCount)];
    bool has_key[size_t(Side::kCount)];
  };
  static_assert(sizeof(SlotHeader) == kHeaderBytes);

  struct alignas(64) CoreCounters {  // written by one core, summed by Stats()
    std::atomic<uint64_t> inserts{0}, erases{0}, reclaimed{0}, table_full{0}, hash_full{0},
        key_exists{0}, adoptions{0}, hand_offs{0}, rebalanced{0}, claims{0},
        stale_claims{0};
  };

  SessionStore() = default;
  uint8_t* SlotAt(uint32_t idx) const noexcept { return slots_ + size_t(idx) * slot_bytes_; }
  SlotHeader& Header(uint32_t idx) const noexcept {
    return *reinterpret_cast<SlotHeader*>(SlotAt(idx));
  }
  bool OwnedBy(uint32_t idx, uint16_t core) const noexcept;
  void Defer(uint16_t core, uint8_t kind, uint32_t value, uint64_t token) noexcept;
  void Unlink(uint16_t core, uint32_t idx, Side side, uint64_t& token) noexcept;

  std::string name_;
  uint32_t capacity_ = 0;
  uint32_t record_bytes_ = 0;
  uint32_t slot_bytes_ = 0;
  uint8_t box_ = 0;
  uint8_t* slots_ = nullptr;
  rte_hash* hash_[size_t(Side::kCount)] = {};
  rte_ring* free_ = nullptr;   // MP/MC ring of free record indices
  rte_ring* defer_ = nullptr;  // MP/MC ring of {token, kind, value} awaiting a grace period
  rte_rcu_qsbr* qsbr_ = nullptr;
  void* hash_lock_ = nullptr;  // rte_spinlock_t[kCount], in hugepage memory
  CoreCounters* counters_ = nullptr;  // [kMaxCores]
};

template <class T>
T& SessionStore::As(uint32_t idx) noexcept {
  static_assert(std::is_trivially_copyable_v<T>, "records are copied between cores and boxes");
  static_assert(alignof(T) <= kHeaderBytes);
  assert(sizeof(T) <= record_bytes_);
  return *std::launder(reinterpret_cast<T*>(RecordBytes(idx)));
}

template <class T>
const T& SessionStore::As(uint32_t idx) const noexcept {
  return const_cast<SessionStore*>(this)->As<T>(idx);
}

template <class T>
StoreStatus SessionStore::Insert(uint16_t core, const T& record, const FlowKey* client,
                                 const FlowKey* backend, uint32_t& idx) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  if (sizeof(T) > record_bytes_) return StoreStatus::kTooBig;
  if (const StoreStatus s = Allocate(core, idx); s != StoreStatus::kOk) return s;
  std::memcpy(RecordBytes(idx), &record, sizeof(T));
  StoreStatus s = StoreStatus::kOk;
  if (client != nullptr) s = AddKey(core, idx, Side::kClient, *client);
  if (s == StoreStatus::kOk && backend != nullptr) s = AddKey(core, idx, Side::kBackend, *backend);
  if (s != StoreStatus::kOk) {
    (void)Erase(core, idx);  // unlinks what was added; the index comes back after a grace period
    idx = kNone;
  }
  return s;
}

}  // namespace baton::dp::state
