#include "dataplane/net/l3_stack.h"

#include <algorithm>
#include <cstdio>

#include "dataplane/net/checksum.h"
#include "dataplane/net/wire.h"

namespace baton::dp {
namespace {

using namespace wire;

bool IsMartianSource(uint32_t ip) noexcept {
  return ip == 0 || (ip >> 28) >= 0xe  // zero; multicast (224/4), reserved (240/4), broadcast
         || (ip >> 24) == 127;         // loopback
}

uint32_t PrefixMask(uint8_t len) noexcept { return len == 0 ? 0 : ~uint32_t(0) << (32 - len); }

}  // namespace

std::string MacAddr::ToString() const {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return buf;
}

PortIdentity PortIdentity::FromConfig(const PortConfig& config, const MacAddr& mac, bool tx_csum) {
  PortIdentity id;
  id.mac = mac;
  id.ip = config.address.addr.V4HostOrder();
  id.netmask = PrefixMask(config.address.length);
  id.gateway = config.gateway.IsV4() ? config.gateway.V4HostOrder() : 0;
  id.mtu_bytes = config.mtu_bytes;
  id.vlan_id = config.vlan_id;
  id.tx_ip_checksum_offload = tx_csum;
  return id;
}

uint16_t WriteEthernet(uint8_t* frame, const MacAddr& src, const MacAddr& dst, uint16_t vlan_id,
                       uint16_t ether_type) noexcept {
  dst.Store(frame);
  src.Store(frame + 6);
  if (vlan_id == 0) {
    StoreBe16(frame + kEtherTypeOffset, ether_type);
    return kEtherHeaderLen;
  }
  StoreBe16(frame + kEtherTypeOffset, kEtherTypeVlan);
  StoreBe16(frame + 14, vlan_id);  // PCP 0, DEI 0
  StoreBe16(frame + 16, ether_type);
  return kEtherHeaderLen + kVlanTagLen;
}

L3Stack::L3Stack(const ArpConfig& arp, DpCounters& counters) noexcept : arp_(arp), counters_(counters) {}

void L3Stack::AddPort(const PortIdentity& port) {
  ports_.push_back(PortState{port, std::make_unique<NeighborTable>(arp_, counters_), {}});
}

void L3Stack::AddLocalAddress(uint16_t port, uint32_t ip) {
  if (port < ports_.size() && !IsLocal(ports_[port], ip)) ports_[port].local.push_back(ip);
}

bool L3Stack::IsLocal(const PortState& p, uint32_t ip) const noexcept {
  if (ip == p.id.ip) return true;
  for (uint32_t a : p.local)
    if (a == ip) return true;
  return false;
}

void L3Stack::Start(uint64_t now_us, FrameSink& sink) noexcept {
  for (uint16_t i = 0; i < ports_.size(); ++i) {
    const PortIdentity& id = ports_[i].id;
    // RFC 5227 2.3: an ARP Announcement is a request with sender = target = our address.
    if (SendArp(i, kArpOpRequest, MacAddr::Broadcast(), MacAddr{}, id.ip, sink))
      counters_.Count(Counter::kGratuitousArpSent);
    if (id.gateway != 0) {
      PortEvents events = EventsFor(i, sink);
      (void)ports_[i].neighbors->Resolve(id.gateway, 0, now_us, events);
    }
  }
}

bool L3Stack::SendArp(uint16_t port, uint16_t op, const MacAddr& eth_dst, const MacAddr& target_mac,
                      uint32_t target_ip, FrameSink& sink) noexcept {
  const PortIdentity& id = ports_[port].id;
  const uint16_t l2_len = EthernetHeaderLen(id.vlan_id);
  const uint16_t len = std::max<uint16_t>(kMinFrameLen, l2_len + kArpLen);
  const FrameSink::Buffer buf = sink.Alloc(port, len, TxMeta{});
  if (buf.bytes.size() < len) {
    counters_.Drop(DropReason::kNoMbuf);
    return false;
  }
  std::fill(buf.bytes.begin(), buf.bytes.begin() + len, uint8_t{0});
  uint8_t* f = buf.bytes.data();
  WriteEthernet(f, id.mac, eth_dst, id.vlan_id, kEtherTypeArp);
  uint8_t* a = f + l2_len;
  StoreBe16(a + kArpOffHtype, kArpHtypeEthernet);
  StoreBe16(a + kArpOffPtype, kEtherTypeIpv4);
  a[kArpOffHlen] = 6;
  a[kArpOffPlen] = 4;
  StoreBe16(a + kArpOffOp, op);
  id.mac.Store(a + kArpOffSha);
  StoreBe32(a + kArpOffSpa, id.ip);
  target_mac.Store(a + kArpOffTha);
  StoreBe32(a + kArpOffTpa, target_ip);
  sink.Send(port, buf.handle);
  return true;
}

InputResult L3Stack::Input(MutByteView frame, const RxMeta& meta, uint64_t now_us,
                           FrameSink& sink) noexcept {
  if (meta.port >= ports_.size()) [[unlikely]] return Drop(DropReason::kNoNextHop);
  PortState& p = ports_[meta.port];
  if (frame.size() < kEtherHeaderLen) return Drop(DropReason::kShortFrame);

  const MacAddr dst = MacAddr::Load(frame.data());
  if (!dst.IsMulticast() && dst != p.id.mac) return Drop(DropReason::kNotOurMac);

  uint16_t l2_len = kEtherHeaderLen;
  uint16_t ether_type = LoadBe16(&frame[kEtherTypeOffset]);
  uint16_t vlan_id = 0;
  if (ether_type == kEtherTypeVlan) {
    if (frame.size() < kEtherHeaderLen + kVlanTagLen) return Drop(DropReason::kShortFrame);
    vlan_id = LoadBe16(&frame[14]) & 0x0fff;
    ether_type = LoadBe16(&frame[16]);
    l2_len += kVlanTagLen;
  }
  // An untagged port also accepts priority-tagged frames (VID 0, IEEE 802.1Q 6.9.1).
  if (vlan_id != p.id.vlan_id) return Drop(DropReason::kVlanMismatch);
  if (frame.size() > size_t(p.id.mtu_bytes) + l2_len) return Drop(DropReason::kFrameTooLong);

  switch (ether_type) {
    case kEtherTypeArp:
      return InputArp(p, frame, l2_len, now_us, sink);
    case kEtherTypeIpv4:
      return InputIpv4(p, frame, l2_len, meta);
    default:
      return Drop(DropReason::kUnknownEtherType);
  }
}

InputResult L3Stack::InputArp(PortState& p, MutByteView frame, uint16_t l2_len, uint64_t now_us,
                              FrameSink& sink) noexcept {
  if (frame.size() < size_t(l2_len) + kArpLen) return Drop(DropReason::kArpMalformed);
  uint8_t* a = frame.data() + l2_len;
  const uint16_t op = LoadBe16(a + kArpOffOp);
  // RFC 826: we only speak Ethernet/IPv4 ARP; anything else is malformed for us.
  if (LoadBe16(a + kArpOffHtype) != kArpHtypeEthernet || LoadBe16(a + kArpOffPtype) != kEtherTypeIpv4 ||
      a[kArpOffHlen] != 6 || a[kArpOffPlen] != 4 || (op != kArpOpRequest && op != kArpOpReply))
    return Drop(DropReason::kArpMalformed);

  const MacAddr sha = MacAddr::Load(a + kArpOffSha);
  const uint32_t spa = LoadBe32(a + kArpOffSpa);
  const uint32_t tpa = LoadBe32(a + kArpOffTpa);
  if (sha.IsMulticast() || sha.IsZero() || sha == p.id.mac) return Drop(DropReason::kArpBadSender);
  // spa == 0 is an RFC 5227 probe: answer it, learn nothing from it.
  if (spa == p.id.ip || (spa != 0 && IsMartianSource(spa))) return Drop(DropReason::kArpBadSender);

  const bool for_us = tpa == p.id.ip;
  const uint16_t port = uint16_t(&p - ports_.data());
  if (spa != 0) {
    // RFC 826 "merge": update a known sender always; add it only if the message was
    // addressed to us.
    PortEvents events = EventsFor(port, sink);
    p.neighbors->Learn(spa, sha, for_us, now_us, events);
  }
  if (!for_us) return Drop(DropReason::kArpNotForUs);

  if (op == kArpOpReply) {
    counters_.Count(Counter::kArpRepliesReceived);
    return {Verdict::kConsumed, DropReason::kNone, 0, {}, spa, sha, {}};
  }
  // Turn the request into our reply in place; the VLAN tag, if any, stays as it is.
  sha.Store(frame.data());
  p.id.mac.Store(frame.data() + 6);
  StoreBe16(a + kArpOffOp, kArpOpReply);
  sha.Store(a + kArpOffTha);
  StoreBe32(a + kArpOffTpa, spa);
  p.id.mac.Store(a + kArpOffSha);
  StoreBe32(a + kArpOffSpa, p.id.ip);
  counters_.Count(Counter::kArpRequestsAnswered);
  return {Verdict::kReply, DropReason::kNone, uint16_t(frame.size()), {}, spa, sha, {}};
}

InputResult L3Stack::InputIpv4(PortState& p, MutByteView frame, uint16_t l2_len,
                               const RxMeta& meta) noexcept {
  const size_t avail = frame.size() - l2_len;
  if (avail < kIpv4MinHeaderLen) return Drop(DropReason::kIpv4Short);
  uint8_t* ip = frame.data() + l2_len;
  if ((ip[kIpv4OffVerIhl] >> 4) != 4) return Drop(DropReason::kIpv4BadVersion);
  const uint16_t ihl_bytes = uint16_t((ip[kIpv4OffVerIhl] & 0x0f) * 4);
  if (ihl_bytes < kIpv4MinHeaderLen) return Drop(DropReason::kIpv4BadIhl);
  if (ihl_bytes > avail) return Drop(DropReason::kIpv4Short);
  const uint16_t total_len = LoadBe16(ip + kIpv4OffTotalLen);
  // Bytes past total_len are Ethernet padding; a total_len past the frame is a lie.
  if (total_len < ihl_bytes || total_len > avail) return Drop(DropReason::kIpv4BadTotalLength);
  if (meta.ip_checksum == IpChecksumState::kBad ||
      (meta.ip_checksum == IpChecksumState::kUnknown && !ChecksumOk({ip, ihl_bytes})))
    return Drop(DropReason::kIpv4BadChecksum);

  const uint32_t src = LoadBe32(ip + kIpv4OffSrc);
  const uint32_t dst = LoadBe32(ip + kIpv4OffDst);
  // A /31 has no broadcast address (RFC 3021).
  const bool subnet_broadcast = p.id.netmask < 0xfffffffeu && (src | p.id.netmask) == 0xffffffffu &&
                                p.id.OnLink(src);
  if (IsMartianSource(src) || src == p.id.ip || subnet_broadcast) return Drop(DropReason::kIpv4BadSource);
  if (!IsLocal(p, dst)) return Drop(DropReason::kIpv4NotForUs);
  if ((LoadBe16(ip + kIpv4OffFrag) & (kIpv4FlagMf | kIpv4FragOffsetMask)) != 0)
    return Drop(DropReason::kIpv4Fragment);
  // RFC 1122 3.2.1.7: a host must not send TTL 0, so such a datagram was mangled.
  if (ip[kIpv4OffTtl] == 0) return Drop(DropReason::kIpv4TtlExpired);

  switch (ip[kIpv4OffProto]) {
    case kIpProtoIcmp:
      return InputIcmp(p, frame, l2_len, ihl_bytes, total_len, dst);
    case kIpProtoTcp:
      return InputTcp(frame, l2_len, ihl_bytes, total_len, meta);
    default:
      return Drop(DropReason::kIpv4UnknownProtocol);
  }
}

InputResult L3Stack::InputIcmp(PortState& p, MutByteView frame, uint16_t l2_len, uint16_t ihl_bytes,
                               uint16_t total_len, uint32_t local) noexcept {
  uint8_t* ip = frame.data() + l2_len;
  uint8_t* icmp = ip + ihl_bytes;
  const uint16_t icmp_len = uint16_t(total_len - ihl_bytes);
  if (icmp_len < kIcmpHeaderLen) return Drop(DropReason::kIcmpShort);
  if (!ChecksumOk({icmp, icmp_len})) return Drop(DropReason::kIcmpBadChecksum);
  if (icmp[0] != kIcmpEchoRequest) return Drop(DropReason::kIcmpUnsupportedType);

  // RFC 792: the echo reply carries the request's identifier, sequence and data.
  icmp[0] = kIcmpEchoReply;
  icmp[1] = 0;
  StoreBe16(icmp + 2, 0);
  StoreBe16(icmp + 2, FoldChecksum(OnesSum({icmp, icmp_len})));

  const uint32_t src = LoadBe32(ip + kIpv4OffSrc);
  StoreBe32(ip + kIpv4OffDst, src);
  StoreBe32(ip + kIpv4OffSrc, local);  // answer from the address that was pinged (port or VIP)
  ip[kIpv4OffTtl] = kDefaultTtl;
  StoreBe16(ip + kIpv4OffId, ip_id_++);
  TxMeta tx{p.id.tx_ip_checksum_offload, uint8_t(l2_len), uint8_t(ihl_bytes)};
  StoreBe16(ip + kIpv4OffChecksum, 0);
  if (!tx.ip_checksum_offload) SetIpv4HeaderChecksum({ip, ihl_bytes});

  // Reply to the Ethernet sender: the router for off-link clients, the host otherwise.
  const MacAddr requester = MacAddr::Load(frame.data() + 6);
  requester.Store(frame.data());
  p.id.mac.Store(frame.data() + 6);
  counters_.Count(Counter::kIcmpEchoAnswered);
  return {Verdict::kReply, DropReason::kNone, uint16_t(l2_len + total_len), tx, 0, {}, {}};
}

InputResult L3Stack::InputTcp(MutByteView frame, uint16_t l2_len, uint16_t ihl_bytes, uint16_t total_len,
                              const RxMeta& meta) noexcept {
  constexpr uint16_t kTcpMinHeader = 20;
  const uint8_t* ip = frame.data() + l2_len;
  const uint16_t l4_len = uint16_t(total_len - ihl_bytes);
  if (l4_len < kTcpMinHeader) return Drop(DropReason::kTcpShort);
  const uint32_t src = LoadBe32(ip + kIpv4OffSrc);
  const uint32_t dst = LoadBe32(ip + kIpv4OffDst);
  const uint8_t* tcp = ip + ihl_bytes;
  if (meta.l4_checksum == IpChecksumState::kBad ||
      (meta.l4_checksum == IpChecksumState::kUnknown &&
       FoldChecksum(OnesSum({tcp, l4_len}, PseudoHeaderSum(src, dst, kIpProtoTcp, l4_len))) != 0))
    return Drop(DropReason::kTcpBadChecksum);
  InputResult r{Verdict::kTcp, DropReason::kNone, 0, {}, 0, {}, {}};
  r.tcp = TcpView{src, dst, uint16_t(l2_len + ihl_bytes), l4_len};
  return r;
}

bool L3Stack::SendTcp(uint16_t port, uint32_t src, uint32_t dst, ByteView segment, uint64_t now_us,
                      FrameSink& sink) noexcept {
  const PortIdentity& id = ports_[port].id;
  if (segment.size() < 20) [[unlikely]] {  // no room for the checksum we fill in
    counters_.Drop(DropReason::kTcpShort);
    return false;
  }
  const uint16_t l2_len = EthernetHeaderLen(id.vlan_id);
  const size_t ip_len = kIpv4MinHeaderLen + segment.size();
  if (ip_len > id.mtu_bytes) [[unlikely]] {
    counters_.Drop(DropReason::kFrameTooLong);
    return false;
  }
  const TxMeta tx{id.tx_ip_checksum_offload, uint8_t(l2_len), uint8_t(kIpv4MinHeaderLen)};
  const FrameSink::Buffer buf = sink.Alloc(port, uint16_t(l2_len + ip_len), tx);
  if (buf.bytes.empty()) {
    counters_.Drop(DropReason::kNoMbuf);
    return false;
  }
  uint8_t* f = buf.bytes.data();
  WriteEthernet(f, id.mac, MacAddr{}, id.vlan_id, kEtherTypeIpv4);  // destination set below
  uint8_t* ip = f + l2_len;
  ip[kIpv4OffVerIhl] = 0x45;
  ip[kIpv4OffTos] = 0;
  StoreBe16(ip + kIpv4OffTotalLen, uint16_t(ip_len));
  StoreBe16(ip + kIpv4OffId, ip_id_++);
  StoreBe16(ip + kIpv4OffFrag, kIpv4FlagDf);  // TCP sizes segments to the MTU: never fragment
  ip[kIpv4OffTtl] = kDefaultTtl;
  ip[kIpv4OffProto] = kIpProtoTcp;
  StoreBe32(ip + kIpv4OffSrc, src);
  StoreBe32(ip + kIpv4OffDst, dst);
  StoreBe16(ip + kIpv4OffChecksum, 0);
  if (!tx.ip_checksum_offload) SetIpv4HeaderChecksum({ip, kIpv4MinHeaderLen});
  uint8_t* tcp = ip + kIpv4MinHeaderLen;
  std::copy(segment.begin(), segment.end(), tcp);
  constexpr size_t kTcpChecksumOffset = 16;
  StoreBe16(tcp + kTcpChecksumOffset, 0);
  StoreBe16(tcp + kTcpChecksumOffset,
            FoldChecksum(OnesSum({tcp, segment.size()},
                                 PseudoHeaderSum(src, dst, kIpProtoTcp, uint16_t(segment.size())))));

  const NeighborTable::Resolved r = RouteIpv4(port, dst, buf.handle, now_us, sink);
  switch (r.kind) {
    case NeighborTable::ResolveKind::kHit:
      r.mac.Store(f);
      sink.Send(port, buf.handle);
      return true;
    case NeighborTable::ResolveKind::kQueued:
      return true;
    case NeighborTable::ResolveKind::kDropped:
      sink.Discard(buf.handle);
      return false;
  }
  return false;
}

void L3Stack::LearnFromPeer(uint16_t port, uint32_t ip, const MacAddr& mac, uint64_t now_us,
                            FrameSink& sink) noexcept {
  if (port >= ports_.size()) return;
  PortEvents events = EventsFor(port, sink);
  ports_[port].neighbors->Learn(ip, mac, /*create=*/true, now_us, events);
}

NeighborTable::Resolved L3Stack::RouteIpv4(uint16_t port, uint32_t dst, PacketHandle pkt,
                                           uint64_t now_us, FrameSink& sink) noexcept {
  PortState& p = ports_[port];
  const uint32_t next_hop = p.id.OnLink(dst) ? dst : p.id.gateway;
  if (next_hop == 0) {
    counters_.Drop(DropReason::kNoNextHop);
    return {NeighborTable::ResolveKind::kDropped, {}, DropReason::kNoNextHop};
  }
  PortEvents events = EventsFor(port, sink);
  NeighborTable::Resolved r = p.neighbors->Resolve(next_hop, pkt, now_us, events);
  if (r.kind == NeighborTable::ResolveKind::kDropped) counters_.Drop(r.reason);
  return r;
}

void L3Stack::Advance(uint64_t now_us, FrameSink& sink) noexcept {
  for (uint16_t i = 0; i < ports_.size(); ++i) {
    PortEvents events = EventsFor(i, sink);
    ports_[i].neighbors->Advance(now_us, events);
  }
}

bool L3Stack::PortEvents::SendArpRequest(uint32_t ip, const MacAddr* unicast) {
  return stack->SendArp(port, kArpOpRequest, unicast ? *unicast : MacAddr::Broadcast(),
                 unicast ? *unicast : MacAddr{}, ip, *sink);
}

void L3Stack::PortEvents::ReleasePending(PacketHandle pkt, const MacAddr& mac) {
  sink->ReleasePending(port, pkt, mac);
}

void L3Stack::PortEvents::DropPending(PacketHandle pkt, DropReason) { sink->DropPending(port, pkt); }

}  // namespace baton::dp
