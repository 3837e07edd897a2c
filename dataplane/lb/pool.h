// A backend pool: picks the backend for a new session (ARCHITECTURE.md: session =
// client TCP+TLS plus its backend connection), and keeps per-backend session counters.
//
// One Pool per worker per configured pool: plain data owned by one lcore, so no atomics
// and no sharing (STYLE.md 6). Init() and the Set*() calls are control path and may
// allocate; Pick() and the On*() accounting calls never allocate and never throw.
//
// Algorithms (BalanceAlgorithm):
//  - kRoundRobin: smooth weighted round robin. Every pick, each eligible backend earns
//    its weight in credit, the richest one wins and pays the eligible total. Weights
//    5,1,1 give A A B A C A A: each backend gets exactly its weight's share of every
//    cycle of sum(weights) picks, spread through the cycle instead of in bursts.
//  - kLeastConnections: the eligible backend with the fewest active sessions per unit of
//    weight; ties go round robin (the scan starts after the last backend picked), so
//    equal loads spread instead of piling onto the lowest index.
//  - kMaglev: the consistent-hash lookup table of Eisenbud et al., "Maglev: A Fast and
//    Reliable Software Network Load Balancer", NSDI 2016, section 3.4. See BuildTable().
//
// Eligibility: a backend takes new sessions only if it is available (health; driven by
// SetAvailable, or by passive marking below), administratively enabled (SetAdmin:
// disabled and draining backends keep their sessions but get no new ones) and its
// weight is not 0.
//
// Passive marking: with SetPassiveFall(n), n > 0, n connect failures in a row (no
// OnConnectSuccess between) make the backend unavailable at once on this worker, and
// TakePassiveDown() reports it so the health checker can probe it; only SetAvailable(
// true) (a probe succeeded) brings it back. A pool holds at most kMaxBackends = 64
// backends, so a set of backends is one uint64_t (BackendMask).
//
// Maglev and availability: the table is built over the backends with weight > 0 and is
// NOT rebuilt when availability changes. A key whose slot belongs to an unavailable (or
// excluded) backend falls through to further slots, chosen by rehashing the key, until
// it meets an eligible backend. Why this rather than the paper's rebuild: keys on healthy backends
// never move when another backend fails or comes back (zero collateral disruption,
// where a rebuild moves a few percent of them); a health flap costs no table build on
// the worker; and the retry exclusion mask needs the same fall-through anyway. The
// displaced keys spread over the remaining backends in proportion to their table share
// (each probes independent slots), and they return to their backend when it recovers.
// Weight changes and config changes rebuild the table (control path).
//
// Accounting contract for the caller (the session layer):
//   b = Pick(key, tried)            // tried: backends this session already failed on
//   OnSessionStart(b)               // right away, before connecting, so that least
//                                   // connections sees in-flight connects
//   connect fails -> OnConnectFailure(b); OnSessionEnd(b); tried |= BackendBit(b); retry
//   session over  -> OnSessionEnd(b)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/api/ip_addr.h"

namespace baton::dp::lb {

inline constexpr size_t kMaxBackends = 64;          // a BackendMask has 64 bits
inline constexpr uint32_t kDefaultMaglevTableSize = 65537;  // prime, ~1000x kMaxBackends
inline constexpr uint32_t kMaxMaglevTableSize = 1u << 24;   // bounds the table's memory

// Bit b set = backend index b. Used for exclusion (backends a session already tried).
using BackendMask = uint64_t;
constexpr BackendMask BackendBit(uint16_t backend) noexcept { return BackendMask{1} << backend; }

enum class [[nodiscard]] PoolStatus : uint8_t {
  kOk,
  kNoBackends,
  kTooManyBackends,      // more than kMaxBackends
  kTableSizeNotPrime,    // Maglev needs a prime size so every skip walks all slots
  kTableSizeTooSmall,    // must exceed the number of backends
  kTableSizeTooLarge,    // above kMaxMaglevTableSize
};

struct PoolOptions {
  uint32_t maglev_table_size = kDefaultMaglevTableSize;  // prime; small ones for tests
};

// Plain data a stats snapshot copies as is.
struct BackendCounters {
  uint64_t sessions_started = 0;
  uint64_t connect_failures = 0;
  uint32_t active_sessions = 0;
  uint32_t failures_in_a_row = 0;  // connect failures since the last success
};

// What the session layer needs to reach a backend, plus its control state.
struct BackendInfo {
  IpAddr address;
  uint16_t port = 0;
  uint16_t weight = 0;     // 0: takes no new sessions
  bool available = true;   // health
  BackendAdmin admin = BackendAdmin::kEnabled;
};

class Pool {
 public:
  Pool() = default;

