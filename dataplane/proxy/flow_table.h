// Flows (TCP 4-tuples seen from our side) to session indices: open addressing with
// linear probing and backward-shift deletion, fixed capacity, no heap after creation.
// One per worker for now; the shared rte_hash tables of the sessions issue replace it.
#pragma once

#include <cstdint>
#include <vector>

namespace baton::dp {

struct FlowKey {
  uint32_t remote_ip = 0;
  uint32_t local_ip = 0;
  uint16_t remote_port = 0;
  uint16_t local_port = 0;
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

// A good 32-bit mix of a 4-tuple; also used to pick a flow's owner worker, so it must
// be the same on every worker (and every box, later).
inline uint32_t FlowHash(const FlowKey& k) noexcept {
  uint64_t h = (uint64_t(k.remote_ip) << 32 | k.local_ip) * 0x9e3779b97f4a7c15ull;
  h ^= (uint64_t(k.remote_port) << 16 | k.local_port) * 0xc2b2ae3d27d4eb4full;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return uint32_t(h);
}

class FlowTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Room for `max_flows` at a load factor of at most 1/2.
  explicit FlowTable(uint32_t max_flows);

  uint32_t Find(const FlowKey& key) const noexcept;
  // False when the key is present already or the table is full.
  [[nodiscard]] bool Insert(const FlowKey& key, uint32_t value) noexcept;
  void Erase(const FlowKey& key) noexcept;
  uint32_t Size() const noexcept { return used_; }

 private:
  struct Slot {
    FlowKey key;
    uint32_t value = kNone;  // kNone: empty
  };
  uint32_t Home(const FlowKey& key) const noexcept { return FlowHash(key) & mask_; }

  std::vector<Slot> slots_;
  uint32_t mask_ = 0;
  uint32_t max_flows_ = 0;
  uint32_t used_ = 0;
};

}  // namespace baton::dp
