// libFuzzer target: the TLS 1.3 record layer (crypto/tls/record.h).
//
// The stream is fed to two RecordAssemblers, one all at once and one in pieces whose
// sizes come from the split seed; both must yield the same records and the same error at
// the same place (a split of the input must never matter). Every whole record is then
//  - opened with Unprotect under a fixed key (the AEAD from byte 0): kOk must give content
//    inside the record with a non-zero type; a failed tag must leave no plaintext behind;
//  - used as content for Protect (inner type and padding from the prefix), which must
//    open again to exactly that content, and fail (bad_record_mac) with one bit flipped.
//
// Input layout (tests/fuzz/gen_corpus.py writes seeds in it):
//   [0]   AEAD: % 3 -> AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305
//   [1]   record sequence number for Unprotect/Protect
//   [2]   split seed: 0 = 1-byte pieces; otherwise pieces of 1..(seed*64) bytes
//   [3]   inner content type for the Protect round trip
//   [4]   padding bytes for Protect (0..255)
//   [5..] the byte stream
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "crypto/aead.h"
#include "crypto/tls/record.h"

namespace {

using namespace baton::crypto;
using namespace baton::crypto::tls;

constexpr size_t kPrefixLen = 5;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "tls_record_fuzz: invariant violated: %s\n", what);
  std::abort();
}

struct Event {
  RecordStatus status;
  std::vector<uint8_t> record;  // whole record on kOk
};

// Feeds `in` in pieces of the sizes `next_piece` returns; stops at the first error.
template <typename NextPiece>
std::vector<Event> Assemble(ByteView in, NextPiece next_piece) {
  std::vector<Event> events;
  RecordAssembler a;
  while (!in.empty()) {
    ByteView piece = in.first(std::min(in.size(), next_piece()));
    in = in.subspan(piece.size());
    while (true) {
      size_t used = 0;
      const RecordStatus s = a.Feed(piece, used);
      if (used > piece.size()) Fail("Feed used more than it was given");
      piece = piece.subspan(used);
      if (s == RecordStatus::kNeedMore) {
        if (!piece.empty()) Fail("kNeedMore with input left over");
        if (a.fill >= kRecordHeaderBytes && a.fill >= kRecordHeaderBytes + a.header.length) {
          Fail("kNeedMore with a whole record held");
        }
        break;
      }
      if (s != RecordStatus::kOk) {
        events.push_back({s, {}});
        return events;
      }
      const MutByteView rec = a.record();
      if (a.fill != rec.size()) Fail("kOk but fill is not the record size");
      if (a.header.length > kMaxCiphertextBytes) Fail("record above 2^14+256");
      if (a.header.type != ContentType::kApplicationData && a.header.length > kMaxPlaintextBytes) {
        Fail("plaintext record above 2^14");
      }
      if ((a.header.type == ContentType::kHandshake || a.header.type == ContentType::kAlert) &&
          a.header.length == 0) {
        Fail("empty handshake/alert record accepted");
      }
      if (static_cast<uint16_t>(rec[3] << 8 | rec[4]) != a.header.length ||
          static_cast<ContentType>(rec[0]) != a.header.type) {
        Fail("header fields do not match the record bytes");
      }
      events.push_back({s, std::vector<uint8_t>(rec.begin(), rec.end())});
      a.Reset();
      if (piece.empty()) break;
    }
  }
  return events;
}

struct Keys {
  CryptoContext ctx;
  std::array<AeadKey, 3> keys;
};

Keys& FixedKeys() {
  static Keys* k = [] {
    std::optional<CryptoContext> ctx = CryptoContext::Create();
    if (!ctx) Fail("CryptoContext::Create");
    auto* out = new Keys{std::move(*ctx), {}};
    const AeadAlg algs[] = {AeadAlg::kAes128Gcm, AeadAlg::kAes256Gcm, AeadAlg::kChacha20Poly1305};
    for (size_t i = 0; i < 3; ++i) {
      TrafficKey tk;
      tk.alg = algs[i];
      for (size_t j = 0; j < tk.key.size(); ++j) tk.key[j] = static_cast<uint8_t>(j);
      for (size_t j = 0; j < tk.iv.size(); ++j) tk.iv[j] = static_cast<uint8_t>(0x40 + j);
      if (out->ctx.Expand(tk, out->keys[i]) != CryptoStatus::kOk) Fail("Expand");
    }
    return out;
  }();
  return *k;
}