  // Control path. Replaces everything, counters included; all backends start available.
  PoolStatus Init(const PoolConfig& config, const PoolOptions& options = {});

  // Hot path. The backend for a new session, skipping unavailable, weight-0 and
  // `exclude`d backends; nullopt when none is left. `key` matters only for kMaglev (the
  // caller's hash of the client address); the other algorithms ignore it.
  [[nodiscard]] std::optional<uint16_t> Pick(uint64_t key, BackendMask exclude = 0) noexcept;

  void OnSessionStart(uint16_t backend) noexcept;
  void OnSessionEnd(uint16_t backend) noexcept;
  void OnConnectFailure(uint16_t backend) noexcept;
  void OnConnectSuccess(uint16_t backend) noexcept;

  // Control path (health checks, drain, weight change). SetWeight rebuilds the Maglev
  // table; SetAvailable never does (see the file comment). Both restart the round-robin
  // credits so a returning backend does not arrive with a stale debt or surplus.
  void SetAvailable(uint16_t backend, bool available) noexcept;
  void SetWeight(uint16_t backend, uint16_t weight) noexcept;
  // Administrative state; like SetAvailable, never rebuilds the Maglev table.
  void SetAdmin(uint16_t backend, BackendAdmin admin) noexcept;
  // Live reload (ProxyEngine::Reconfigure): a backend that was in the previous config
  // keeps its counters (active sessions included: its sessions stay on it) and health.
  void CarryOver(uint16_t backend, const BackendCounters& counters, bool available) noexcept;
  // 0 (the default): connect failures never mark a backend unavailable.
  void SetPassiveFall(uint32_t failures_in_a_row) noexcept { passive_fall_ = failures_in_a_row; }
  // Backends passive marking made unavailable since the last call; clears the set.
  BackendMask TakePassiveDown() noexcept {
    const BackendMask m = passive_down_;
    passive_down_ = 0;
    return m;
  }

  BalanceAlgorithm Algorithm() const noexcept { return algorithm_; }
  uint16_t Size() const noexcept { return static_cast<uint16_t>(info_.size()); }
  const BackendInfo& Backend(uint16_t backend) const noexcept { return info_[backend]; }
  std::span<const BackendCounters> Counters() const noexcept { return counters_; }
  // Backends Pick() may return when nothing is excluded.
  BackendMask Eligible() const noexcept { return eligible_; }

  // The Maglev slot owners (backend indexes); empty for the other algorithms.
  std::span<const uint8_t> MaglevTableForTest() const noexcept { return table_; }

 private:
  static constexpr uint8_t kEmptySlot = 0xff;

  std::optional<uint16_t> PickRoundRobin(BackendMask candidates) noexcept;
  std::optional<uint16_t> PickLeastConnections(BackendMask candidates) noexcept;
  std::optional<uint16_t> PickMaglev(uint64_t key, BackendMask candidates) const noexcept;
  void RecomputeEligible() noexcept;
  void BuildTable();

  BalanceAlgorithm algorithm_ = BalanceAlgorithm::kRoundRobin;
  std::vector<BackendInfo> info_;
  std::vector<BackendCounters> counters_;
  std::array<int64_t, kMaxBackends> credit_{};  // smooth round robin
  uint16_t next_scan_ = 0;                       // least-connections tie breaking
  BackendMask eligible_ = 0;
  BackendMask passive_down_ = 0;                 // marked by passive marking, not yet taken
  uint32_t passive_fall_ = 0;
  uint32_t table_size_ = kDefaultMaglevTableSize;
  std::vector<uint8_t> table_;                   // Maglev: slot -> backend index
};

}  // namespace baton::dp::lb
