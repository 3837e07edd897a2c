#include "dataplane/lb/pool.h"

#include <bit>

namespace baton::dp::lb {
namespace {

// Fall-through probes before Maglev gives up on the table and ranks the candidates by
// weight directly. With half the table's weight eligible, 32 misses in a row happen
// with probability 2^-32; the ranking keeps even that case deterministic.
constexpr uint32_t kMaglevMaxProbes = 32;

// Two independent hashes of a backend's identity for the Maglev permutation. They must
// give the same answer on every worker and every box, so they are fixed functions of
// the configured address and port, never of the index or of memory.
// Mix64 is the splitmix64 finalizer: a bijection with full avalanche.
constexpr uint64_t Mix64(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// Seeds for the two hashes (arbitrary, distinct; changing them reshuffles every table).
constexpr uint64_t kOffsetSeed = 0x6d61676c65762d6full;  // "maglev-o"
constexpr uint64_t kSkipSeed = 0x6d61676c65762d73ull;    // "maglev-s"
constexpr uint64_t kProbeStep = 0x9e3779b97f4a7c15ull;   // 2^64 / golden ratio, odd

uint64_t HashIdentity(const BackendInfo& b, uint64_t seed) noexcept {
  uint64_t h = Mix64(seed ^ uint64_t(b.address.family));
  for (size_t chunk = 0; chunk < 2; ++chunk) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v = v << 8 | b.address.bytes[chunk * 8 + i];
    h = Mix64(h ^ v);
  }
  return Mix64(h ^ b.port);
}

constexpr bool IsPrime(uint32_t n) noexcept {
  if (n < 2) return false;
  for (uint32_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// Backend indexes in `m`, lowest first.
template <typename Fn>
void ForEachBit(BackendMask m, Fn&& fn) noexcept {
  while (m != 0) {
    fn(static_cast<uint16_t>(std::countr_zero(m)));
    m &= m - 1;
  }
}

}  // namespace

PoolStatus Pool::Init(const PoolConfig& config, const PoolOptions& options) {
  const size_t n = config.backends.size();
  if (n == 0) return PoolStatus::kNoBackends;
  if (n > kMaxBackends) return PoolStatus::kTooManyBackends;
  if (config.algorithm == BalanceAlgorithm::kMaglev) {
    if (options.maglev_table_size > kMaxMaglevTableSize) return PoolStatus::kTableSizeTooLarge;
    if (options.maglev_table_size <= n) return PoolStatus::kTableSizeTooSmall;
    // Maglev 3.4: M prime makes every skip in [1, M-1] coprime to M, so each backend's
    // permutation visits every slot and the population loop always terminates.
    if (!IsPrime(options.maglev_table_size)) return PoolStatus::kTableSizeNotPrime;
  }

  algorithm_ = config.algorithm;
  info_.clear();
  for (const BackendConfig& b : config.backends) {
    info_.push_back({.address = b.address, .port = b.port, .weight = b.weight, .available = true});
  }
  counters_.assign(n, BackendCounters{});
  passive_down_ = 0;
  credit_.fill(0);
  next_scan_ = 0;
  table_size_ = options.maglev_table_size;
  table_.clear();
  RecomputeEligible();
  if (algorithm_ == BalanceAlgorithm::kMaglev) BuildTable();
  return PoolStatus::kOk;
}

void Pool::RecomputeEligible() noexcept {
  eligible_ = 0;
  for (uint16_t b = 0; b < info_.size(); ++b) {
    const BackendInfo& i = info_[b];
    if (i.available && i.admin == BackendAdmin::kEnabled && i.weight > 0) eligible_ |= BackendBit(b);
  }
  // Restart smooth round robin: credits earned under another eligible set would give a
  // returning backend a burst (or a drought) until they wash out.
  credit_.fill(0);
}

// Maglev 3.4, population: backends take turns claiming the next slot of their own
// permutation that is still empty, until the table is full. Backend i's permutation is
//   slot_j = (offset_i + j * skip_i) mod M,  offset_i = h1 mod M,  skip_i = h2 mod (M-1) + 1
// with h1, h2 two independent hashes of its identity. The paper gives each backend one
// turn per round; to honour weights, the turn order here is the smooth weighted round
// robin of Pick(): every backend gets turns in proportion to its weight, interleaved,
// so each ends up with ~ M * weight / sum(weights) slots. With equal weights the order
// is 0,1,...,N-1 repeated, exactly the paper's loop. Weight-0 backends get no slots.
void Pool::BuildTable() {
  const uint32_t m = table_size_;
  table_.assign(m, kEmptySlot);

  BackendMask members = 0;
  int64_t total_weight = 0;
  std::array<uint32_t, kMaxBackends> pos{};   // next permutation slot to try
  std::array<uint32_t, kMaxBackends> skip{};
  std::array<int64_t, kMaxBackends> turn_credit{};
  for (uint16_t b = 0; b < info_.size(); ++b) {
    if (info_[b].weight == 0) continue;
    members |= BackendBit(b);
    total_weight += info_[b].weight;
    pos[b] = static_cast<uint32_t>(HashIdentity(info_[b], kOffsetSeed) % m);
    skip[b] = static_cast<uint32_t>(HashIdentity(info_[b], kSkipSeed) % (m - 1)) + 1;
  }
  if (members == 0) return;  // nothing eligible ever; Pick() answers none

  for (uint32_t filled = 0; filled < m; ++filled) {
    uint16_t turn = 0;
    int64_t best = INT64_MIN;
    ForEachBit(members, [&](uint16_t b) {
      turn_credit[b] += info_[b].weight;
      if (turn_credit[b] > best) {
        best = turn_credit[b];
        turn = b;
      }
    });
    turn_credit[turn] -= total_weight;
    // Terminates: the permutation covers all m slots and at least one is empty.
    uint32_t slot = pos[turn];
    while (table_[slot] != kEmptySlot) {
      slot += skip[turn];
      if (slot >= m) slot -= m;
    }
    table_[slot] = static_cast<uint8_t>(turn);
    pos[turn] = slot + skip[turn] >= m ? slot + skip[turn] - m : slot + skip[turn];
  }
}

std::optional<uint16_t> Pool::Pick(uint64_t key, BackendMask exclude) noexcept {
  const BackendMask candidates = eligible_ & ~exclude;
  if (candidates == 0) return std::nullopt;
  switch (algorithm_) {
    case BalanceAlgorithm::kRoundRobin:
      return PickRoundRobin(candidates);
    case BalanceAlgorithm::kLeastConnections:
      return PickLeastConnections(candidates);
    case BalanceAlgorithm::kMaglev:
      return PickMaglev(key, candidates);
  }
  return std::nullopt;  // no default: -Werror=switch flags new algorithms
}

// Smooth weighted round robin: each candidate earns its weight, the richest (lowest
// index on a tie) wins and pays the candidates' total. Over any sum(weights) picks from
// zero credits each backend wins exactly weight times. Excluded backends neither earn
// nor pay, so a retry does not disturb their place in the rotation.
std::optional<uint16_t> Pool::PickRoundRobin(BackendMask candidates) noexcept {
  int64_t total = 0;
  int64_t best = INT64_MIN;
  uint16_t winner = 0;
  ForEachBit(candidates, [&](uint16_t b) {
    credit_[b] += info_[b].weight;
    total += info_[b].weight;
    if (credit_[b] > best) {
      best = credit_[b];
      winner = b;
    }
  });
  credit_[winner] -= total;
  return winner;
}

// Fewest active sessions per unit of weight: a/wa < b/wb compared as a*wb < b*wa
// (uint32 x uint16 fits in 64 bits). The scan starts just after the previous pick and
// keeps the first minimum it meets, so ties rotate.
std::optional<uint16_t> Pool::PickLeastConnections(BackendMask candidates) noexcept {
  const uint16_t start = next_scan_ < info_.size() ? next_scan_ : 0;
  // Rotating the mask puts `start` at bit 0; bits >= Size() are zero, so the scan order
  // is start..Size()-1 then 0..start-1.
  const BackendMask rotated = std::rotr(candidates, start);
  uint16_t winner = 0;
  bool have = false;
  ForEachBit(rotated, [&](uint16_t r) {
    const uint16_t b = static_cast<uint16_t>((r + start) % kMaxBackends);
    if (!have) {
      winner = b;
      have = true;
      return;
    }
    const uint64_t lhs = uint64_t(counters_[b].active_sessions) * info_[winner].weight;
    const uint64_t rhs = uint64_t(counters_[winner].active_sessions) * info_[b].weight;
    if (lhs < rhs) winner = b;
  });
  next_scan_ = static_cast<uint16_t>(winner + 1);
  return winner;
}

// The key's slot; if its owner is not a candidate, further slots chosen by rehashing
// the key, until one belongs to a candidate. Deterministic in (key, candidates): every
// worker and box with the same config and health answers the same.
// Why rehash rather than step to the next slot: the Maglev table is not random at the
// slot level (backends claim slots in arithmetic progressions), so the owner of the
// neighbouring slot is correlated with the failed one; measured with 10 backends, one
// down, the survivors took between 0.6x and 1.25x of their fair part of its keys. A
// per-key rehash sends each displaced key to an independent slot, so they spread in
// proportion to table share. It costs a cache miss per probe, only for such keys.
// See the file comment for why availability is handled here and not by a rebuild.
std::optional<uint16_t> Pool::PickMaglev(uint64_t key, BackendMask candidates) const noexcept {
  uint64_t h = key;
  for (uint32_t probe = 0; probe < kMaglevMaxProbes; ++probe) {
    const uint8_t b = table_[h % table_size_];
    // kEmptySlot (0xff) cannot be a candidate bit: indexes are < 64.
    if (b < kMaxBackends && (candidates & BackendBit(b)) != 0) return b;
    h = Mix64(h + kProbeStep);
  }
  // Nearly all of the table's weight is unavailable or excluded: rank the candidates by
  // weight with the last hash. Still deterministic.
  uint64_t total = 0;
  ForEachBit(candidates, [&](uint16_t b) { total += info_[b].weight; });
  uint64_t target = h % total;
  std::optional<uint16_t> winner;
  ForEachBit(candidates, [&](uint16_t b) {
    if (winner) return;
    if (target < info_[b].weight) {
      winner = b;
    } else {
      target -= info_[b].weight;
    }
  });
  return winner;
}

void Pool::OnSessionStart(uint16_t backend) noexcept {
  if (backend >= counters_.size()) [[unlikely]] return;
  ++counters_[backend].sessions_started;
  ++counters_[backend].active_sessions;
}

void Pool::OnSessionEnd(uint16_t backend) noexcept {
  if (backend >= counters_.size()) [[unlikely]] return;
  // Saturate: an unmatched end must not wrap to 4 billion and starve the backend under
  // least connections.
  if (counters_[backend].active_sessions > 0) --counters_[backend].active_sessions;
}

void Pool::OnConnectFailure(uint16_t backend) noexcept {
  if (backend >= counters_.size()) [[unlikely]] return;
  ++counters_[backend].connect_failures;
  ++counters_[backend].failures_in_a_row;
  if (passive_fall_ != 0 && counters_[backend].failures_in_a_row >= passive_fall_ && info_[backend].available) {
    passive_down_ |= BackendBit(backend);
    info_[backend].available = false;
    RecomputeEligible();
  }
}

void Pool::OnConnectSuccess(uint16_t backend) noexcept {
  if (backend >= counters_.size()) [[unlikely]] return;
  counters_[backend].failures_in_a_row = 0;
}

void Pool::SetAvailable(uint16_t backend, bool available) noexcept {
  if (backend >= info_.size()) return;
  // Back up: the failures that marked it down are history.
  if (available) counters_[backend].failures_in_a_row = 0;
  if (info_[backend].available == available) return;
  info_[backend].available = available;
  RecomputeEligible();
}

void Pool::CarryOver(uint16_t backend, const BackendCounters& counters, bool available) noexcept {
  if (backend >= counters_.size()) return;
  counters_[backend] = counters;
  SetAvailable(backend, available);
}

void Pool::SetAdmin(uint16_t backend, BackendAdmin admin) noexcept {
  if (backend >= info_.size() || info_[backend].admin == admin) return;
  info_[backend].admin = admin;
  RecomputeEligible();
}

void Pool::SetWeight(uint16_t backend, uint16_t weight) noexcept {
  if (backend >= info_.size() || info_[backend].weight == weight) return;
  info_[backend].weight = weight;
  RecomputeEligible();
  // CONTROL-PATH EXCEPTION (noexcept with allocation): the table already has its size,
  // so assign() reuses its storage and cannot throw.
  if (algorithm_ == BalanceAlgorithm::kMaglev) BuildTable();
}

}  // namespace baton::dp::lb
