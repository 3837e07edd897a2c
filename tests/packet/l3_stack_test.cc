// Crafted frames through L3Stack::Input (STYLE.md 18): each row is one frame, the
// verdict, the one drop counter that must move, and for replies the exact bytes.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "dataplane/net/l3_stack.h"
#include "tests/packet/fake_sink.h"
#include "tests/packet/frame_builder.h"

namespace baton::dp {
namespace {

using namespace testkit;
using R = DropReason;
using V = Verdict;

constexpr MacAddr kOurMac = Mac(0x02, 0, 0, 0, 0, 0x01);
constexpr MacAddr kPeerMac = Mac(0x02, 0, 0, 0, 0, 0x0a);
constexpr MacAddr kRouterMac = Mac(0x02, 0, 0, 0, 0, 0xfe);
constexpr MacAddr kOtherMac = Mac(0x02, 0, 0, 0, 0, 0x99);
constexpr MacAddr kBroadcast = Mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
constexpr MacAddr kZeroMac = Mac(0, 0, 0, 0, 0, 0);
constexpr MacAddr kMcastMac = Mac(0x01, 0x00, 0x5e, 0x00, 0x00, 0x01);  // 224.0.0.1

constexpr uint32_t kOurIp = Ip4(10, 0, 0, 1);
constexpr uint32_t kPeerIp = Ip4(10, 0, 0, 10);
constexpr uint32_t kGateway = Ip4(10, 0, 0, 254);
constexpr uint32_t kRemoteIp = Ip4(198, 51, 100, 7);  // off-link, reaches us via the router
constexpr uint64_t kNowUs = 5'000'000;

constexpr uint16_t kMtu = 1500;
constexpr uint16_t kVid = 10;
constexpr uint8_t kPadFill = 0xa5;  // non-zero, so "padding kept" means kept, not re-zeroed

enum class PortKind : uint8_t { kPlain, kVlan10, kTxOffload };

PortIdentity PortFor(PortKind kind) {
  PortIdentity p;
  p.mac = kOurMac;
  p.ip = kOurIp;
  p.netmask = 0xffffff00u;
  p.gateway = kGateway;
  p.mtu_bytes = kMtu;
  p.vlan_id = kind == PortKind::kVlan10 ? kVid : 0;
  p.tx_ip_checksum_offload = kind == PortKind::kTxOffload;
  return p;
}

// --- Frames the table is made of ---

Pkt ArpRequest(uint32_t tpa = kOurIp) {
  return Pkt().Eth(kPeerMac, kBroadcast).Arp(kArpRequest, kPeerMac, kPeerIp, kZeroMac, tpa);
}
Pkt ArpFrom(const MacAddr& sha, uint32_t spa) {
  return Pkt().Eth(kPeerMac, kBroadcast).Arp(kArpRequest, sha, spa, kZeroMac, kOurIp).PadTo(60);
}
Pkt ArpWithOp(uint16_t op) {
  return Pkt().Eth(kPeerMac, kBroadcast).Arp(op, kPeerMac, kPeerIp, kZeroMac, kOurIp).PadTo(60);
}
// What an answered ArpRequest() must turn into.
Pkt ArpAnswer() { return Pkt().Eth(kOurMac, kPeerMac).Arp(kArpReply, kOurMac, kOurIp, kPeerMac, kPeerIp); }

constexpr uint16_t kEchoId = 0x0777, kEchoSeq = 3;

Pkt EchoRequest(size_t payload_len = 56) {
  return Pkt().Eth(kPeerMac, kOurMac).Ipv4(kPeerIp, kOurIp).Ttl(57).Id(0x4242).Icmp(
      kEchoRequest, kEchoId, kEchoSeq, Counting(payload_len, 0x30));
}
// The reply to EchoRequest(): addresses swapped, TTL 64, and IP ID 0 because each case
// runs on a fresh stack, which numbers the datagrams it originates from 0.
Pkt EchoReply(size_t payload_len = 56) {
  return Pkt().Eth(kOurMac, kPeerMac).Ipv4(kOurIp, kPeerIp).Ttl(64).Id(0).Icmp(
      kEchoReply, kEchoId, kEchoSeq, Counting(payload_len, 0x30));
}
// Largest payload whose datagram is exactly the MTU: 1500 - 20 (IP) - 8 (ICMP).
constexpr size_t kMaxEchoPayload = kMtu - 28;

TxMeta Tx(uint8_t l2_len, uint8_t l3_len, bool offload = false) { return TxMeta{offload, l2_len, l3_len}; }
const TxMeta kTxEcho = Tx(14, 20);

struct PacketCase {
  std::string name;
  PortKind port;
  Pkt in;
  Verdict verdict;
  DropReason reason;
  std::optional<Pkt> out = std::nullopt;  // expected frame[0, tx_len) for kReply
  TxMeta tx = {};                         // expected TxMeta for kReply
  IpChecksumState rx_csum = IpChecksumState::kUnknown;
};

void PrintTo(const PacketCase& c, std::ostream* os) { *os << c.name; }

constexpr auto kPlain = PortKind::kPlain;
constexpr auto kVlan = PortKind::kVlan10;
constexpr auto kOffload = PortKind::kTxOffload;

std::vector<PacketCase> Cases() {
  return {
      // ----- ARP answered -----
      {"ARP request for us, padded", kPlain, ArpRequest().PadTo(60, kPadFill), V::kReply, R::kNone,
       ArpAnswer().PadTo(60, kPadFill)},
      {"ARP request for us, unpadded 42 bytes", kPlain, ArpRequest(), V::kReply, R::kNone, ArpAnswer()},
      {"ARP request for us on VLAN port", kVlan, ArpRequest().Vlan(kVid).PadTo(64, kPadFill), V::kReply,
       R::kNone, ArpAnswer().Vlan(kVid).PadTo(64, kPadFill)},
      {"ARP request VLAN with PCP keeps the tag", kVlan, ArpRequest().Vlan(kVid, 6).PadTo(64), V::kReply,
       R::kNone, ArpAnswer().Vlan(kVid, 6).PadTo(64)},
      {"ARP request priority tag VID 0 on untagged port", kPlain, ArpRequest().Vlan(0, 5).PadTo(64),
       V::kReply, R::kNone, ArpAnswer().Vlan(0, 5).PadTo(64)},
      {"ARP request to a multicast MAC", kPlain, ArpRequest().Eth(kPeerMac, kMcastMac).PadTo(60),
       V::kReply, R::kNone, ArpAnswer().PadTo(60)},
      {"ARP request unicast to us", kPlain, ArpRequest().Eth(kPeerMac, kOurMac).PadTo(60), V::kReply,
       R::kNone, ArpAnswer().PadTo(60)},
      {"ARP request from a MAC other than the Ethernet source", kPlain,
       Pkt().Eth(kOtherMac, kBroadcast).Arp(kArpRequest, kPeerMac, kPeerIp, kZeroMac, kOurIp).PadTo(60),
       V::kReply, R::kNone, ArpAnswer().PadTo(60)},
      {"ARP probe (sender IP 0) is answered", kPlain, ArpFrom(kPeerMac, 0), V::kReply, R::kNone,
       Pkt().Eth(kOurMac, kPeerMac).Arp(kArpReply, kOurMac, kOurIp, kPeerMac, 0).PadTo(60)},
      {"ARP reply for us is consumed", kPlain,
       Pkt().Eth(kPeerMac, kOurMac).Arp(kArpReply, kPeerMac, kPeerIp, kOurMac, kOurIp).PadTo(60),
       V::kConsumed, R::kNone},

      // ----- ARP not for us -----
      {"ARP request for another address", kPlain, ArpRequest(Ip4(10, 0, 0, 2)).PadTo(60), V::kDrop,
       R::kArpNotForUs},
      {"ARP reply for another host", kPlain,
       Pkt().Eth(kPeerMac, kBroadcast).Arp(kArpReply, kPeerMac, kPeerIp, kOtherMac, Ip4(10, 0, 0, 3)),
       V::kDrop, R::kArpNotForUs},
      {"gratuitous ARP from a peer", kPlain,
       Pkt().Eth(kPeerMac, kBroadcast).Arp(kArpRequest, kPeerMac, kPeerIp, kZeroMac, kPeerIp), V::kDrop,
       R::kArpNotForUs},

      // ----- ARP malformed (RFC 826: Ethernet/IPv4 only) -----
      {"ARP htype 6 (IEEE 802)", kPlain, ArpRequest().ArpHtype(6).PadTo(60), V::kDrop, R::kArpMalformed},
      {"ARP ptype IPv6", kPlain, ArpRequest().ArpPtype(kEtherIpv6).PadTo(60), V::kDrop, R::kArpMalformed},
      {"ARP hlen 8", kPlain, ArpRequest().ArpHlen(8).PadTo(60), V::kDrop, R::kArpMalformed},
      {"ARP hlen 0", kPlain, ArpRequest().ArpHlen(0).PadTo(60), V::kDrop, R::kArpMalformed},
      {"ARP plen 16", kPlain, ArpRequest().ArpPlen(16).PadTo(60), V::kDrop, R::kArpMalformed},
      {"ARP op 0", kPlain, ArpWithOp(0), V::kDrop, R::kArpMalformed},
      {"ARP op 3 (RARP request)", kPlain, ArpWithOp(3), V::kDrop, R::kArpMalformed},
      {"ARP truncated by one byte", kPlain, ArpRequest().Truncate(14 + 27), V::kDrop, R::kArpMalformed},
      {"ARP with EtherType only", kPlain, ArpRequest().Truncate(14), V::kDrop, R::kArpMalformed},
      {"ARP truncated on VLAN port", kVlan, ArpRequest().Vlan(kVid).Truncate(18 + 27), V::kDrop,
       R::kArpMalformed},

      // ----- ARP bad sender -----
      {"ARP sender MAC broadcast", kPlain, ArpFrom(kBroadcast, kPeerIp), V::kDrop, R::kArpBadSender},
      {"ARP sender MAC multicast", kPlain, ArpFrom(kMcastMac, kPeerIp), V::kDrop, R::kArpBadSender},
      {"ARP sender MAC zero", kPlain, ArpFrom(kZeroMac, kPeerIp), V::kDrop, R::kArpBadSender},
      {"ARP sender MAC is ours", kPlain, ArpFrom(kOurMac, kPeerIp), V::kDrop, R::kArpBadSender},
      {"ARP sender IP is ours (conflict)", kPlain, ArpFrom(kPeerMac, kOurIp), V::kDrop, R::kArpBadSender},
      {"ARP sender IP multicast", kPlain, ArpFrom(kPeerMac, Ip4(224, 0, 0, 5)), V::kDrop, R::kArpBadSender},
      {"ARP sender IP broadcast", kPlain, ArpFrom(kPeerMac, Ip4(255, 255, 255, 255)), V::kDrop,
       R::kArpBadSender},
      {"ARP sender IP loopback", kPlain, ArpFrom(kPeerMac, Ip4(127, 0, 0, 1)), V::kDrop, R::kArpBadSender},

      // ----- Ethernet and VLAN -----
      {"empty frame", kPlain, EchoRequest().Truncate(0), V::kDrop, R::kShortFrame},
      {"13-byte frame", kPlain, EchoRequest().Truncate(13), V::kDrop, R::kShortFrame},
      {"VLAN tag cut short", kVlan, EchoRequest().Vlan(kVid).Truncate(17), V::kDrop, R::kShortFrame},
      {"unicast to another MAC (IPv4)", kPlain, EchoRequest().Eth(kPeerMac, kOtherMac), V::kDrop,
       R::kNotOurMac},
      {"unicast to another MAC (ARP)", kPlain, ArpRequest().Eth(kPeerMac, kOtherMac).PadTo(60), V::kDrop,
       R::kNotOurMac},
      {"tagged VID 10 on untagged port", kPlain, EchoRequest().Vlan(kVid), V::kDrop, R::kVlanMismatch},
      {"untagged on VLAN port", kVlan, EchoRequest(), V::kDrop, R::kVlanMismatch},
      {"wrong VID on VLAN port", kVlan, EchoRequest().Vlan(20), V::kDrop, R::kVlanMismatch},
      {"priority tag VID 0 on VLAN port", kVlan, EchoRequest().Vlan(0), V::kDrop, R::kVlanMismatch},
      {"ARP untagged on VLAN port", kVlan, ArpRequest().PadTo(60), V::kDrop, R::kVlanMismatch},
      {"IPv6 EtherType", kPlain, Pkt().Eth(kPeerMac, kOurMac).EtherType(kEtherIpv6).PadTo(60), V::kDrop,
       R::kUnknownEtherType},
      {"LLDP to its multicast MAC", kPlain,
       Pkt().Eth(kPeerMac, Mac(0x01, 0x80, 0xc2, 0, 0, 0x0e)).EtherType(0x88cc).PadTo(60), V::kDrop,
       R::kUnknownEtherType},
      {"802.1ad outer tag", kPlain, Pkt().Eth(kPeerMac, kOurMac).EtherType(0x88a8).PadTo(60), V::kDrop,
       R::kUnknownEtherType},
      {"VLAN port: inner EtherType IPv6", kVlan,
       Pkt().Eth(kPeerMac, kOurMac).Vlan(kVid).EtherType(kEtherIpv6).PadTo(64), V::kDrop,
       R::kUnknownEtherType},

      // ----- MTU -----
      {"echo exactly at MTU", kPlain, EchoRequest(kMaxEchoPayload), V::kReply, R::kNone,
       EchoReply(kMaxEchoPayload), kTxEcho},
      {"echo one byte above MTU", kPlain, EchoRequest(kMaxEchoPayload + 1), V::kDrop, R::kFrameTooLong},
      {"padding beyond MTU", kPlain, EchoRequest(kMaxEchoPayload).PadTo(14 + kMtu + 1), V::kDrop,
       R::kFrameTooLong},
      {"VLAN: echo exactly at MTU", kVlan, EchoRequest(kMaxEchoPayload).Vlan(kVid), V::kReply, R::kNone,
       EchoReply(kMaxEchoPayload).Vlan(kVid), Tx(18, 20)},
      {"VLAN: echo one byte above MTU", kVlan, EchoRequest(kMaxEchoPayload + 1).Vlan(kVid), V::kDrop,
       R::kFrameTooLong},

      // ----- IPv4 header -----
      {"IPv4 header 19 bytes", kPlain, EchoRequest().Truncate(14 + 19), V::kDrop, R::kIpv4Short},
      {"IPv4 EtherType, no header", kPlain, EchoRequest().Truncate(14), V::kDrop, R::kIpv4Short},
      {"IPv4 version 6", kPlain, EchoRequest().Version(6), V::kDrop, R::kIpv4BadVersion},
      {"IPv4 version 0", kPlain, EchoRequest().Version(0), V::kDrop, R::kIpv4BadVersion},
      {"IPv4 ihl 4", kPlain, EchoRequest().Ihl(4), V::kDrop, R::kIpv4BadIhl},
      {"IPv4 ihl 0", kPlain, EchoRequest().Ihl(0), V::kDrop, R::kIpv4BadIhl},
      {"IPv4 ihl 15 beyond the frame", kPlain, EchoRequest(0).Ihl(15).Truncate(14 + 40), V::kDrop,
       R::kIpv4Short},
      {"IPv4 total length below header", kPlain, EchoRequest().TotalLength(19), V::kDrop,
       R::kIpv4BadTotalLength},
      {"IPv4 total length 0", kPlain, EchoRequest().TotalLength(0), V::kDrop, R::kIpv4BadTotalLength},
      {"IPv4 total length below ihl 6", kPlain, EchoRequest().Ihl(6).TotalLength(23), V::kDrop,
       R::kIpv4BadTotalLength},
      {"IPv4 total length one past frame", kPlain, EchoRequest(10).TotalLength(20 + 8 + 11), V::kDrop,
       R::kIpv4BadTotalLength},
      {"IPv4 frame cut inside the payload", kPlain, EchoRequest(10).Truncate(14 + 20 + 8 + 9), V::kDrop,
       R::kIpv4BadTotalLength},
      {"IPv4 total length 65535", kPlain, EchoRequest().TotalLength(65535), V::kDrop,
       R::kIpv4BadTotalLength},
      {"Ethernet padding after total length", kPlain, EchoRequest(0).PadTo(60, kPadFill), V::kReply,
       R::kNone, EchoReply(0), kTxEcho},
      {"bad IP checksum", kPlain, EchoRequest().BadIpChecksum(), V::kDrop, R::kIpv4BadChecksum},
      {"zero IP checksum", kPlain, EchoRequest().ZeroIpChecksum(), V::kDrop, R::kIpv4BadChecksum},
      {"bad IP checksum, NIC says good", kPlain, EchoRequest().BadIpChecksum(), V::kReply, R::kNone,
       EchoReply(), kTxEcho, IpChecksumState::kGood},
      {"good IP checksum, NIC says bad", kPlain, EchoRequest(), V::kDrop, R::kIpv4BadChecksum, std::nullopt,
       {}, IpChecksumState::kBad},
      {"good IP checksum, NIC says good", kPlain, EchoRequest(), V::kReply, R::kNone, EchoReply(), kTxEcho,
       IpChecksumState::kGood},

      // ----- IPv4 addresses -----
      {"source 0.0.0.0", kPlain, EchoRequest().Ipv4(0, kOurIp), V::kDrop, R::kIpv4BadSource},
      {"source 255.255.255.255", kPlain, EchoRequest().Ipv4(0xffffffffu, kOurIp), V::kDrop,
       R::kIpv4BadSource},
      {"source 224.0.0.1", kPlain, EchoRequest().Ipv4(Ip4(224, 0, 0, 1), kOurIp), V::kDrop,
       R::kIpv4BadSource},
      {"source 239.255.255.250", kPlain, EchoRequest().Ipv4(Ip4(239, 255, 255, 250), kOurIp), V::kDrop,
       R::kIpv4BadSource},
      {"source 127.0.0.1", kPlain, EchoRequest().Ipv4(Ip4(127, 0, 0, 1), kOurIp), V::kDrop,
       R::kIpv4BadSource},
      {"source 127.255.255.254", kPlain, EchoRequest().Ipv4(Ip4(127, 255, 255, 254), kOurIp), V::kDrop,
       R::kIpv4BadSource},
      {"source is our address", kPlain, EchoRequest().Ipv4(kOurIp, kOurIp), V::kDrop, R::kIpv4BadSource},
      {"destination another host", kPlain, EchoRequest().Ipv4(kPeerIp, Ip4(10, 0, 0, 2)), V::kDrop,
       R::kIpv4NotForUs},
      {"destination subnet broadcast", kPlain, EchoRequest().Ipv4(kPeerIp, Ip4(10, 0, 0, 255)), V::kDrop,
       R::kIpv4NotForUs},
      {"destination limited broadcast", kPlain,
       EchoRequest().Eth(kPeerMac, kBroadcast).Ipv4(kPeerIp, 0xffffffffu), V::kDrop, R::kIpv4NotForUs},

      // ----- IPv4 fragments, TTL, protocol -----
      {"first fragment (MF)", kPlain, EchoRequest().Fragment(true, 0), V::kDrop, R::kIpv4Fragment},
      {"middle fragment", kPlain, EchoRequest().Fragment(true, 185), V::kDrop, R::kIpv4Fragment},
      {"last fragment (offset only)", kPlain, EchoRequest().Fragment(false, 185), V::kDrop,
       R::kIpv4Fragment},
      {"DF is not a fragment", kPlain, EchoRequest().Df(), V::kReply, R::kNone, EchoReply().Df(), kTxEcho},
      {"TTL 0", kPlain, EchoRequest().Ttl(0), V::kDrop, R::kIpv4TtlExpired},
      {"TTL 1 is answered with TTL 64", kPlain, EchoRequest().Ttl(1), V::kReply, R::kNone, EchoReply(),
       kTxEcho},
      {"UDP", kPlain, EchoRequest().L4Raw(kProtoUdp, Counting(16)), V::kDrop, R::kIpv4UnknownProtocol},
      // TCP goes up to the proxy only with a whole header and a right checksum.
      {"TCP bad checksum", kPlain, EchoRequest().L4Raw(kProtoTcp, Counting(20)), V::kDrop, R::kTcpBadChecksum},
      {"TCP shorter than its header", kPlain, EchoRequest().L4Raw(kProtoTcp, Counting(19)), V::kDrop, R::kTcpShort},

      // ----- ICMP -----
      {"ICMP 7 bytes", kPlain, EchoRequest().L4Raw(kProtoIcmp, {8, 0, 0xf7, 0xff, 0, 0, 0}), V::kDrop,
       R::kIcmpShort},
      {"ICMP 0 bytes", kPlain, EchoRequest().L4Raw(kProtoIcmp, {}), V::kDrop, R::kIcmpShort},
      {"ICMP bad checksum", kPlain, EchoRequest().BadIcmpChecksum(), V::kDrop, R::kIcmpBadChecksum},
      {"ICMP bad checksum, odd length", kPlain, EchoRequest(7).BadIcmpChecksum(), V::kDrop,
       R::kIcmpBadChecksum},
      {"ICMP echo reply to us", kPlain, EchoRequest().Icmp(kEchoReply, 1, 1), V::kDrop,
       R::kIcmpUnsupportedType},
      {"ICMP destination unreachable", kPlain, EchoRequest().Icmp(kDestUnreachable, 0, 0, Counting(28)),
       V::kDrop, R::kIcmpUnsupportedType},
      {"ICMP timestamp request", kPlain, EchoRequest().Icmp(13, 1, 1, Counting(12)), V::kDrop,
       R::kIcmpUnsupportedType},

      // ----- ICMP echo answered -----
      {"echo, 56-byte payload", kPlain, EchoRequest(56), V::kReply, R::kNone, EchoReply(56), kTxEcho},
      {"echo, empty payload", kPlain, EchoRequest(0), V::kReply, R::kNone, EchoReply(0), kTxEcho},
      {"echo, 1-byte payload", kPlain, EchoRequest(1), V::kReply, R::kNone, EchoReply(1), kTxEcho},
      {"echo, 7-byte payload", kPlain, EchoRequest(7), V::kReply, R::kNone, EchoReply(7), kTxEcho},
      {"echo, 1001-byte payload", kPlain, EchoRequest(1001), V::kReply, R::kNone, EchoReply(1001), kTxEcho},
      {"echo, non-zero code becomes 0", kPlain, EchoRequest().IcmpCode(5), V::kReply, R::kNone, EchoReply(),
       kTxEcho},
      {"echo, TOS kept", kPlain, EchoRequest().Tos(0xb8), V::kReply, R::kNone, EchoReply().Tos(0xb8),
       kTxEcho},
      {"echo to broadcast MAC answered unicast", kPlain, EchoRequest().Eth(kPeerMac, kBroadcast), V::kReply,
       R::kNone, EchoReply(), kTxEcho},
      {"echo from off-link client goes back to the router", kPlain,
       EchoRequest().Eth(kRouterMac, kOurMac).Ipv4(kRemoteIp, kOurIp), V::kReply, R::kNone,
       EchoReply().Eth(kOurMac, kRouterMac).Ipv4(kOurIp, kRemoteIp), kTxEcho},
      {"echo on VLAN port", kVlan, EchoRequest().Vlan(kVid), V::kReply, R::kNone, EchoReply().Vlan(kVid),
       Tx(18, 20)},
      {"echo priority-tagged on untagged port", kPlain, EchoRequest().Vlan(0, 3), V::kReply, R::kNone,
       EchoReply().Vlan(0, 3), Tx(18, 20)},
      {"echo, ihl 6", kPlain, EchoRequest().Ihl(6), V::kReply, R::kNone, EchoReply().Ihl(6), Tx(14, 24)},
      {"echo, ihl 10", kPlain, EchoRequest().Ihl(10), V::kReply, R::kNone, EchoReply().Ihl(10), Tx(14, 40)},
      {"echo, ihl 15", kPlain, EchoRequest(9).Ihl(15), V::kReply, R::kNone, EchoReply(9).Ihl(15),
       Tx(14, 60)},
      {"echo, router alert option", kPlain, EchoRequest().Options({0x94, 0x04, 0, 0}), V::kReply, R::kNone,
       EchoReply().Options({0x94, 0x04, 0, 0}), Tx(14, 24)},
      {"echo, TX offload leaves IP checksum 0", kOffload, EchoRequest(), V::kReply, R::kNone,
       EchoReply().ZeroIpChecksum(), Tx(14, 20, true)},
      {"echo, TX offload with ihl 8", kOffload, EchoRequest(3).Ihl(8), V::kReply, R::kNone,
       EchoReply(3).Ihl(8).ZeroIpChecksum(), Tx(14, 32, true)},
  };
}

std::string Hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", b[i]);
    s += (i % 16 == 0) ? "\n  " : " ";
    s += buf;
  }
  return s;
}

