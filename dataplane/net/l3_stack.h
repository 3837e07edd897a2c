// Ethernet (with 802.1Q), ARP, IPv4 and ICMP echo for the ports of one worker.
// Sans-IO: frames come in as bytes with a little metadata and time; replies are
// written in place, new frames go out through a FrameSink. The worker glue
// (dataplane/worker.cc) maps mbufs onto this; tests feed crafted frames directly.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/net/bytes.h"
#include "dataplane/net/counters.h"
#include "dataplane/net/neighbor_table.h"

namespace baton::dp {

inline constexpr uint16_t kMaxPorts = 8;

// What one port is, as the L2/L3 code needs it: host-order IPv4 for speed.
struct PortIdentity {
  MacAddr mac;
  uint32_t ip = 0;
  uint32_t netmask = 0;
  uint32_t gateway = 0;            // 0: none
  uint16_t mtu_bytes = 1500;
  uint16_t vlan_id = 0;            // 0: untagged
  bool tx_ip_checksum_offload = false;

  static PortIdentity FromConfig(const PortConfig& config, const MacAddr& mac, bool tx_csum);
  bool OnLink(uint32_t addr) const noexcept { return (addr & netmask) == (ip & netmask); }
};

enum class IpChecksumState : uint8_t { kUnknown, kGood, kBad };  // from the NIC, if it looked

struct RxMeta {
  uint16_t port = 0;
  IpChecksumState ip_checksum = IpChecksumState::kUnknown;
  IpChecksumState l4_checksum = IpChecksumState::kUnknown;  // TCP/UDP checksum, same states
};

// How the NIC should finish a frame we hand it.
struct TxMeta {
  bool ip_checksum_offload = false;  // the IPv4 header checksum is left for the NIC
  uint8_t l2_len = 0;
  uint8_t l3_len = 0;
};

enum class Verdict : uint8_t {
  kDrop,      // reason says why; the caller frees the frame
  kReply,     // the frame was rewritten in place: send tx_len bytes on the same port
  kConsumed,  // fully handled (e.g. an ARP reply we learned from); the caller frees it
  kTcp,       // a valid TCP segment for one of our addresses: see InputResult::tcp
};

// Where a TCP segment sits in a frame that L3 validated (IPv4 header, checksums).
struct TcpView {
  uint32_t src_ip = 0;
  uint32_t dst_ip = 0;
  uint16_t l4_offset = 0;   // from the frame start
  uint16_t l4_len = 0;      // header + payload
};

struct InputResult {
  Verdict verdict = Verdict::kDrop;
  DropReason reason = DropReason::kNone;
  uint16_t tx_len = 0;
  TxMeta tx;
  // A neighbour this frame taught us (ARP sender addressed to us), for the other
  // workers' caches: RSS sends ARP to one queue, but every worker sends packets.
  uint32_t learned_ip = 0;
  MacAddr learned_mac;
  TcpView tcp;  // kTcp
};

// Where new frames go (ARP, TCP segments) and frames that waited for ARP come back.
class FrameSink {
 public:
  struct Buffer {
    MutByteView bytes;        // exactly the length asked for; empty when none was free
    PacketHandle handle = 0;  // names the frame in Send/Discard and in the ARP queue
  };
  // A frame of `len` bytes, to be sent with `tx` offloads.
  virtual Buffer Alloc(uint16_t port, uint16_t len, const TxMeta& tx) = 0;
  virtual void Send(uint16_t port, PacketHandle frame) = 0;
  virtual void Discard(PacketHandle frame) = 0;
  // A frame that waited for ARP can go now: its Ethernet header is complete but for the
  // destination MAC (the first 6 bytes), which is `dst`.
  virtual void ReleasePending(uint16_t port, PacketHandle frame, const MacAddr& dst) = 0;
  virtual void DropPending(uint16_t port, PacketHandle frame) = 0;

 protected:
  ~FrameSink() = default;
};

// Writes the Ethernet (+ 802.1Q) header; returns its length.
uint16_t WriteEthernet(uint8_t* frame, const MacAddr& src, const MacAddr& dst, uint16_t vlan_id,
                       uint16_t ether_type) noexcept;
inline uint16_t EthernetHeaderLen(uint16_t vlan_id) noexcept { return vlan_id ? 18 : 14; }

class L3Stack {
 public:
  L3Stack(const ArpConfig& arp, DpCounters& counters) noexcept;