bool Inside(ByteView part, ByteView whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void CheckUnprotect(Keys& k, const AeadKey& key, uint64_t seq, std::vector<uint8_t> rec) {
  ContentType type = ContentType::kInvalid;
  MutByteView content;
  const MutByteView view(rec.data(), rec.size());
  const RecordStatus s = Unprotect(k.ctx, key, seq, view, type, content);
  const size_t body = rec.size() - kRecordHeaderBytes;
  switch (s) {
    case RecordStatus::kOk:
      if (!Inside(content, view.subspan(kRecordHeaderBytes))) Fail("content outside the record");
      if (type == ContentType::kInvalid) Fail("kOk with inner type 0");
      if (content.size() > kMaxPlaintextBytes) Fail("kOk with content above 2^14");
      break;
    case RecordStatus::kBadMac:
      // A failed tag must not leave unauthenticated plaintext (CryptoContext::Open).
      if (body >= kProtectOverheadBytes) {
        for (size_t i = kRecordHeaderBytes; i < rec.size() - kAeadTagBytes; ++i) {
          if (rec[i] != 0) Fail("bad tag left plaintext in the buffer");
        }
      }
      break;
    case RecordStatus::kInnerTooLong:
      if (body - kAeadTagBytes <= kMaxPlaintextBytes + 1) Fail("kInnerTooLong for a short record");
      break;
    case RecordStatus::kNoContentType:
      break;
    default:
      Fail("Unprotect: unexpected status");
  }
}

// Protect(content) then Unprotect must give back (type, content), as RFC 8446 5.4 strips.
void CheckRoundTrip(Keys& k, const AeadKey& key, uint64_t seq, ContentType type, ByteView content,
                    size_t padding, size_t flip) {
  std::vector<uint8_t> out(kMaxRecordBytes + 512);
  size_t written = 99;
  const RecordStatus ps =
      Protect(k.ctx, key, seq, type, content, padding, {out.data(), out.size()}, written);
  const size_t inner = content.size() + 1 + padding;
  const bool fits = content.size() <= kMaxPlaintextBytes && inner <= kMaxPlaintextBytes + 1 + 255 &&
                    inner + kAeadTagBytes <= kMaxCiphertextBytes;
  if (!fits) {
    if (ps != RecordStatus::kCryptoFailed || written != 0) Fail("Protect accepted an oversize");
    return;
  }
  if (ps != RecordStatus::kOk) Fail("Protect failed on a legal size");
  if (written != kRecordHeaderBytes + inner + kAeadTagBytes) Fail("Protect: wrong size");
  if (out[0] != 23 || out[1] != 3 || out[2] != 3 ||
      static_cast<size_t>(out[3] << 8 | out[4]) != written - kRecordHeaderBytes) {
    Fail("Protect: wrong header");
  }
  // Whole records must also pass the header check.
  RecordHeader hdr;
  if (ParseRecordHeader({out.data(), written}, hdr) != RecordStatus::kOk) {
    Fail("Protect wrote a record ParseRecordHeader refuses");
  }
  std::vector<uint8_t> rec(out.begin(), out.begin() + static_cast<long>(written));
  ContentType got = ContentType::kInvalid;
  MutByteView plain;
  const RecordStatus us = Unprotect(k.ctx, key, seq, {rec.data(), rec.size()}, got, plain);
  // Expected: strip zeros from content || type || padding.
  size_t n = content.size() + 1;
  if (type == ContentType::kInvalid) {
    n = content.size();
    while (n > 0 && content[n - 1] == 0) --n;
  }
  if (inner > kMaxPlaintextBytes + 1) {
    if (us != RecordStatus::kInnerTooLong) Fail("inner plaintext above 2^14+1 opened");
    return;
  }
  if (n == 0) {
    if (us != RecordStatus::kNoContentType) Fail("all-zero inner plaintext opened");
    return;
  }
  if (us != RecordStatus::kOk) Fail("round trip did not open");
  const ContentType want = type == ContentType::kInvalid ? static_cast<ContentType>(content[n - 1]) : type;
  if (got != want) Fail("round trip changed the content type");
  if (plain.size() != n - 1 || !std::equal(plain.begin(), plain.end(), content.begin())) {
    Fail("round trip changed the content");
  }
  // One flipped bit anywhere (header = AAD, body, tag) must fail the tag.
  rec.assign(out.begin(), out.begin() + static_cast<long>(written));
  const size_t at = flip % (written * 8);
  rec[at / 8] ^= static_cast<uint8_t>(1u << (at % 8));
  if (Unprotect(k.ctx, key, seq, {rec.data(), rec.size()}, got, plain) != RecordStatus::kBadMac) {
    Fail("flipped bit still opened");
  }
  // And the wrong sequence number.
  rec.assign(out.begin(), out.begin() + static_cast<long>(written));
  if (Unprotect(k.ctx, key, seq + 1, {rec.data(), rec.size()}, got, plain) != RecordStatus::kBadMac) {
    Fail("record opened under the next sequence number");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kPrefixLen) return 0;
  Keys& k = FixedKeys();
  const AeadKey& key = k.keys[data[0] % 3];
  const uint64_t seq = data[1];
  const uint8_t split = data[2];
  const auto inner_type = static_cast<ContentType>(data[3]);
  const size_t padding = data[4];
  const ByteView stream(data + kPrefixLen, size - kPrefixLen);

  const std::vector<Event> whole = Assemble(stream, [] { return SIZE_MAX; });
  uint32_t x = 0x9e3779b9u ^ split;
  const size_t max_piece = split == 0 ? 1 : size_t{split} * 64;
  const std::vector<Event> pieces = Assemble(stream, [&] {
    x ^= x << 13;  // xorshift32
    x ^= x >> 17;
    x ^= x << 5;
    return 1 + x % max_piece;
  });
  if (whole.size() != pieces.size()) Fail("split changed the number of records");
  for (size_t i = 0; i < whole.size(); ++i) {
    if (whole[i].status != pieces[i].status || whole[i].record != pieces[i].record) {
      Fail("split changed a record or its status");
    }
  }

  size_t flip = split;
  for (const Event& e : whole) {
    if (e.status != RecordStatus::kOk) break;
    CheckUnprotect(k, key, seq, e.record);
    const ByteView body(e.record.data() + kRecordHeaderBytes, e.record.size() - kRecordHeaderBytes);
    CheckRoundTrip(k, key, seq, inner_type, body, padding, flip);
    flip = flip * 31 + body.size();
  }
  // Unprotect on views shorter than a header is the caller's bug, reported, not a crash.
  ContentType t;
  MutByteView c;
  uint8_t tiny[4] = {23, 3, 3, 0};
  if (Unprotect(k.ctx, key, seq, {tiny, sizeof(tiny)}, t, c) != RecordStatus::kCryptoFailed) {
    Fail("Unprotect of 4 bytes");
  }
  return 0;
}
