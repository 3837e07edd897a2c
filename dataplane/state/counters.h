// Counters of the shared session tables, as plain data (STYLE.md 12).
//
// SessionStore keeps them per core (each core writes only its own cache line) and sums
// them in SessionStore::Stats(). Export: copy this struct into the stats snapshot of
// dataplane/api/stats.h (a `StateStats state;` member or the same fields by name) when
// the engine wiring lands; it is deliberately free of DPDK types so that api/ can
// mirror it without including dataplane/state/.
#pragma once

#include <cstdint>

namespace baton::dp::state {

struct StateCounters {
  // Occupancy (gauges, at the time of Stats()).
  uint64_t capacity = 0;         // records the store was created with
  uint64_t occupancy = 0;        // indices not on the free ring (live + awaiting reclaim)
  uint64_t pending_reclaim = 0;  // erased, waiting for a grace period
  uint64_t client_keys = 0;      // entries in the client-side table
  uint64_t backend_keys = 0;     // entries in the backend-side table

  // Events (monotonic).
  uint64_t inserts = 0;          // indices handed out by Allocate()
  uint64_t erases = 0;           // records erased by their owner
  uint64_t reclaimed = 0;        // indices back on the free ring after a grace period
  uint64_t table_full = 0;       // Allocate() refused: no free index (drop reason)
  uint64_t hash_full = 0;        // AddKey() refused: the rte_hash had no room
  uint64_t key_exists = 0;       // AddKey() refused: the flow is in the table already
  uint64_t adoptions = 0;        // records taken over from a stalled core
  uint64_t hand_offs = 0;        // records released by their owner to another core
  uint64_t rebalanced = 0;       // hand-offs accepted by the new owner
  uint64_t claims = 0;           // successful TryClaim() calls
  uint64_t stale_claims = 0;     // TryClaim() that lost the CAS (stale epoch or race)
};

}  // namespace baton::dp::state