  // Ports are added once, before traffic; index = DPDK-independent port number 0..n-1.
  void AddPort(const PortIdentity& port);
  // An extra address of `port` (a VIP): TCP and ICMP echo to it are ours. It is never
  // answered in ARP: routers reach VIPs through the port's own address.
  void AddLocalAddress(uint16_t port, uint32_t ip);
  uint16_t PortCount() const noexcept { return uint16_t(ports_.size()); }
  const PortIdentity& Port(uint16_t port) const noexcept { return ports_[port].id; }

  // Announce ourselves (gratuitous ARP, RFC 5227 2.3) and start resolving gateways.
  void Start(uint64_t now_us, FrameSink& sink) noexcept;

  // One received frame.
  InputResult Input(MutByteView frame, const RxMeta& meta, uint64_t now_us, FrameSink& sink) noexcept;

  // Another worker learned `ip` is at `mac` on `port` (InputResult::learned_ip).
  void LearnFromPeer(uint16_t port, uint32_t ip, const MacAddr& mac, uint64_t now_us,
                     FrameSink& sink) noexcept;

  // Next-hop resolution for an IPv4 packet leaving `port` for `dst`: on kHit the caller
  // writes the Ethernet header for mac and sends; on kQueued the packet waits and comes
  // back through sink.ReleasePending or DropPending.
  NeighborTable::Resolved RouteIpv4(uint16_t port, uint32_t dst, PacketHandle pkt, uint64_t now_us,
                                    FrameSink& sink) noexcept;

  // Sends a TCP segment (header with a zero checksum, then payload) from `src` to `dst`
  // on `port`: frames it in Ethernet and IPv4, fills both checksums, resolves the next
  // hop (the frame waits in the ARP queue if needed). False when it was dropped.
  bool SendTcp(uint16_t port, uint32_t src, uint32_t dst, ByteView segment, uint64_t now_us,
               FrameSink& sink) noexcept;

  // Timers (ARP retries and expiry); call every few milliseconds.
  void Advance(uint64_t now_us, FrameSink& sink) noexcept;

  const NeighborTable& Neighbors(uint16_t port) const noexcept { return *ports_[port].neighbors; }

 private:
  struct PortState;
  InputResult InputArp(PortState& p, MutByteView frame, uint16_t l2_len, uint64_t now_us,
                       FrameSink& sink) noexcept;
  InputResult InputIpv4(PortState& p, MutByteView frame, uint16_t l2_len, const RxMeta& meta) noexcept;
  InputResult InputIcmp(PortState& p, MutByteView frame, uint16_t l2_len, uint16_t ihl_bytes,
                        uint16_t total_len, uint32_t local) noexcept;
  InputResult InputTcp(MutByteView frame, uint16_t l2_len, uint16_t ihl_bytes, uint16_t total_len,
                       const RxMeta& meta) noexcept;
  bool IsLocal(const PortState& p, uint32_t ip) const noexcept;
  bool SendArp(uint16_t port, uint16_t op, const MacAddr& eth_dst, const MacAddr& target_mac,
               uint32_t target_ip, FrameSink& sink) noexcept;
  InputResult Drop(DropReason r) noexcept {
    counters_.Drop(r);
    return {Verdict::kDrop, r, 0, {}, 0, {}, {}};
  }

  // Adapts one port's neighbour-table events to frames on the sink.
  struct PortEvents final : NeighborTable::Events {
    PortEvents(L3Stack* s, uint16_t p, FrameSink* f) noexcept : stack(s), port(p), sink(f) {}
    L3Stack* stack;
    uint16_t port;
    FrameSink* sink;
    bool SendArpRequest(uint32_t ip, const MacAddr* unicast) override;
    void ReleasePending(PacketHandle pkt, const MacAddr& mac) override;
    void DropPending(PacketHandle pkt, DropReason reason) override;
  };

  struct PortState {
    PortIdentity id;
    std::unique_ptr<NeighborTable> neighbors;
    std::vector<uint32_t> local;  // VIPs; few per port, so a scan beats a hash
  };

  PortEvents EventsFor(uint16_t port, FrameSink& sink) noexcept { return PortEvents(this, port, &sink); }

  ArpConfig arp_;
  DpCounters& counters_;
  std::vector<PortState> ports_;
  uint16_t ip_id_ = 0;
};

}  // namespace baton::dp