class L3Input : public ::testing::TestWithParam<PacketCase> {};

TEST_P(L3Input, VerdictCounterAndReply) {
  const PacketCase& c = GetParam();
  DpCounters counters;
  L3Stack stack(ArpConfig{}, counters);
  stack.AddPort(PortFor(c.port));
  FakeSink sink;
  Bytes frame = c.in.Build();

  const InputResult r =
      stack.Input({frame.data(), frame.size()}, RxMeta{0, c.rx_csum}, kNowUs, sink);

  EXPECT_EQ(r.verdict, c.verdict);
  EXPECT_EQ(r.reason, c.reason) << "got " << kDropKey[Idx(r.reason)] << ", want " << kDropKey[Idx(c.reason)];
  for (size_t i = 1; i < Idx(R::kCount); ++i) {
    const uint64_t want = (c.verdict == V::kDrop && i == Idx(c.reason)) ? 1 : 0;
    EXPECT_EQ(counters.drops[i], want) << "drop counter " << kDropKey[i];
  }
  EXPECT_EQ(counters.drops[Idx(R::kNone)], 0u);
  EXPECT_EQ(counters.Counted(Counter::kArpRequestsAnswered) + counters.Counted(Counter::kIcmpEchoAnswered),
            c.verdict == V::kReply ? 1u : 0u);
  EXPECT_TRUE(sink.sent.empty()) << "Input() must not emit new frames for these";

  if (c.verdict != V::kReply) {
    EXPECT_EQ(r.tx_len, 0u);
    return;
  }
  ASSERT_TRUE(c.out.has_value()) << "a reply row needs its expected frame";
  const Bytes want = c.out->Build();
  ASSERT_LE(r.tx_len, frame.size());
  const Bytes got(frame.begin(), frame.begin() + r.tx_len);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "reply bytes differ\n got:" << Hex(got) << "\nwant:" << Hex(want);
  EXPECT_EQ(r.tx.ip_checksum_offload, c.tx.ip_checksum_offload);
  EXPECT_EQ(r.tx.l2_len, c.tx.l2_len);
  EXPECT_EQ(r.tx.l3_len, c.tx.l3_len);
}

