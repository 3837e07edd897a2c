#pragma once

// TLS 1.3 record layer (RFC 8446 5): header checks, reassembly of records from a byte
// stream that arrives in arbitrary pieces, and TLSInnerPlaintext protection through
// CryptoContext. Hot path: noexcept, no heap, status values.

#include <array>
#include <cstdint>
#include <type_traits>

#include "crypto/aead.h"
#include "crypto/tls/alert.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

inline constexpr size_t kRecordHeaderBytes = 5;
inline constexpr size_t kMaxPlaintextBytes = size_t{1} << 14;          // RFC 8446 5.1
inline constexpr size_t kMaxCiphertextBytes = kMaxPlaintextBytes + 256;  // RFC 8446 5.2
inline constexpr size_t kMaxRecordBytes = kRecordHeaderBytes + kMaxCiphertextBytes;
// Bytes a protected record adds to its content: the inner content type and the tag.
inline constexpr size_t kProtectOverheadBytes = 1 + kAeadTagBytes;

// Wire numbers (RFC 8446 B.1).
enum class ContentType : uint8_t {
  kInvalid = 0,
  kChangeCipherSpec = 20,
  kAlert = 21,
  kHandshake = 22,
  kApplicationData = 23,
};

struct RecordHeader {
  ContentType type = ContentType::kInvalid;
  uint16_t version = 0;
  uint16_t length = 0;
};

// Internal record-layer outcomes (STYLE.md 10); AlertFor() gives the wire alert.
enum class [[nodiscard]] RecordStatus : uint8_t {
  kOk,
  kNeedMore,        // not a whole header/record yet
  kBadType,         // unknown outer content type
  kBadVersion,      // legacy_record_version is not 0x03xx
  kEmptyHandshake,  // zero-length handshake (or alert) fragment
  kTooLong,         // length above 2^14+256 (protected) or 2^14 (plaintext)
  kBadMac,          // AEAD open failed, or too short to hold a tag
  kInnerTooLong,    // TLSInnerPlaintext above 2^14+1
  kNoContentType,   // TLSInnerPlaintext all zeros
  kCryptoFailed,    // our side: key not usable, output too small
};

constexpr Alert AlertFor(RecordStatus s) noexcept {
  switch (s) {
    case RecordStatus::kOk:
    case RecordStatus::kNeedMore: return Alert::kInternalError;  // not errors: callers check first
    case RecordStatus::kBadType: return Alert::kUnexpectedMessage;  // RFC 8446 5
    case RecordStatus::kBadVersion: return Alert::kProtocolVersion;
    case RecordStatus::kEmptyHandshake: return Alert::kUnexpectedMessage;  // RFC 8446 5.1
    case RecordStatus::kTooLong: return Alert::kRecordOverflow;             // RFC 8446 5.1/5.2
    case RecordStatus::kBadMac: return Alert::kBadRecordMac;                // RFC 8446 5.2
    case RecordStatus::kInnerTooLong: return Alert::kRecordOverflow;        // RFC 8446 5.2
    case RecordStatus::kNoContentType: return Alert::kUnexpectedMessage;    // RFC 8446 5.4
    case RecordStatus::kCryptoFailed: return Alert::kInternalError;
  }
  return Alert::kInternalError;
}

// Checks the 5-byte header. application_data records carry ciphertext (2^14+256 bound);
// the other types are TLSPlaintext (2^14 bound).
RecordStatus ParseRecordHeader(ByteView in, RecordHeader& out) noexcept;

// Collects one record at a time from a stream. Plain data, trivially copyable: partial
// record bytes are part of the session state (ARCHITECTURE.md 4).
struct RecordAssembler {
  uint16_t fill = 0;  // bytes of the current record held so far (header included)
  RecordHeader header{};
  std::array<uint8_t, kMaxRecordBytes> bytes{};

  // Takes bytes from `in` until one record is complete. Sets `used` to the bytes taken.
  // kOk: record() holds a whole record (call Reset() after handling it); kNeedMore: `in`
  // was all taken; anything else: the stream is broken.
  RecordStatus Feed(ByteView in, size_t& used) noexcept;
  MutByteView record() noexcept { return {bytes.data(), kRecordHeaderBytes + header.length}; }
  MutByteView body() noexcept { return {bytes.data() + kRecordHeaderBytes, header.length}; }
  void Reset() noexcept { fill = 0; }
};
static_assert(std::is_trivially_copyable_v<RecordAssembler>);

// RFC 8446 5.2: opens a protected record in place. `record` is header + encrypted body.
// On kOk, `inner_type` is the real content type and `content` the plaintext with padding
// stripped (a view into `record`).
RecordStatus Unprotect(CryptoContext& ctx, const AeadKey& key, uint64_t seq, MutByteView record,
                       ContentType& inner_type, MutByteView& content) noexcept;

// Seals `content` (at most 2^14 bytes) of `type` plus `padding` zero bytes into `out` as a
// whole record; `written` is the record's size. kCryptoFailed when `out` is too small.
RecordStatus Protect(CryptoContext& ctx, const AeadKey& key, uint64_t seq, ContentType type,
                     ByteView content, size_t padding, MutByteView out, size_t& written) noexcept;

// An unprotected record (ClientHello phase, ServerHello, plaintext alerts).
RecordStatus WritePlaintextRecord(ContentType type, ByteView content, MutByteView out,
                                  size_t& written) noexcept;

}  // namespace baton::crypto::tls
