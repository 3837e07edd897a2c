#include "dataplane/lb/proxy_protocol.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace baton::dp::lb {
namespace {

// Section 2.2: "\x0D \x0A \x0D \x0A \x00 \x0D \x0A \x51 \x55 \x49 \x54 \x0A".
constexpr std::array<uint8_t, 12> kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr uint8_t kVersion = 0x2;  // high nibble of byte 12

// Byte 13, section 2.2: family in the high nibble, transport in the low one.
constexpr uint8_t kUnspec = 0x00;
constexpr uint8_t kTcp4 = 0x11;
constexpr uint8_t kUdp4 = 0x12;
constexpr uint8_t kTcp6 = 0x21;
constexpr uint8_t kUdp6 = 0x22;
constexpr uint8_t kUnixStream = 0x31;
constexpr uint8_t kUnixDgram = 0x32;

// Address block sizes, section 2.2: 2*4 + 2*2, 2*16 + 2*2, 2*108.
constexpr size_t kInetAddrBytes = 12;
constexpr size_t kInet6AddrBytes = 36;
constexpr size_t kUnixAddrBytes = 216;

constexpr size_t kTlvHeaderBytes = 3;  // section 2.2.7: type, length_hi, length_lo

void WriteFixed(uint8_t* p, ProxyCommand cmd, uint8_t family_transport, uint16_t length) noexcept {
  std::memcpy(p, kSignature.data(), kSignature.size());
  p[12] = uint8_t(kVersion << 4 | uint8_t(cmd));
  p[13] = family_transport;
  StoreBe16(p + 14, length);
}

// Section 2.2.7: TLVs follow the addresses; each declares its own length, and together
// they must end exactly where the header's length says.
bool TlvFramingOk(ByteView tlvs) noexcept {
  size_t at = 0;
  while (at < tlvs.size()) {
    if (tlvs.size() - at < kTlvHeaderBytes) return false;
    const size_t value_bytes = LoadBe16(&tlvs[at + 1]);
    at += kTlvHeaderBytes;
    if (tlvs.size() - at < value_bytes) return false;
    at += value_bytes;
  }
  return true;
}

IpAddr LoadAddr(IpFamily family, const uint8_t* p) noexcept {
  IpAddr a;
  a.family = family;
  std::memcpy(a.bytes.data(), p, family == IpFamily::kV4 ? 4 : 16);
  return a;
}

}  // namespace

size_t BuildProxyHeader(const ProxyAddrs& addrs, MutByteView out) noexcept {
  const IpFamily family = addrs.src_ip.family;
  if (family != addrs.dst_ip.family) return 0;
  size_t ip_bytes = 0;
  uint8_t family_transport = 0;
  switch (family) {
    case IpFamily::kV4:
      ip_bytes = 4;
      family_transport = kTcp4;
      break;
    case IpFamily::kV6:
      ip_bytes = 16;
      family_transport = kTcp6;
      break;
    case IpFamily::kNone:
      return 0;
  }
  const size_t addr_bytes = 2 * ip_bytes + 2 * 2;
  const size_t total = kProxyFixedBytes + addr_bytes;
  if (out.size() < total) return 0;

  uint8_t* p = out.data();
  WriteFixed(p, ProxyCommand::kProxy, family_transport, static_cast<uint16_t>(addr_bytes));
  p += kProxyFixedBytes;
  // Section 2.2: source address, destination address, source port, destination port,
  // all in network byte order (IpAddr bytes already are).
  std::memcpy(p, addrs.src_ip.bytes.data(), ip_bytes);
  std::memcpy(p + ip_bytes, addrs.dst_ip.bytes.data(), ip_bytes);
  StoreBe16(p + 2 * ip_bytes, addrs.src_port);
  StoreBe16(p + 2 * ip_bytes + 2, addrs.dst_port);
  return total;
}

