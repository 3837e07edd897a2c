// The Internet checksum (RFC 1071), in software for ports without offloads.
#pragma once

#include <cstdint>

#include "dataplane/net/bytes.h"

namespace baton::dp {

// 32-bit running ones'-complement sum of 16-bit big-endian words; an odd trailing byte
// is padded with zero. Chain calls by passing the previous result as `sum`.
uint32_t OnesSum(ByteView data, uint32_t sum = 0) noexcept;

// Folds a running sum to 16 bits and complements it: the value to store.
uint16_t FoldChecksum(uint32_t sum) noexcept;

// True when the data, checksum field included, sums to 0xffff (i.e. verifies).
inline bool ChecksumOk(ByteView data) noexcept { return FoldChecksum(OnesSum(data)) == 0; }

// The IPv4 pseudo-header (RFC 9293 3.1) as a running sum, to chain into OnesSum().
constexpr uint32_t PseudoHeaderSum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len) noexcept {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + l4_len;
}

// Stores the IPv4 header checksum of `header` (ihl*4 bytes) into its checksum field.
void SetIpv4HeaderChecksum(MutByteView header) noexcept;

}  // namespace baton::dp
