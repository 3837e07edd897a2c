#include "dataplane/net/neighbor_table.h"

namespace baton::dp {
namespace {

constexpr uint64_t kUsPerMs = 1000;

uint32_t HashIp(uint32_t ip) noexcept {
  // Fibonacci hashing: neighbours are often consecutive addresses.
  return uint32_t((uint64_t(ip) * 0x9e3779b97f4a7c15ull) >> 40);
}

}  // namespace

NeighborTable::NeighborTable(const ArpConfig& config, DpCounters& counters) noexcept
    : config_(config), counters_(counters) {
  if (config_.pending_packets > kMaxPending) config_.pending_packets = kMaxPending;
}

uint32_t NeighborTable::SlotOf(uint32_t ip) const noexcept {
  for (uint32_t i = HashIp(ip) & (kSlots - 1), n = 0; n < kSlots; i = (i + 1) & (kSlots - 1), ++n) {
    if (slots_[i].state == NeighborState::kFree) return kSlots;
    if (slots_[i].ip == ip) return i;
  }
  return kSlots;
}

uint32_t NeighborTable::Insert(uint32_t ip, uint64_t now_us) noexcept {
  if (used_ >= kMaxEntries) {
    // Make room by evicting the entry confirmed longest ago that has no waiting packets.
    uint32_t victim = kSlots;
    for (uint32_t i = 0; i < kSlots; ++i) {
      const Entry& e = slots_[i];
      if (e.state == NeighborState::kFree || e.pending_count != 0) continue;
      if (victim == kSlots || e.confirmed_us < slots_[victim].confirmed_us) victim = i;
    }
    if (victim == kSlots) return kSlots;
    Erase(victim);
    counters_.Count(Counter::kArpEntriesEvicted);
  }
  uint32_t i = HashIp(ip) & (kSlots - 1);
  while (slots_[i].state != NeighborState::kFree) i = (i + 1) & (kSlots - 1);
  slots_[i] = Entry{};
  slots_[i].ip = ip;
  slots_[i].state = NeighborState::kIncomplete;
  slots_[i].confirmed_us = now_us;
  ++used_;
  return i;
}

void NeighborTable::Erase(uint32_t slot) noexcept {
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  uint32_t hole = slot;
  slots_[hole].state = NeighborState::kFree;
  --used_;
  for (uint32_t j = (hole + 1) & (kSlots - 1); slots_[j].state != NeighborState::kFree;
       j = (j + 1) & (kSlots - 1)) {
    const uint32_t home = HashIp(slots_[j].ip) & (kSlots - 1);
    // Move j into the hole unless its home lies cyclically in (hole, j].
    const bool home_after_hole = ((j - home) & (kSlots - 1)) < ((j - hole) & (kSlots - 1));
    if (home_after_hole) continue;
    slots_[hole] = slots_[j];
    slots_[j].state = NeighborState::kFree;
    hole = j;
  }
}

void NeighborTable::FailPending(Entry& e, DropReason reason, Events& events) noexcept {
  for (uint16_t i = 0; i < e.pending_count; ++i) events.DropPending(e.pending[i], reason);
  counters_.Drop(reason, e.pending_count);
  e.pending_count = 0;
}

void NeighborTable::Request(uint32_t ip, const MacAddr* unicast, Events& events) noexcept {
  if (events.SendArpRequest(ip, unicast)) counters_.Count(Counter::kArpRequestsSent);
}

void NeighborTable::StartResolution(Entry& e, uint64_t now_us, Events& events) noexcept {
  e.state = NeighborState::kIncomplete;
  e.requests_sent = 1;
  e.next_request_us = now_us + uint64_t(config_.retry_ms) * kUsPerMs;
  Request(e.ip, nullptr, events);
}

NeighborTable::Resolved NeighborTable::Resolve(uint32_t ip, PacketHandle pkt, uint64_t now_us,
                                               Events& events) noexcept {
  uint32_t slot = SlotOf(ip);
  if (slot == kSlots) {
    slot = Insert(ip, now_us);
    if (slot == kSlots) return {ResolveKind::kDropped, {}, DropReason::kArpQueueFull};
    StartResolution(slots_[slot], now_us, events);
  }
  Entry& e = slots_[slot];
  switch (e.state) {
    case NeighborState::kReachable:
      // Past the reachable time we keep using the entry but confirm it with unicast
      // requests (RFC 1122 2.3.2.1 allows unicast polling); Advance() drops it when
      // `retries` of them go unanswered.
      if (now_us - e.confirmed_us > uint64_t(config_.reachable_ms) * kUsPerMs &&
          now_us >= e.next_request_us && e.requests_sent < config_.retries) {
        e.next_request_us = now_us + uint64_t(config_.retry_ms) * kUsPerMs;
        ++e.requests_sent;
        Request(ip, &e.mac, events);
      }
      return {ResolveKind::kHit, e.mac, DropReason::kNone};
    case NeighborState::kFailed:
      // Do not hammer a dead next hop: new resolution only after a retry interval.
      if (now_us < e.next_request_us) return {ResolveKind::kDropped, {}, DropReason::kArpUnresolved};
      StartResolution(e, now_us, events);
      [[fallthrough]];
    case NeighborState::kIncomplete:
      if (pkt == 0) return {ResolveKind::kQueued, {}, DropReason::kNone};
      if (e.pending_count >= config_.pending_packets)
        return {ResolveKind::kDropped, {}, DropReason::kArpQueueFull};
      e.pending[e.pending_count++] = pkt;
      return {ResolveKind::kQueued, {}, DropReason::kNone};
    case NeighborState::kFree:
      break;
  }
  return {ResolveKind::kDropped, {}, DropReason::kArpUnresolved};
}

void NeighborTable::Learn(uint32_t ip, const MacAddr& mac, bool create, uint64_t now_us,
                          Events& events) noexcept {
  uint32_t slot = SlotOf(ip);
  if (slot == kSlots) {
    if (!create) return;
    slot = Insert(ip, now_us);
    if (slot == kSlots) return;  // full of entries with waiting packets; try again later
  }
  Entry& e = slots_[slot];
  if (e.state != NeighborState::kReachable || e.mac != mac) counters_.Count(Counter::kArpEntriesLearned);
  e.mac = mac;
  e.state = NeighborState::kReachable;
  e.confirmed_us = now_us;
  e.next_request_us = now_us;
  e.requests_sent = 0;
  for (uint16_t i = 0; i < e.pending_count; ++i) events.ReleasePending(e.pending[i], mac);
  e.pending_count = 0;
}

void NeighborTable::Advance(uint64_t now_us, Events& events) noexcept {
  const uint64_t retry_us = uint64_t(config_.retry_ms) * kUsPerMs;
  const uint64_t stale_us = uint64_t(config_.stale_ms) * kUsPerMs;
  for (uint32_t i = 0; i < kSlots; ++i) {
    Entry& e = slots_[i];
    switch (e.state) {
      case NeighborState::kFree:
        break;
      case NeighborState::kIncomplete:
        if (now_us < e.next_request_us) break;
        if (e.requests_sent < config_.retries) {
          ++e.requests_sent;
          e.next_request_us = now_us + retry_us;
          Request(e.ip, nullptr, events);
        } else {
          e.state = NeighborState::kFailed;
          e.next_request_us = now_us + retry_us;
          FailPending(e, DropReason::kArpUnresolved, events);
        }
        break;
      case NeighborState::kReachable:
      case NeighborState::kFailed: {
        // A reachable neighbour that ignored all its refresh requests is gone; do not
        // keep sending to its MAC until the stale time.
        const bool silent = e.state == NeighborState::kReachable &&
                            e.requests_sent >= config_.retries && now_us >= e.next_request_us;
        if (silent || now_us - e.confirmed_us > stale_us) {
          Erase(i);
          counters_.Count(Counter::kArpEntriesExpired);
          --i;  // backward shift may have moved another entry into slot i
        }
        break;
      }
    }
  }
}

NeighborTable::View NeighborTable::Find(uint32_t ip) const noexcept {
  const uint32_t slot = SlotOf(ip);
  if (slot == kSlots) return {NeighborState::kFree, {}, 0, 0};
  const Entry& e = slots_[slot];
  return {e.state, e.mac, e.pending_count, e.requests_sent};
}

}  // namespace baton::dp
