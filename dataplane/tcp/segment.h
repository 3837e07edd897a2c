// TCP header and options: parse from bytes with a bounded reader, build into a buffer.
// RFC 9293 3.1 (header), 3.2 (options); RFC 7323 (window scale, timestamps);
// RFC 2018 (SACK). The checksum field is parsed and left zero when building: the L3
// layer owns the pseudo-header sum.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/tcp/seq.h"

namespace baton::dp::tcp {

// Flag bits as they sit in byte 13 of the header.
inline constexpr uint8_t kFlagFin = 0x01;
inline constexpr uint8_t kFlagSyn = 0x02;
inline constexpr uint8_t kFlagRst = 0x04;
inline constexpr uint8_t kFlagPsh = 0x08;
inline constexpr uint8_t kFlagAck = 0x10;
inline constexpr uint8_t kFlagUrg = 0x20;

inline constexpr size_t kTcpHeaderLen = 20;
inline constexpr size_t kTcpMaxOptionsLen = 40;
inline constexpr size_t kTcpMaxHeaderLen = kTcpHeaderLen + kTcpMaxOptionsLen;
inline constexpr size_t kMaxSackBlocks = 4;  // RFC 2018 3: at most 4 fit in 40 bytes

struct SackBlock {
  SeqNum left;   // first sequence number of the block
  SeqNum right;  // sequence number just after the block
};

// Options present in one segment. `has_*` says the option appeared.
struct TcpOptions {
  bool has_mss = false;
  bool has_wscale = false;
  bool sack_permitted = false;
  bool has_timestamps = false;
  uint8_t wscale_shift = 0;  // as received; clamping to 14 is the caller's (RFC 7323 2.3)
  uint8_t sack_count = 0;
  uint16_t mss_bytes = 0;
  uint32_t ts_val = 0;
  uint32_t ts_ecr = 0;
  std::array<SackBlock, kMaxSackBlocks> sack{};
};

struct TcpHeader {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  SeqNum seq;
  SeqNum ack;
  uint8_t flags = 0;
  uint16_t window = 0;  // raw field; scaling is the connection's business
  uint16_t checksum = 0;
  uint16_t urgent = 0;
};

// A parsed segment. `payload` points into the caller's bytes.
struct Segment {
  TcpHeader hdr;
  TcpOptions opts;
  std::span<const uint8_t> payload;

  bool Has(uint8_t flag) const noexcept { return (hdr.flags & flag) != 0; }
  // RFC 9293 3.4 SEG.LEN: payload plus one for each of SYN and FIN.
  uint32_t SeqLen() const noexcept {
    return static_cast<uint32_t>(payload.size()) + (Has(kFlagSyn) ? 1u : 0u) +
           (Has(kFlagFin) ? 1u : 0u);
  }
};

enum class [[nodiscard]] ParseStatus : uint8_t {
  kOk,
  kTruncatedHeader,     // fewer than 20 bytes
  kBadDataOffset,       // data offset below 5 words or beyond the bytes given
  kOptionTruncated,     // an option's kind/length runs past the header
  kOptionBadLength,     // length byte below 2 for an unknown option
  kMssBadLength,        // RFC 9293 3.2: MSS length must be 4
  kWscaleBadLength,     // RFC 7323 2.2: length 3
  kSackPermBadLength,   // RFC 2018 2: length 2
  kSackBadLength,       // RFC 2018 3: 2 + 8n, 1 <= n <= 4
  kTimestampBadLength,  // RFC 7323 3.2: length 10
  kCount
};

// Parses a TCP segment (header, options, payload) from `bytes`, which is exactly the
// TCP part of the IP packet. Never reads outside `bytes`.
ParseStatus ParseSegment(std::span<const uint8_t> bytes, Segment& out) noexcept;

// Options only (the bytes between the fixed header and the data offset).
ParseStatus ParseOptions(std::span<const uint8_t> bytes, TcpOptions& out) noexcept;

enum class [[nodiscard]] BuildStatus : uint8_t { kOk, kNoRoom, kTooManyOptions };

// Writes header + options + the payload pieces (two, because ring data may wrap) into
// `out`; `written` gets the total length. Options are written in a fixed order with NOP
// padding to a 4-byte boundary. The checksum field is written as zero.
BuildStatus BuildSegment(const TcpHeader& hdr, const TcpOptions& opts,
                         std::span<const uint8_t> payload_a,
                         std::span<const uint8_t> payload_b, std::span<uint8_t> out,
                         size_t& written) noexcept;

// Length the options would take (padded), to size payload before building.
size_t OptionsLen(const TcpOptions& opts) noexcept;

}  // namespace baton::dp::tcp
