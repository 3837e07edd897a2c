// IPv4 neighbours of one port (ARP cache): resolution with retries, a bounded queue of
// packets waiting per unresolved next hop, confirmation and expiry. Sans-IO: the table
// never sends anything itself; it tells its Events what to send or release.
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/api/config.h"
#include "dataplane/net/bytes.h"
#include "dataplane/net/counters.h"

namespace baton::dp {

// Opaque to the table; the data plane glue stores an rte_mbuf* in it.
using PacketHandle = uintptr_t;

enum class NeighborState : uint8_t { kFree, kIncomplete, kReachable, kFailed };

class NeighborTable {
 public:
  static constexpr uint32_t kSlots = 1024;        // power of two; open addressing
  static constexpr uint32_t kMaxEntries = 768;    // load factor cap of 3/4
  static constexpr uint16_t kMaxPending = 64;     // config pending_packets is checked against it

  struct Events {
    // Send an ARP request for `ip`; to `unicast` when set (a refresh), else broadcast.
    // False when it could not be sent (no buffer): the retry timer tries again.
    virtual bool SendArpRequest(uint32_t ip, const MacAddr* unicast) = 0;
    virtual void ReleasePending(PacketHandle pkt, const MacAddr& mac) = 0;
    virtual void DropPending(PacketHandle pkt, DropReason reason) = 0;

   protected:
    ~Events() = default;
  };

  enum class ResolveKind : uint8_t { kHit, kQueued, kDropped };
  struct Resolved {
    ResolveKind kind;
    MacAddr mac;            // kHit
    DropReason reason;      // kDropped
  };

  NeighborTable(const ArpConfig& config, DpCounters& counters) noexcept;

  // Finds the MAC for `ip`. On a miss the packet (if any, 0 = none) waits in the
  // entry's queue and a request goes out at once; later requests come from Advance().
  Resolved Resolve(uint32_t ip, PacketHandle pkt, uint64_t now_us, Events& events) noexcept;

  // An ARP message told us `ip` is at `mac`. `create`: add the entry when absent
  // (RFC 826: only when the message was addressed to us); otherwise update only.
  void Learn(uint32_t ip, const MacAddr& mac, bool create, uint64_t now_us, Events& events) noexcept;

  // Retries, failures and expiry; call every few milliseconds.
  void Advance(uint64_t now_us, Events& events) noexcept;

  // Read-only view for stats and tests.
  struct View {
    NeighborState state;
    MacAddr mac;
    uint16_t pending;
    uint8_t requests_sent;
  };
  View Find(uint32_t ip) const noexcept;
  uint32_t Size() const noexcept { return used_; }

 private:
  struct Entry {
    uint32_t ip = 0;
    NeighborState state = NeighborState::kFree;
    uint8_t requests_sent = 0;     // incomplete: requests so far; reachable: unanswered refreshes
    uint16_t pending_count = 0;
    MacAddr mac;
    uint64_t confirmed_us = 0;     // last time an ARP message confirmed it
    uint64_t next_request_us = 0;  // incomplete: next retry; reachable: refresh in flight until
    std::array<PacketHandle, kMaxPending> pending{};
  };

  uint32_t SlotOf(uint32_t ip) const noexcept;        // kSlots when absent
  uint32_t Insert(uint32_t ip, uint64_t now_us) noexcept;  // kSlots when full
  void Erase(uint32_t slot) noexcept;
  void FailPending(Entry& e, DropReason reason, Events& events) noexcept;
  void StartResolution(Entry& e, uint64_t now_us, Events& events) noexcept;
  void Request(uint32_t ip, const MacAddr* unicast, Events& events) noexcept;

  ArpConfig config_;
  DpCounters& counters_;
  uint32_t used_ = 0;
  std::array<Entry, kSlots> slots_{};
};

}  // namespace baton::dp
