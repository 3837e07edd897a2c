// Flows: TCP 4-tuples seen from our side. The shared session tables
// (dataplane/state/session_store.h) map them to session records.
#pragma once

#include <cstdint>

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

}  // namespace baton::dp
