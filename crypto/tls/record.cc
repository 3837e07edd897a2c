#include "crypto/tls/record.h"

#include <algorithm>
#include <cstring>

namespace baton::crypto::tls {
namespace {

// RFC 8446 5.1: legacy_record_version is 0x0303, or 0x0301 on an initial ClientHello; it
// "MUST be ignored for all purposes". We only insist on the TLS major version 3, so that a
// stream of something else (SSLv2, HTTP) is refused at once.
constexpr uint8_t kTlsMajor = 3;

bool IsKnownContentType(ContentType t) noexcept {
  switch (t) {
    case ContentType::kChangeCipherSpec:
    case ContentType::kAlert:
    case ContentType::kHandshake:
    case ContentType::kApplicationData: return true;
    case ContentType::kInvalid: return false;
  }
  return false;
}

void WriteHeader(ContentType type, size_t length, uint8_t* out) noexcept {
  out[0] = static_cast<uint8_t>(type);
  out[1] = 0x03;  // RFC 8446 5.1: legacy_record_version 0x0303 for everything we send
  out[2] = 0x03;
  out[3] = static_cast<uint8_t>(length >> 8);
  out[4] = static_cast<uint8_t>(length);
}

}  // namespace

RecordStatus ParseRecordHeader(ByteView in, RecordHeader& out) noexcept {
  if (in.size() < kRecordHeaderBytes) return RecordStatus::kNeedMore;
  out.type = static_cast<ContentType>(in[0]);
  if (!IsKnownContentType(out.type)) return RecordStatus::kBadType;
  out.version = static_cast<uint16_t>(in[1] << 8 | in[2]);
  if (in[1] != kTlsMajor) return RecordStatus::kBadVersion;
  out.length = static_cast<uint16_t>(in[3] << 8 | in[4]);
  // RFC 8446 5.2: "The length MUST NOT exceed 2^14 + 256 bytes"; 5.1: TLSPlaintext
  // "MUST NOT exceed 2^14 bytes". Either way: record_overflow.
  const bool ciphertext = out.type == ContentType::kApplicationData;
  if (out.length > (ciphertext ? kMaxCiphertextBytes : kMaxPlaintextBytes)) {
    return RecordStatus::kTooLong;
  }
  // RFC 8446 5.1: "Implementations MUST NOT send zero-length fragments of Handshake types"
  // and "Alert messages ... MUST NOT be fragmented across records".
  if (out.length == 0 && (out.type == ContentType::kHandshake || out.type == ContentType::kAlert)) {
    return RecordStatus::kEmptyHandshake;
  }
  return RecordStatus::kOk;
}

RecordStatus RecordAssembler::Feed(ByteView in, size_t& used) noexcept {
  used = 0;
  if (fill < kRecordHeaderBytes) {
    const size_t take = std::min(in.size(), kRecordHeaderBytes - fill);
    std::memcpy(bytes.data() + fill, in.data(), take);
    fill = static_cast<uint16_t>(fill + take);
    used = take;
    if (fill < kRecordHeaderBytes) return RecordStatus::kNeedMore;
    const RecordStatus s = ParseRecordHeader({bytes.data(), kRecordHeaderBytes}, header);
    if (s != RecordStatus::kOk) return s;
  }
  const size_t want = kRecordHeaderBytes + header.length;
  const size_t take = std::min(in.size() - used, want - fill);
  std::memcpy(bytes.data() + fill, in.data() + used, take);
  fill = static_cast<uint16_t>(fill + take);
  used += take;
  return fill == want ? RecordStatus::kOk : RecordStatus::kNeedMore;
}

RecordStatus Unprotect(CryptoContext& ctx, const AeadKey& key, uint64_t seq, MutByteView record,
                       ContentType& inner_type, MutByteView& content) noexcept {
  if (record.size() < kRecordHeaderBytes) return RecordStatus::kCryptoFailed;
  const size_t body_len = record.size() - kRecordHeaderBytes;
  // Too short to hold the inner content type and the tag: it cannot authenticate.
  if (body_len < kProtectOverheadBytes) return RecordStatus::kBadMac;
  const ByteView aad = record.first(kRecordHeaderBytes);  // RFC 8446 5.2: additional_data
  const MutByteView data = record.subspan(kRecordHeaderBytes, body_len - kAeadTagBytes);
  const ConstTagSpan tag(record.data() + record.size() - kAeadTagBytes, kAeadTagBytes);
  const CryptoStatus cs = ctx.Open(key, seq, aad, data, tag);
  if (cs == CryptoStatus::kBadTag) return RecordStatus::kBadMac;
  if (cs != CryptoStatus::kOk) return RecordStatus::kCryptoFailed;
  // RFC 8446 5.2: "The length MUST NOT exceed 2^14 + 1 octets" for TLSInnerPlaintext.
  if (data.size() > kMaxPlaintextBytes + 1) return RecordStatus::kInnerTooLong;
  // RFC 8446 5.4: the content type is the last non-zero byte; "If a receiving
  // implementation does not find a non-zero octet in the cleartext, it MUST terminate the
  // connection with an "unexpected_message" alert."
  size_t n = data.size();
  while (n > 0 && data[n - 1] == 0) --n;
  if (n == 0) return RecordStatus::kNoContentType;
  inner_type = static_cast<ContentType>(data[n - 1]);
  content = data.first(n - 1);
  return RecordStatus::kOk;
}

RecordStatus Protect(CryptoContext& ctx, const AeadKey& key, uint64_t seq, ContentType type,
                     ByteView content, size_t padding, MutByteView out, size_t& written) noexcept {
  written = 0;
  const size_t inner = content.size() + 1 + padding;
  if (content.size() > kMaxPlaintextBytes || inner > kMaxPlaintextBytes + 1 + 255 ||
      inner + kAeadTagBytes > kMaxCiphertextBytes) {
    return RecordStatus::kCryptoFailed;
  }
  const size_t total = kRecordHeaderBytes + inner + kAeadTagBytes;
  if (out.size() < total) return RecordStatus::kCryptoFailed;
  // RFC 8446 5.2: opaque_type = application_data, legacy_record_version = 0x0303.
  WriteHeader(ContentType::kApplicationData, inner + kAeadTagBytes, out.data());
  uint8_t* body = out.data() + kRecordHeaderBytes;
  if (!content.empty() && content.data() != body) std::memmove(body, content.data(), content.size());
  body[content.size()] = static_cast<uint8_t>(type);
  std::memset(body + content.size() + 1, 0, padding);
  const TagSpan tag(body + inner, kAeadTagBytes);
  if (ctx.Seal(key, seq, out.first(kRecordHeaderBytes), {body, inner}, tag) != CryptoStatus::kOk) {
    return RecordStatus::kCryptoFailed;
  }
  written = total;
  return RecordStatus::kOk;
}

RecordStatus WritePlaintextRecord(ContentType type, ByteView content, MutByteView out,
                                  size_t& written) noexcept {
  written = 0;
  if (content.size() > kMaxPlaintextBytes || out.size() < kRecordHeaderBytes + content.size()) {
    return RecordStatus::kCryptoFailed;
  }
  WriteHeader(type, content.size(), out.data());
  if (!content.empty()) std::memmove(out.data() + kRecordHeaderBytes, content.data(), content.size());
  written = kRecordHeaderBytes + content.size();
  return RecordStatus::kOk;
}

}  // namespace baton::crypto::tls
