// libFuzzer target: the TCP header/options parser and builder (dataplane/tcp/segment.h).
//
// Input byte 0 picks the direction:
//   even: the rest is a TCP segment. ParseSegment must stay inside it; when it parses,
//         BuildSegment of the result (payload split in two at a point from byte 0) must
//         parse back to the same header (checksum apart: the builder writes zero) and
//         options, or the builder must say why it cannot (options over 40 bytes).
//   odd:  the rest describes a header and options (FuzzedDataProvider); build, then
//         parse, and the fields must come back.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "dataplane/tcp/segment.h"

namespace {

using namespace baton::dp::tcp;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "tcp_segment_fuzz: invariant violated: %s\n", what);
  std::abort();
}

bool SameOptions(const TcpOptions& a, const TcpOptions& b) {
  if (a.has_mss != b.has_mss || a.has_wscale != b.has_wscale ||
      a.sack_permitted != b.sack_permitted || a.has_timestamps != b.has_timestamps ||
      a.sack_count != b.sack_count)
    return false;
  if (a.has_mss && a.mss_bytes != b.mss_bytes) return false;
  if (a.has_wscale && a.wscale_shift != b.wscale_shift) return false;
  if (a.has_timestamps && (a.ts_val != b.ts_val || a.ts_ecr != b.ts_ecr)) return false;
  for (size_t i = 0; i < a.sack_count && i < kMaxSackBlocks; ++i)
    if (!(a.sack[i].left == b.sack[i].left) || !(a.sack[i].right == b.sack[i].right)) return false;
  return true;
}

bool SameHeader(const TcpHeader& a, const TcpHeader& b) {
  // Parsing keeps only the six RFC 9293 flag bits (no ECN yet), so compare those.
  return a.src_port == b.src_port && a.dst_port == b.dst_port && a.seq == b.seq &&
         a.ack == b.ack && (a.flags & 0x3f) == (b.flags & 0x3f) && a.window == b.window &&
         a.urgent == b.urgent;
}

// Builds (hdr, opts, a+b) into a buffer of `room` bytes and checks what comes back.
void BuildAndReparse(const TcpHeader& hdr, const TcpOptions& opts, std::span<const uint8_t> a,
                     std::span<const uint8_t> b, size_t room) {
  std::vector<uint8_t> out(room);
  size_t written = 12345;
  const BuildStatus st = BuildSegment(hdr, opts, a, b, {out.data(), out.size()}, written);
  const size_t need = kTcpHeaderLen + OptionsLen(opts) + a.size() + b.size();
  if (st != BuildStatus::kOk) {
    if (written != 0) Fail("failed build left `written` set");
    if (st == BuildStatus::kTooManyOptions) {
      if (opts.sack_count <= kMaxSackBlocks && OptionsLen(opts) <= kTcpMaxOptionsLen)
        Fail("kTooManyOptions for options that fit");
    } else if (st == BuildStatus::kNoRoom) {
      if (room >= need) Fail("kNoRoom with room to spare");
    } else {
      Fail("unknown build status");
    }
    return;
  }
  if (opts.sack_count > kMaxSackBlocks || OptionsLen(opts) > kTcpMaxOptionsLen)
    Fail("built options that do not fit");
  if (OptionsLen(opts) % 4 != 0) Fail("options length not a whole number of words");
  if (written != need) Fail("written != header + options + payload");
  Segment back;
  if (ParseSegment({out.data(), written}, back) != ParseStatus::kOk)
    Fail("built segment does not parse");
  if (!SameHeader(hdr, back.hdr)) Fail("header changed in build -> parse");
  if (back.hdr.checksum != 0) Fail("builder wrote a nonzero checksum");
  if (!SameOptions(opts, back.opts)) Fail("options changed in build -> parse");
  if (back.payload.size() != a.size() + b.size() ||
      !std::equal(a.begin(), a.end(), back.payload.begin()) ||
      !std::equal(b.begin(), b.end(), back.payload.begin() + std::ptrdiff_t(a.size())))
    Fail("payload changed in build -> parse");
}

void FromWire(uint8_t selector, std::span<const uint8_t> bytes) {
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());  // exact size for ASan
  const std::span<const uint8_t> in(copy.data(), copy.size());
  Segment seg;
  const ParseStatus st = ParseSegment(in, seg);
  if (st >= ParseStatus::kCount) Fail("unknown parse status");
  if (st != ParseStatus::kOk) return;
  const size_t header_len = size_t(in[12] >> 4) * 4;
  if (seg.payload.data() != in.data() + header_len || seg.payload.size() != in.size() - header_len)
    Fail("payload is not the bytes after the data offset");
  if (seg.opts.sack_count > kMaxSackBlocks) Fail("more SACK blocks than fit");
  TcpOptions opts_only;
  if (ParseOptions(in.subspan(kTcpHeaderLen, header_len - kTcpHeaderLen), opts_only) !=
          ParseStatus::kOk ||
      !SameOptions(opts_only, seg.opts))
    Fail("ParseOptions disagrees with ParseSegment");

  const size_t split = seg.payload.empty() ? 0 : size_t(selector >> 1) % (seg.payload.size() + 1);
  const size_t room = kTcpMaxHeaderLen + seg.payload.size();
  BuildAndReparse(seg.hdr, seg.opts, seg.payload.first(split), seg.payload.subspan(split), room);
}

void FromFields(std::span<const uint8_t> bytes) {
  FuzzedDataProvider p(bytes.data(), bytes.size());
  TcpHeader hdr;
  hdr.src_port = p.ConsumeIntegral<uint16_t>();
  hdr.dst_port = p.ConsumeIntegral<uint16_t>();
  hdr.seq = SeqNum(p.ConsumeIntegral<uint32_t>());
  hdr.ack = SeqNum(p.ConsumeIntegral<uint32_t>());
  hdr.flags = p.ConsumeIntegral<uint8_t>();
  hdr.window = p.ConsumeIntegral<uint16_t>();
  hdr.checksum = p.ConsumeIntegral<uint16_t>();
  hdr.urgent = p.ConsumeIntegral<uint16_t>();
  TcpOptions o;
  o.has_mss = p.ConsumeBool();
  o.has_wscale = p.ConsumeBool();
  o.sack_permitted = p.ConsumeBool();
  o.has_timestamps = p.ConsumeBool();
  o.wscale_shift = p.ConsumeIntegral<uint8_t>();
  o.sack_count = p.ConsumeIntegralInRange<uint8_t>(0, kMaxSackBlocks + 1);
  o.mss_bytes = p.ConsumeIntegral<uint16_t>();
  o.ts_val = p.ConsumeIntegral<uint32_t>();
  o.ts_ecr = p.ConsumeIntegral<uint32_t>();
  for (auto& s : o.sack) {
    s.left = SeqNum(p.ConsumeIntegral<uint32_t>());
    s.right = SeqNum(p.ConsumeIntegral<uint32_t>());
  }
  const size_t slack = p.ConsumeIntegralInRange<size_t>(0, 8);
  const bool short_room = p.ConsumeBool();
  const std::vector<uint8_t> a = p.ConsumeBytes<uint8_t>(p.ConsumeIntegralInRange<size_t>(0, 64));
  const std::vector<uint8_t> b = p.ConsumeRemainingBytes<uint8_t>();
  const size_t need = kTcpHeaderLen + OptionsLen(o) + a.size() + b.size();
  const size_t room = short_room ? (need > slack ? need - slack : 0) : need + slack;
  BuildAndReparse(hdr, o, a, b, room);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  if (data[0] & 1)
    FromFields(rest);
  else
    FromWire(data[0], rest);
  return 0;
}
