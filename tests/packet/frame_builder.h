// Crafted frames for tests (STYLE.md 18): a fluent description of an Ethernet frame
// that Build() turns into bytes. Checksums and lengths are right unless a knob says
// otherwise, and the checksum code here is the builder's own, so a test never checks
// the code under test against itself.
//
//   Pkt().Eth(kPeerMac, kOurMac).Vlan(10).Ipv4(kPeer, kOurs).Icmp(kEchoRequest, 1, 2, Bytes(56))
//   Pkt().Eth(kPeerMac, kBroadcast).Arp(kRequest, kPeerMac, kPeer, kZeroMac, kOurs).ArpHlen(8)
//
// Knobs that break things change one field only; everything else stays consistent with
// the frame as built (e.g. TotalLength() still gets a correct IP checksum, so only the
// length check can trip).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/net/bytes.h"

namespace baton::dp::testkit {

using Bytes = std::vector<uint8_t>;

inline constexpr uint16_t kEtherIpv4 = 0x0800, kEtherArp = 0x0806, kEtherVlan = 0x8100,
                          kEtherIpv6 = 0x86dd;
inline constexpr uint16_t kArpRequest = 1, kArpReply = 2;
inline constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17;
inline constexpr uint8_t kEchoReply = 0, kDestUnreachable = 3, kEchoRequest = 8;

// Host-order IPv4 from a dotted quad, for readable tables.
constexpr uint32_t Ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d;
}
constexpr MacAddr Mac(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e, uint8_t f) {
  return MacAddr{{a, b, c, d, e, f}};
}

// `n` bytes counting up from `first` (wrapping), as ICMP payloads.
inline Bytes Counting(size_t n, uint8_t first = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(first + i);
  return b;
}

// RFC 1071, written out plainly and independently of dataplane/net/checksum.cc.
inline uint16_t InternetChecksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += (i % 2 == 0) ? uint32_t(p[i]) << 8 : p[i];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum & 0xffff);
}

// XOR with this never yields the same or an equivalent (0x0000 vs 0xffff) checksum.
inline constexpr uint16_t kChecksumBreaker = 0x5a5a;

class Pkt {
 public:
  // --- Ethernet and 802.1Q ---
  Pkt& Eth(const MacAddr& src, const MacAddr& dst) { eth_src_ = src, eth_dst_ = dst; return *this; }
  Pkt& Vlan(uint16_t vid, uint8_t pcp = 0) { vlan_ = uint16_t(pcp << 13 | (vid & 0x0fff)); return *this; }
  // Overrides the EtherType the payload would imply (inner one when tagged).
  Pkt& EtherType(uint16_t type) { ether_type_ = type; return *this; }

  // --- IPv4 ---
  Pkt& Ipv4(uint32_t src, uint32_t dst) {
    l3_ = L3::kIpv4, ip_src_ = src, ip_dst_ = dst;
    return *this;
  }
  Pkt& Version(uint8_t v) { version_ = v; return *this; }
  // Header length in 32-bit words. 5..15 lays out (n-5)*4 option bytes (NOPs unless
  // Options() gave them); below 5 only the field lies, the header stays 20 bytes.
  Pkt& Ihl(uint8_t words) { ihl_ = words; return *this; }
  Pkt& Options(Bytes opts) { options_ = std::move(opts); return *this; }  // sets ihl to fit
  Pkt& Tos(uint8_t tos) { tos_ = tos; return *this; }
  Pkt& Id(uint16_t id) { ip_id_ = id; return *this; }
  Pkt& Df() { frag_ |= 0x4000; return *this; }
  Pkt& Fragment(bool more_fragments, uint16_t offset_units) {
    frag_ = uint16_t((frag_ & 0x4000) | (more_fragments ? 0x2000 : 0) | (offset_units & 0x1fff));
    return *this;
  }
  Pkt& Ttl(uint8_t ttl) { ttl_ = ttl; return *this; }
  Pkt& Proto(uint8_t proto) { proto_ = proto; return *this; }
  Pkt& TotalLength(uint16_t len) { total_len_ = len; return *this; }  // field only
  Pkt& BadIpChecksum() { ip_csum_xor_ = kChecksumBreaker; return *this; }
  Pkt& ZeroIpChecksum() { zero_ip_csum_ = true; return *this; }      // as left for TX offload

