// PROXY protocol header, binary version 2 only (HAProxy "The PROXY protocol", versions
// 1 & 2, section 2.2). Sent first on a backend connection so the backend learns the
// client's address. The text version 1 is neither built nor parsed.
//
//   bytes 0..11  signature \r\n\r\n\0\r\nQUIT\n
//   byte  12     version (high nibble, = 2) | command (low nibble: 0 LOCAL, 1 PROXY)
//   byte  13     family (high: 0 UNSPEC, 1 INET, 2 INET6) | transport (low: 1 STREAM)
//   bytes 14..15 length of what follows, big endian
//   then  src addr, dst addr, src port, dst port (12 bytes for INET, 36 for INET6),
//         then TLVs (type, 16-bit length, value) up to the length.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/api/ip_addr.h"
#include "dataplane/net/bytes.h"

namespace baton::dp::lb {

inline constexpr size_t kProxyFixedBytes = 16;                  // signature..length
inline constexpr size_t kProxyIpv4Bytes = kProxyFixedBytes + 12;  // TCP over IPv4: 28
inline constexpr size_t kProxyIpv6Bytes = kProxyFixedBytes + 36;  // TCP over IPv6: 52

enum class ProxyCommand : uint8_t { kLocal = 0x0, kProxy = 0x1 };  // wire values

// The connection's endpoints as seen by the load balancer: src = client, dst = VIP.
struct ProxyAddrs {
  IpAddr src_ip;
  IpAddr dst_ip;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
};

// Writes a PROXY command header for a TCP connection (family/transport 0x11 for IPv4,
// 0x21 for IPv6, from the address family; no TLVs). Returns the bytes written, or 0 if
// `out` is too small or the two addresses are not of the same, set family.
[[nodiscard]] size_t BuildProxyHeader(const ProxyAddrs& addrs, MutByteView out) noexcept;

// Writes a LOCAL command header (family UNSPEC, no addresses): the connection is the
// proxy's own, e.g. a health check. Returns 16, or 0 if `out` is too small.
[[nodiscard]] size_t BuildProxyLocalHeader(MutByteView out) noexcept;

enum class [[nodiscard]] ProxyParseStatus : uint8_t {
  kOk,
  kNeedMore,       // a valid prefix; the spec forbids acting on a partial header
  kBadSignature,
  kBadVersion,     // version nibble is not 2
  kBadCommand,     // neither LOCAL nor PROXY
  kBadFamily,      // byte 13 is none of the spec's combinations
  kBadLength,      // length shorter than the family's addresses
  kBadTlv,         // TLVs do not exactly fill the rest of the length
};

struct ProxyHeader {
  ProxyCommand command = ProxyCommand::kLocal;
  uint8_t family_transport = 0;  // byte 13 as received
  ProxyAddrs addrs;              // set only for PROXY over TCP/IPv4 or TCP/IPv6
  ByteView tlvs;                 // into the input; framing checked, contents not; empty
                                 // for LOCAL and UNSPEC, whose block is ignored
  size_t header_bytes = 0;       // 16 + length: where the payload starts
};

// Strict parse of a header at the start of `in`: signature, version 2, LOCAL or PROXY,
// one of the spec's family/transport bytes, a length that covers that family's
// addresses, and TLVs that exactly fill the rest. Section 2.2 details:
//  - LOCAL: "discard the protocol block including the family which is ignored"; only
//    the length is used, to skip the block.
//  - PROXY over UDP or UNIX: valid but not ours to decode; "a receiver is not required
//    to implement other ones, provided that it automatically falls back to the UNSPEC
//    mode", so they parse like UNSPEC (no addresses) after the length check.
ProxyParseStatus ParseProxyHeader(ByteView in, ProxyHeader& out) noexcept;

}  // namespace baton::dp::lb
