// Initial sequence numbers, RFC 6528: ISN = M + F(localip, localport, remoteip,
// remoteport, secretkey), M a 4-microsecond clock, F a keyed PRF (here SipHash-2-4).
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/tcp/seq.h"

namespace baton::dp::tcp {

struct IsnKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
};

// SipHash-2-4 (Aumasson, Bernstein 2012) of `msg` under the 128-bit key (k0, k1)
// taken little-endian from the key's 16 bytes.
uint64_t SipHash24(const IsnKey& key, std::span<const uint8_t> msg) noexcept;

// Addresses are 4 (IPv4) or 16 (IPv6) bytes in network order.
SeqNum Rfc6528Isn(const IsnKey& key, std::span<const uint8_t> local_ip, uint16_t local_port,
                  std::span<const uint8_t> remote_ip, uint16_t remote_port,
                  uint64_t now_us) noexcept;

}  // namespace baton::dp::tcp