  // --- ICMP (after Ipv4) ---
  Pkt& Icmp(uint8_t type, uint16_t id, uint16_t seq, Bytes payload = {}) {
    l4_ = L4::kIcmp, proto_ = kProtoIcmp, icmp_type_ = type, icmp_id_ = id, icmp_seq_ = seq;
    l4_payload_ = std::move(payload);
    return *this;
  }
  Pkt& IcmpCode(uint8_t code) { icmp_code_ = code; return *this; }
  Pkt& BadIcmpChecksum() { icmp_csum_xor_ = kChecksumBreaker; return *this; }
  // Raw bytes after the IP header (an L4 we do not model, or an ICMP shorter than 8).
  Pkt& L4Raw(uint8_t proto, Bytes bytes) {
    l4_ = L4::kRaw, proto_ = proto, l4_payload_ = std::move(bytes);
    return *this;
  }

  // --- ARP (RFC 826, Ethernet/IPv4) ---
  Pkt& Arp(uint16_t op, const MacAddr& sha, uint32_t spa, const MacAddr& tha, uint32_t tpa) {
    l3_ = L3::kArp, arp_op_ = op, arp_sha_ = sha, arp_spa_ = spa, arp_tha_ = tha, arp_tpa_ = tpa;
    return *this;
  }
  Pkt& ArpHtype(uint16_t v) { arp_htype_ = v; return *this; }
  Pkt& ArpPtype(uint16_t v) { arp_ptype_ = v; return *this; }
  Pkt& ArpHlen(uint8_t v) { arp_hlen_ = v; return *this; }  // field only; layout stays 6
  Pkt& ArpPlen(uint8_t v) { arp_plen_ = v; return *this; }  // field only; layout stays 4

  // --- Whole frame ---
  // Pads (Ethernet padding, not counted in any length field) up to `len` bytes.
  Pkt& PadTo(size_t len, uint8_t fill = 0) { pad_to_ = len, pad_fill_ = fill; return *this; }
  Pkt& Truncate(size_t len) { truncate_ = len; return *this; }

  Bytes Build() const {
    Bytes f;
    Put(f, eth_dst_);
    Put(f, eth_src_);
    if (vlan_) {
      Put16(f, kEtherVlan);
      Put16(f, *vlan_);
    }
    const uint16_t implied = l3_ == L3::kArp ? kEtherArp : l3_ == L3::kIpv4 ? kEtherIpv4 : 0;
    Put16(f, ether_type_.value_or(implied));
    if (l3_ == L3::kArp) BuildArp(f);
    if (l3_ == L3::kIpv4) BuildIpv4(f);
    if (f.size() < pad_to_) f.resize(pad_to_, pad_fill_);
    if (truncate_ && f.size() > *truncate_) f.resize(*truncate_);
    return f;
  }

 private:
  enum class L3 : uint8_t { kNone, kArp, kIpv4 };
  enum class L4 : uint8_t { kNone, kIcmp, kRaw };

  static void Put(Bytes& f, const MacAddr& m) { f.insert(f.end(), m.b.begin(), m.b.end()); }
  static void Put16(Bytes& f, uint16_t v) {
    f.push_back(uint8_t(v >> 8));
    f.push_back(uint8_t(v));
  }
  static void Put32(Bytes& f, uint32_t v) {
    Put16(f, uint16_t(v >> 16));
    Put16(f, uint16_t(v));
  }
  static void Set16(Bytes& f, size_t at, uint16_t v) {
    f[at] = uint8_t(v >> 8);
    f[at + 1] = uint8_t(v);
  }