std::string CaseName(const ::testing::TestParamInfo<PacketCase>& info) {
  std::string s = std::to_string(info.index) + "_";
  for (char ch : info.param.name) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Crafted, L3Input, ::testing::ValuesIn(Cases()), CaseName);

// ----- Behaviour around single frames that a table row cannot express -----

class L3StackTest : public ::testing::Test {
 protected:
  L3StackTest() : stack_(ArpConfig{}, counters_) { stack_.AddPort(PortFor(PortKind::kPlain)); }

  InputResult Feed(const Pkt& pkt, uint16_t port = 0) {
    last_ = pkt.Build();
    return stack_.Input({last_.data(), last_.size()}, RxMeta{port, IpChecksumState::kUnknown}, kNowUs, sink_);
  }

  DpCounters counters_;
  L3Stack stack_;
  FakeSink sink_;
  Bytes last_;
};

TEST_F(L3StackTest, ArpRequestForUsTeachesTheSender) {
  const InputResult r = Feed(ArpRequest().PadTo(60));
  ASSERT_EQ(r.verdict, V::kReply);
  EXPECT_EQ(r.learned_ip, kPeerIp);
  EXPECT_EQ(r.learned_mac, kPeerMac);
  const NeighborTable::View v = stack_.Neighbors(0).Find(kPeerIp);
  EXPECT_EQ(v.state, NeighborState::kReachable);
  EXPECT_EQ(v.mac, kPeerMac);
  EXPECT_EQ(counters_.Counted(Counter::kArpEntriesLearned), 1u);
}

