#include "dataplane/tcp/segment.h"

#include <algorithm>

namespace baton::dp::tcp {
namespace {

// Option kinds, RFC 9293 3.2, RFC 7323, RFC 2018.
constexpr uint8_t kOptEol = 0;
constexpr uint8_t kOptNop = 1;
constexpr uint8_t kOptMss = 2;
constexpr uint8_t kOptWscale = 3;
constexpr uint8_t kOptSackPerm = 4;
constexpr uint8_t kOptSack = 5;
constexpr uint8_t kOptTimestamps = 8;

// Bounded big-endian reader with a sticky failure flag: a read past the end returns
// zero and marks the reader failed; it never touches memory outside the span.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) noexcept : b_(b) {}
  uint8_t U8() noexcept { return Need(1) ? b_[pos_++] : 0; }
  uint16_t U16() noexcept {
    if (!Need(2)) return 0;
    const uint16_t v = static_cast<uint16_t>((b_[pos_] << 8) | b_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t U32() noexcept {
    if (!Need(4)) return 0;
    const uint32_t v = (uint32_t{b_[pos_]} << 24) | (uint32_t{b_[pos_ + 1]} << 16) |
                       (uint32_t{b_[pos_ + 2]} << 8) | uint32_t{b_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  Reader Sub(size_t n) noexcept {
    if (!Need(n)) return Reader({});
    Reader r(b_.subspan(pos_, n));
    pos_ += n;
    return r;
  }
  void Skip(size_t n) noexcept { if (Need(n)) pos_ += n; }
  size_t left() const noexcept { return b_.size() - pos_; }
  bool empty() const noexcept { return left() == 0; }
  bool ok() const noexcept { return ok_; }

 private:
  bool Need(size_t n) noexcept {
    if (!ok_ || left() < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  explicit Writer(std::span<uint8_t> b) noexcept : b_(b) {}
  void U8(uint8_t v) noexcept { if (Need(1)) b_[pos_++] = v; }
  void U16(uint16_t v) noexcept { U8(static_cast<uint8_t>(v >> 8)); U8(static_cast<uint8_t>(v)); }
  void U32(uint32_t v) noexcept { U16(static_cast<uint16_t>(v >> 16)); U16(static_cast<uint16_t>(v)); }
  void Bytes(std::span<const uint8_t> s) noexcept {
    if (!Need(s.size())) return;
    std::copy(s.begin(), s.end(), b_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ += s.size();
  }
  size_t pos() const noexcept { return pos_; }
  bool ok() const noexcept { return ok_; }

 private:
  bool Need(size_t n) noexcept {
    if (!ok_ || b_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::span<uint8_t> b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Exactly what BuildSegment writes, NOP padding included; every piece is a whole word.
size_t WordAlignedOptionsLen(const TcpOptions& o) noexcept {
  size_t n = 0;
  if (o.has_mss) n += 4;
  if (o.has_timestamps) n += 12;                      // [SACK-perm or NOP NOP] + TS
  else if (o.sack_permitted) n += 4;                  // NOP NOP SACK-perm
  if (o.has_wscale) n += 4;                           // NOP WS
  if (o.sack_count > 0) n += 4 + 8 * size_t{o.sack_count};  // NOP NOP SACK
  return n;
}

}  // namespace

ParseStatus ParseOptions(std::span<const uint8_t> bytes, TcpOptions& out) noexcept {
  out = TcpOptions{};
  Reader r(bytes);
  while (!r.empty()) {
    const uint8_t kind = r.U8();
    if (kind == kOptEol) break;  // RFC 9293 3.2: end of the option list
    if (kind == kOptNop) continue;
    if (r.empty()) return ParseStatus::kOptionTruncated;
    const uint8_t len = r.U8();
    if (len < 2) {
      // A length below 2 would loop forever or step backwards; reject for any kind.
      return kind == kOptSack ? ParseStatus::kSackBadLength : ParseStatus::kOptionBadLength;
    }
    if (r.left() < size_t{len} - 2) return ParseStatus::kOptionTruncated;
    Reader body = r.Sub(size_t{len} - 2);
    switch (kind) {
      case kOptMss:
        if (len != 4) return ParseStatus::kMssBadLength;
        out.has_mss = true;
        out.mss_bytes = body.U16();
        break;
      case kOptWscale:
        if (len != 3) return ParseStatus::kWscaleBadLength;
        out.has_wscale = true;
        out.wscale_shift = body.U8();
        break;
      case kOptSackPerm:
        if (len != 2) return ParseStatus::kSackPermBadLength;
        out.sack_permitted = true;
        break;
      case kOptSack: {
        if ((len - 2) % 8 != 0 || len < 10 || size_t{len - 2u} / 8 > kMaxSackBlocks) {
          return ParseStatus::kSackBadLength;
        }
        out.sack_count = static_cast<uint8_t>((len - 2) / 8);
        for (uint8_t i = 0; i < out.sack_count; ++i) {
          out.sack[i].left = SeqNum(body.U32());
          out.sack[i].right = SeqNum(body.U32());
        }
        break;
      }
      case kOptTimestamps:
        if (len != 10) return ParseStatus::kTimestampBadLength;
        out.has_timestamps = true;
        out.ts_val = body.U32();
        out.ts_ecr = body.U32();
        break;
      default:
        break;  // RFC 9293 3.2: unknown options are skipped by their length
    }
    if (!body.ok()) return ParseStatus::kOptionTruncated;  // unreachable: sizes checked
  }
  return r.ok() ? ParseStatus::kOk : ParseStatus::kOptionTruncated;
}

ParseStatus ParseSegment(std::span<const uint8_t> bytes, Segment& out) noexcept {
  if (bytes.size() < kTcpHeaderLen) return ParseStatus::kTruncatedHeader;
  Reader r(bytes);
  TcpHeader& h = out.hdr;
  h.src_port = r.U16();
  h.dst_port = r.U16();
  h.seq = SeqNum(r.U32());
  h.ack = SeqNum(r.U32());
  const uint8_t offset_byte = r.U8();
  h.flags = static_cast<uint8_t>(r.U8() & 0x3f);  // CWR/ECE ignored: no ECN yet
  h.window = r.U16();
  h.checksum = r.U16();
  h.urgent = r.U16();
  const size_t header_len = size_t{static_cast<uint8_t>(offset_byte >> 4)} * 4;
  if (header_len < kTcpHeaderLen || header_len > bytes.size()) {
    return ParseStatus::kBadDataOffset;
  }
  const ParseStatus st = ParseOptions(bytes.subspan(kTcpHeaderLen, header_len - kTcpHeaderLen),
                                      out.opts);
  if (st != ParseStatus::kOk) return st;
  out.payload = bytes.subspan(header_len);
  return ParseStatus::kOk;
}

size_t OptionsLen(const TcpOptions& opts) noexcept { return WordAlignedOptionsLen(opts); }

BuildStatus BuildSegment(const TcpHeader& hdr, const TcpOptions& opts,
                         std::span<const uint8_t> payload_a,
                         std::span<const uint8_t> payload_b, std::span<uint8_t> out,
                         size_t& written) noexcept {
  written = 0;
  if (opts.sack_count > kMaxSackBlocks) return BuildStatus::kTooManyOptions;
  const size_t opt_len = OptionsLen(opts);
  if (opt_len > kTcpMaxOptionsLen) return BuildStatus::kTooManyOptions;
  const size_t header_len = kTcpHeaderLen + opt_len;
  if (out.size() < header_len + payload_a.size() + payload_b.size()) {
    return BuildStatus::kNoRoom;
  }
  Writer w(out);
  w.U16(hdr.src_port);
  w.U16(hdr.dst_port);
  w.U32(hdr.seq.raw);
  w.U32(hdr.ack.raw);
  w.U8(static_cast<uint8_t>((header_len / 4) << 4));
  w.U8(hdr.flags);
  w.U16(hdr.window);
  w.U16(0);  // checksum: filled by the L3 layer over the pseudo-header
  w.U16(hdr.urgent);
  if (opts.has_mss) {
    w.U8(kOptMss); w.U8(4); w.U16(opts.mss_bytes);
  }
  if (opts.sack_permitted && opts.has_timestamps) {
    // RFC 7323 appendix A layout: SACK-permitted shares the word with the TS header.
    w.U8(kOptSackPerm); w.U8(2);
    w.U8(kOptTimestamps); w.U8(10); w.U32(opts.ts_val); w.U32(opts.ts_ecr);
  } else if (opts.sack_permitted) {
    w.U8(kOptNop); w.U8(kOptNop); w.U8(kOptSackPerm); w.U8(2);
  } else if (opts.has_timestamps) {
    w.U8(kOptNop); w.U8(kOptNop);
    w.U8(kOptTimestamps); w.U8(10); w.U32(opts.ts_val); w.U32(opts.ts_ecr);
  }
  if (opts.has_wscale) {
    w.U8(kOptNop); w.U8(kOptWscale); w.U8(3); w.U8(opts.wscale_shift);
  }
  if (opts.sack_count > 0) {
    w.U8(kOptNop); w.U8(kOptNop);
    w.U8(kOptSack); w.U8(static_cast<uint8_t>(2 + 8 * opts.sack_count));
    for (uint8_t i = 0; i < opts.sack_count; ++i) {
      w.U32(opts.sack[i].left.raw);
      w.U32(opts.sack[i].right.raw);
    }
  }
  w.Bytes(payload_a);
  w.Bytes(payload_b);
  if (!w.ok()) return BuildStatus::kNoRoom;
  written = w.pos();
  return BuildStatus::kOk;
}

}  // namespace baton::dp::tcp