  void BuildArp(Bytes& f) const {
    Put16(f, arp_htype_);
    Put16(f, arp_ptype_);
    f.push_back(arp_hlen_);
    f.push_back(arp_plen_);
    Put16(f, arp_op_);
    Put(f, arp_sha_);
    Put32(f, arp_spa_);
    Put(f, arp_tha_);
    Put32(f, arp_tpa_);
  }

  void BuildIpv4(Bytes& f) const {
    Bytes opts = options_;
    uint8_t ihl = uint8_t(5 + (opts.size() + 3) / 4);
    if (ihl_) {
      ihl = *ihl_;
      if (ihl >= 5 && opts.size() < size_t(ihl - 5) * 4) opts.resize(size_t(ihl - 5) * 4, 0x01);  // NOP
    }
    opts.resize((opts.size() + 3) / 4 * 4, 0x00);  // End of Option List pads to a word
    const size_t hdr_len = 20 + opts.size();

    Bytes l4;
    if (l4_ == L4::kIcmp) {
      l4.push_back(icmp_type_);
      l4.push_back(icmp_code_);
      Put16(l4, 0);
      Put16(l4, icmp_id_);
      Put16(l4, icmp_seq_);
      l4.insert(l4.end(), l4_payload_.begin(), l4_payload_.end());
      Set16(l4, 2, InternetChecksum(l4.data(), l4.size()) ^ icmp_csum_xor_);
    } else if (l4_ == L4::kRaw) {
      l4 = l4_payload_;
    }

    const size_t ip_at = f.size();
    f.push_back(uint8_t(version_ << 4 | (ihl & 0x0f)));
    f.push_back(tos_);
    Put16(f, total_len_.value_or(uint16_t(hdr_len + l4.size())));
    Put16(f, ip_id_);
    Put16(f, frag_);
    f.push_back(ttl_);
    f.push_back(proto_);
    Put16(f, 0);
    Put32(f, ip_src_);
    Put32(f, ip_dst_);
    f.insert(f.end(), opts.begin(), opts.end());
    const uint16_t csum = zero_ip_csum_ ? 0 : InternetChecksum(&f[ip_at], hdr_len) ^ ip_csum_xor_;
    Set16(f, ip_at + 10, csum);
    f.insert(f.end(), l4.begin(), l4.end());
  }

  MacAddr eth_src_, eth_dst_;
  std::optional<uint16_t> vlan_;
  std::optional<uint16_t> ether_type_;
  L3 l3_ = L3::kNone;
  L4 l4_ = L4::kNone;

  uint32_t ip_src_ = 0, ip_dst_ = 0;
  uint8_t version_ = 4;
  std::optional<uint8_t> ihl_;
  Bytes options_;
  uint8_t tos_ = 0;
  uint16_t ip_id_ = 0x1234;
  uint16_t frag_ = 0;
  uint8_t ttl_ = 64;
  uint8_t proto_ = 0;
  std::optional<uint16_t> total_len_;
  uint16_t ip_csum_xor_ = 0;
  bool zero_ip_csum_ = false;

  uint8_t icmp_type_ = 0, icmp_code_ = 0;
  uint16_t icmp_id_ = 0, icmp_seq_ = 0;
  uint16_t icmp_csum_xor_ = 0;
  Bytes l4_payload_;

  uint16_t arp_htype_ = 1, arp_ptype_ = kEtherIpv4;
  uint8_t arp_hlen_ = 6, arp_plen_ = 4;
  uint16_t arp_op_ = 0;
  MacAddr arp_sha_, arp_tha_;
  uint32_t arp_spa_ = 0, arp_tpa_ = 0;

  size_t pad_to_ = 0;
  uint8_t pad_fill_ = 0;
  std::optional<size_t> truncate_;
};

}  // namespace baton::dp::testkit