TEST_F(L3StackTest, ArpProbeIsAnsweredButNotLearned) {
  const InputResult r = Feed(ArpFrom(kPeerMac, 0));
  ASSERT_EQ(r.verdict, V::kReply);
  EXPECT_EQ(r.learned_ip, 0u);
  EXPECT_EQ(stack_.Neighbors(0).Size(), 0u);
  EXPECT_EQ(stack_.Neighbors(0).Find(0).state, NeighborState::kFree);
  EXPECT_EQ(counters_.Counted(Counter::kArpEntriesLearned), 0u);
}

TEST_F(L3StackTest, ArpReplyForUsIsLearnedAndCounted) {
  const InputResult r =
      Feed(Pkt().Eth(kPeerMac, kOurMac).Arp(kArpReply, kPeerMac, kPeerIp, kOurMac, kOurIp).PadTo(60));
  ASSERT_EQ(r.verdict, V::kConsumed);
  EXPECT_EQ(r.learned_ip, kPeerIp);
  EXPECT_EQ(r.learned_mac, kPeerMac);
  EXPECT_EQ(counters_.Counted(Counter::kArpRepliesReceived), 1u);
  EXPECT_EQ(stack_.Neighbors(0).Find(kPeerIp).mac, kPeerMac);
}

TEST_F(L3StackTest, ArpNotForUsUpdatesAKnownSenderButAddsNoNewOne) {
  // RFC 826 merge: the unknown sender of a request for someone else is not added...
  EXPECT_EQ(Feed(ArpRequest(Ip4(10, 0, 0, 2)).PadTo(60)).reason, R::kArpNotForUs);
  EXPECT_EQ(stack_.Neighbors(0).Size(), 0u);
  // ...but a known one is updated (here: it moved to a new MAC).
  ASSERT_EQ(Feed(ArpRequest().PadTo(60)).verdict, V::kReply);
  EXPECT_EQ(Feed(ArpRequest(Ip4(10, 0, 0, 2)).Eth(kOtherMac, kBroadcast).PadTo(60)).reason, R::kArpNotForUs);
  EXPECT_EQ(stack_.Neighbors(0).Find(kPeerIp).mac, kPeerMac);  // sha is still kPeerMac in that frame
  EXPECT_EQ(Feed(Pkt()
                     .Eth(kOtherMac, kBroadcast)
                     .Arp(kArpRequest, kOtherMac, kPeerIp, kZeroMac, Ip4(10, 0, 0, 2))
                     .PadTo(60))
                .reason,
            R::kArpNotForUs);
  EXPECT_EQ(stack_.Neighbors(0).Find(kPeerIp).mac, kOtherMac);
  EXPECT_EQ(stack_.Neighbors(0).Size(), 1u);
}

