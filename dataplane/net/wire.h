// Wire constants for Ethernet, 802.1Q, ARP, IPv4 and ICMP.
#pragma once

#include <cstdint>

namespace baton::dp::wire {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;

inline constexpr uint16_t kEtherHeaderLen = 14;
inline constexpr uint16_t kVlanTagLen = 4;
inline constexpr uint16_t kMinFrameLen = 60;   // without FCS; shorter frames are padded
inline constexpr uint16_t kEtherTypeOffset = 12;

// ARP for IPv4 over Ethernet (RFC 826), offsets from the start of the ARP header.
inline constexpr uint16_t kArpLen = 28;
inline constexpr uint16_t kArpHtypeEthernet = 1;
inline constexpr uint16_t kArpOpRequest = 1;
inline constexpr uint16_t kArpOpReply = 2;
inline constexpr uint16_t kArpOffHtype = 0, kArpOffPtype = 2, kArpOffHlen = 4, kArpOffPlen = 5,
                          kArpOffOp = 6, kArpOffSha = 8, kArpOffSpa = 14, kArpOffTha = 18,
                          kArpOffTpa = 24;

// IPv4 (RFC 791), offsets from the start of the IP header.
inline constexpr uint16_t kIpv4MinHeaderLen = 20;
inline constexpr uint16_t kIpv4OffVerIhl = 0, kIpv4OffTos = 1, kIpv4OffTotalLen = 2,
                          kIpv4OffId = 4, kIpv4OffFrag = 6, kIpv4OffTtl = 8, kIpv4OffProto = 9,
                          kIpv4OffChecksum = 10, kIpv4OffSrc = 12, kIpv4OffDst = 16;
inline constexpr uint16_t kIpv4FlagMf = 0x2000, kIpv4FlagDf = 0x4000, kIpv4FragOffsetMask = 0x1fff;
inline constexpr uint8_t kIpProtoIcmp = 1, kIpProtoTcp = 6, kIpProtoUdp = 17;
inline constexpr uint8_t kDefaultTtl = 64;

// ICMP (RFC 792).
inline constexpr uint16_t kIcmpHeaderLen = 8;
inline constexpr uint8_t kIcmpEchoReply = 0, kIcmpEchoRequest = 8;

}  // namespace baton::dp::wire