size_t BuildProxyLocalHeader(MutByteView out) noexcept {
  if (out.size() < kProxyFixedBytes) return 0;
  // Section 2.2: "When a sender presents a LOCAL connection, it should not present any
  // address so it sets this field to zero."
  WriteFixed(out.data(), ProxyCommand::kLocal, kUnspec, 0);
  return kProxyFixedBytes;
}

ProxyParseStatus ParseProxyHeader(ByteView in, ProxyHeader& out) noexcept {
  // Check the signature on whatever has arrived, so a non-PROXY stream is refused at
  // its first byte instead of waiting for 16.
  const size_t sig_seen = std::min(in.size(), kSignature.size());
  if (!std::equal(kSignature.begin(), kSignature.begin() + sig_seen, in.begin())) {
    return ProxyParseStatus::kBadSignature;
  }
  if (in.size() < kProxyFixedBytes) return ProxyParseStatus::kNeedMore;

  // Section 2.2: version "must always be sent as \x2 and the receiver must only accept
  // this value"; unassigned commands: "Receivers must drop connections presenting
  // unexpected values here."
  if (in[12] >> 4 != kVersion) return ProxyParseStatus::kBadVersion;
  const uint8_t cmd = in[12] & 0x0f;
  if (cmd != uint8_t(ProxyCommand::kLocal) && cmd != uint8_t(ProxyCommand::kProxy)) {
    return ProxyParseStatus::kBadCommand;
  }
  const size_t length = LoadBe16(&in[14]);
  // Section 2.2: the header is "always exactly 16 + this value" bytes, and it must be
  // complete before anything is acted on.
  if (in.size() < kProxyFixedBytes + length) return ProxyParseStatus::kNeedMore;

  ProxyHeader h;
  h.command = ProxyCommand{cmd};
  h.family_transport = in[13];
  h.header_bytes = kProxyFixedBytes + length;
  const ByteView block = in.subspan(kProxyFixedBytes, length);

  // LOCAL: "discard the protocol block including the family which is ignored".
  if (h.command == ProxyCommand::kLocal) {
    out = h;
    return ProxyParseStatus::kOk;
  }

  size_t addr_bytes = 0;
  switch (h.family_transport) {
    case kUnspec:
      // "the receiver is free to accept the connection anyway and use the real
      // endpoints addresses or to reject the connection": accept; no addresses.
      out = h;
      return ProxyParseStatus::kOk;
    case kTcp4:
    case kUdp4:
      addr_bytes = kInetAddrBytes;
      break;
    case kTcp6:
    case kUdp6:
      addr_bytes = kInet6AddrBytes;
      break;
    case kUnixStream:
    case kUnixDgram:
      addr_bytes = kUnixAddrBytes;
      break;
    default:
      // "other values are unspecified and must not be emitted in version 2 of this
      // protocol and must be rejected as invalid by receivers"
      return ProxyParseStatus::kBadFamily;
  }
  if (length < addr_bytes) return ProxyParseStatus::kBadLength;
  const ByteView tlvs = block.subspan(addr_bytes);
  if (!TlvFramingOk(tlvs)) return ProxyParseStatus::kBadTlv;
  h.tlvs = tlvs;

  // TCP is what we proxy; UDP and UNIX fall back to UNSPEC (no addresses).
  if (h.family_transport == kTcp4 || h.family_transport == kTcp6) {
    const IpFamily family = h.family_transport == kTcp4 ? IpFamily::kV4 : IpFamily::kV6;
    const size_t ip_bytes = family == IpFamily::kV4 ? 4 : 16;
    h.addrs.src_ip = LoadAddr(family, &block[0]);
    h.addrs.dst_ip = LoadAddr(family, &block[ip_bytes]);
    h.addrs.src_port = LoadBe16(&block[2 * ip_bytes]);
    h.addrs.dst_port = LoadBe16(&block[2 * ip_bytes + 2]);
  }
  out = h;
  return ProxyParseStatus::kOk;
}

}  // namespace baton::dp::lb