TEST_F(L3StackTest, EchoRepliesNumberTheirIpIds) {
  for (uint16_t i = 0; i < 3; ++i) {
    ASSERT_EQ(Feed(EchoRequest(8)).verdict, V::kReply);
    const Bytes want = EchoReply(8).Id(i).Build();
    EXPECT_EQ(Bytes(last_.begin(), last_.begin() + long(want.size())), want) << "reply " << i;
  }
  EXPECT_EQ(counters_.Counted(Counter::kIcmpEchoAnswered), 3u);
}

TEST_F(L3StackTest, EachPortAnswersWithItsOwnIdentity) {
  PortIdentity second = PortFor(PortKind::kVlan10);
  second.mac = Mac(0x02, 0, 0, 0, 1, 0x01);
  second.ip = Ip4(192, 168, 7, 1);
  stack_.AddPort(second);
  ASSERT_EQ(stack_.PortCount(), 2);

  // Port 0's address asked on port 1 is not ours there.
  EXPECT_EQ(Feed(ArpRequest().Vlan(kVid).PadTo(64), 1).reason, R::kArpNotForUs);
  const InputResult r = Feed(Pkt()
                                 .Eth(kPeerMac, kBroadcast)
                                 .Vlan(kVid)
                                 .Arp(kArpRequest, kPeerMac, Ip4(192, 168, 7, 9), kZeroMac, second.ip)
                                 .PadTo(64),
                             1);
  ASSERT_EQ(r.verdict, V::kReply);
  const Bytes want = Pkt()
                         .Eth(second.mac, kPeerMac)
                         .Vlan(kVid)
                         .Arp(kArpReply, second.mac, second.ip, kPeerMac, Ip4(192, 168, 7, 9))
                         .PadTo(64)
                         .Build();
  EXPECT_EQ(last_, want);
  EXPECT_EQ(stack_.Neighbors(1).Find(Ip4(192, 168, 7, 9)).state, NeighborState::kReachable);
  EXPECT_EQ(stack_.Neighbors(0).Find(Ip4(192, 168, 7, 9)).state, NeighborState::kFree);
}

TEST_F(L3StackTest, FrameOnAnUnknownPortIsDropped) {
  // No DropReason names this; the code uses kNoNextHop. Only the drop itself is pinned.
  const InputResult r = Feed(EchoRequest(), /*port=*/3);
  EXPECT_EQ(r.verdict, V::kDrop);
  EXPECT_EQ(r.tx_len, 0u);
}

TEST_F(L3StackTest, RejectedFramesAreLeftUntouched) {
  // A dropped frame goes back to the caller as it came: nothing is rewritten in place.
  const Bytes before = EchoRequest().BadIcmpChecksum().Build();
  Feed(EchoRequest().BadIcmpChecksum());
  EXPECT_EQ(last_, before);
  const Bytes arp_before = ArpRequest(Ip4(10, 0, 0, 2)).PadTo(60).Build();
  Feed(ArpRequest(Ip4(10, 0, 0, 2)).PadTo(60));
  EXPECT_EQ(last_, arp_before);
}

}  // namespace
}  // namespace baton::dp
