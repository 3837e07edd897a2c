// The owner word of a session record (ARCHITECTURE.md 4): which core may mutate the
// record, in what state the ownership is, and an epoch that every change bumps.
//
// Layout of the 64-bit word (one atomic, changed only by compare-and-swap):
//   bits 63..32  epoch   +1 on every change, including free and reuse of the index
//   bits 31..16  core    owner core id (kNoCore while free)
//   bits 15..8   box     owner box id (0 until replication assigns ids)
//   bits  7..0   state   OwnerState
// Because the epoch moves on every change, a claim built from an old word fails even
// when core and state have come back to the same values (no ABA). The epoch wraps
// after 2^32 changes of one record; a stale claimer would have to sleep through exactly
// that many changes of the same index, far beyond any heartbeat timeout.
#pragma once

#include <cstdint>

namespace baton::dp::state {

// Core ids are the engine's worker ids (DPDK lcore ids fit); session_store.cc checks
// that this matches RTE_MAX_LCORE.
inline constexpr uint16_t kMaxCores = 128;
inline constexpr uint16_t kNoCore = UINT16_MAX;

enum class OwnerState : uint8_t {
  kFree,        // index on the free ring or waiting for reclamation
  kOwned,       // `core` mutates the record
  kHandingOff,  // the old owner released it to `core`, which has not accepted yet
};

struct Owner {
  uint32_t epoch = 0;
  uint16_t core = kNoCore;
  uint8_t box = 0;
  OwnerState state = OwnerState::kFree;
  friend constexpr bool operator==(const Owner&, const Owner&) = default;
};

struct OwnerWord {
  uint64_t raw = 0;
  friend constexpr bool operator==(OwnerWord, OwnerWord) = default;
};

constexpr OwnerWord Pack(Owner o) noexcept {
  return OwnerWord{uint64_t(o.epoch) << 32 | uint64_t(o.core) << 16 | uint64_t(o.box) << 8 |
                   uint64_t(o.state)};
}

constexpr Owner Unpack(OwnerWord w) noexcept {
  return Owner{uint32_t(w.raw >> 32), uint16_t(w.raw >> 16), uint8_t(w.raw >> 8),
               static_cast<OwnerState>(uint8_t(w.raw))};
}

// The word that follows `w` when ownership moves to (core, state): epoch + 1.
constexpr OwnerWord Next(OwnerWord w, uint16_t core, uint8_t box, OwnerState state) noexcept {
  const Owner o = Unpack(w);
  return Pack(Owner{o.epoch + 1, core, box, state});
}

static_assert(Unpack(Pack(Owner{7, 3, 2, OwnerState::kHandingOff})) ==
              Owner{7, 3, 2, OwnerState::kHandingOff});
static_assert(Unpack(Next(Pack(Owner{UINT32_MAX, 1, 0, OwnerState::kOwned}), 2, 0,
                          OwnerState::kOwned)).epoch == 0);  // wraps on purpose

}  // namespace baton::dp::state
