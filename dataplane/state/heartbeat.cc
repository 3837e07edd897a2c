#include "dataplane/state/heartbeat.h"

namespace baton::dp::state {

void Heartbeats::Join(uint16_t core) noexcept {
  Slot& s = slots_[core];
  s.fenced.store(false, std::memory_order_relaxed);
  // A (re-)join counts as a beat and leaves the count even: between bursts (InBurst).
  s.beats.fetch_add(2 - s.beats.load(std::memory_order_relaxed) % 2, std::memory_order_release);
  s.joined.store(true, std::memory_order_release);
}

void Heartbeats::Leave(uint16_t core) noexcept {
  slots_[core].joined.store(false, std::memory_order_release);
}

bool Heartbeats::Fence(uint16_t core) noexcept {
  // Pairs with the acquire in Fenced() on the fenced core.
  return !slots_[core].fenced.exchange(true, std::memory_order_acq_rel);
}

uint32_t StallWatch::StalledCores(uint64_t now_us, uint64_t timeout_us,
                                  std::span<uint16_t> out) noexcept {
  uint32_t n = 0;
  for (uint16_t core = 0; core < kMaxCores; ++core) {
    Seen& s = seen_[core];
    if (!beats_.Joined(core) || beats_.Fenced(core)) {
      s.valid = false;
      continue;
    }
    const uint64_t count = beats_.Count(core);
    if (!s.valid || count != s.beats) {
      s = Seen{count, now_us, true};
      continue;
    }
    if (now_us - s.changed_us >= timeout_us && n < out.size()) out[n++] = core;
  }
  return n;
}

}  // namespace baton::dp::state
