// Per-core liveness: each worker bumps its beat counter once per loop pass; any core can
// watch the counters and report the cores whose counter stopped moving.
//
// Sans-clock: nothing here reads a clock. The watcher passes its own `now_us`, and a
// stall is measured on the watcher's clock ("no new beat seen for timeout_us"), so the
// beating cores' clocks never need to agree with it.
//
// Memory order: Beat() is a release increment and the watcher's load is an acquire, so
// everything a core wrote before its last beat (its last complete burst) is visible to
// the core that declares it dead and adopts its sessions.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

#include "dataplane/state/owner.h"

namespace baton::dp::state {

class Heartbeats {
 public:
  // A core is watched between Join() and Leave(); Leave() is a clean stop (its sessions
  // were handed off first), never reported as stalled.
  void Join(uint16_t core) noexcept;
  void Leave(uint16_t core) noexcept;
  // Twice per loop pass: when the pass starts (the count becomes odd: in a burst) and
  // when it ends (even: between bursts, where a core may stop without harm).
  void Beat(uint16_t core) noexcept {
    slots_[core].beats.fetch_add(1, std::memory_order_release);
  }

  // A watcher that declared `core` dead fences it before adopting its sessions. A core
  // that was only slow checks Fenced() at its next burst boundary and, if set, drops its
  // local state and re-joins (its records belong to others now).
  // True for the one caller that fenced it (several watchers may see the same stall):
  // that one takes over the core's queues.
  [[nodiscard]] bool Fence(uint16_t core) noexcept;
  bool Fenced(uint16_t core) const noexcept {
    return slots_[core].fenced.load(std::memory_order_acquire);
  }

  bool Joined(uint16_t core) const noexcept {
    return slots_[core].joined.load(std::memory_order_acquire);
  }
  static bool InBurst(uint64_t count) noexcept { return (count & 1) != 0; }
  // Pairs with the release in Beat().
  uint64_t Count(uint16_t core) const noexcept {
    return slots_[core].beats.load(std::memory_order_acquire);
  }

 private:
  struct alignas(64) Slot {  // one cache line per core: beats never false-share
    std::atomic<uint64_t> beats{0};
    std::atomic<bool> joined{false};
    std::atomic<bool> fenced{false};
  };
  std::array<Slot, kMaxCores> slots_{};
};

// One per watching core (not shared): remembers when each counter last moved.
class StallWatch {
 public:
  explicit StallWatch(const Heartbeats& beats) noexcept : beats_(beats) {}

  // Writes into `out` the joined, unfenced cores whose counter has not changed for at
  // least `timeout_us` of the caller's clock; returns how many (at most out.size()).
  // A core first seen at `now_us` gets a full timeout from then.
  [[nodiscard]] uint32_t StalledCores(uint64_t now_us, uint64_t timeout_us,
                                      std::span<uint16_t> out) noexcept;

 private:
  struct Seen {
    uint64_t beats = 0;
    uint64_t changed_us = 0;
    bool valid = false;
  };
  const Heartbeats& beats_;
  std::array<Seen, kMaxCores> seen_{};
};

}  // namespace baton::dp::state
