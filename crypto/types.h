#pragma once

// Vocabulary shared by every crypto/ header: byte views, status codes, algorithm ids and
// the fixed-capacity secret/digest containers. Everything here is plain, trivially
// copyable data so that it can sit inside a session record that moves between cores
// and boxes (ARCHITECTURE.md 4).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace baton::crypto {

using ByteView = std::span<const uint8_t>;
using MutByteView = std::span<uint8_t>;

// Internal error codes (STYLE.md 10): never wire numbers, never exceptions.
enum class [[nodiscard]] CryptoStatus : uint8_t {
  kOk,
  kBadTag,          // AEAD open: authentication failed; the buffer was wiped
  kBadKey,          // key length/algorithm does not fit, or the key was never expanded
  kBadLength,       // an input or output size is outside what the primitive allows
  kWrongContext,    // an expanded key built for another ipsec-mb arch (see AeadKey)
  kOsslError,       // libcrypto failed; its error queue was drained (LastOsslError())
  kIpsecMbError,    // ipsec-mb reported an error (imb_get_errno)
  kNoMemory,
};

enum class HashAlg : uint8_t { kSha256 = 1, kSha384 = 2 };

// AEAD algorithms, independent of TLS version: TLS 1.2 ECDHE-*-GCM suites and the TLS 1.3
// suites map onto the same three.
enum class AeadAlg : uint8_t { kAes128Gcm = 1, kAes256Gcm = 2, kChacha20Poly1305 = 3 };

// TLS 1.3 cipher suites; enumerators are the wire numbers (RFC 8446 B.4).
enum class CipherSuite : uint16_t {
  kAes128GcmSha256 = 0x1301,
  kAes256GcmSha384 = 0x1302,
  kChacha20Poly1305Sha256 = 0x1303,
};

inline constexpr size_t kMaxHashBytes = 48;   // SHA-384
inline constexpr size_t kMaxAeadKeyBytes = 32;
inline constexpr size_t kAeadIvBytes = 12;    // RFC 8446 5.3: iv_length = max(8, N_MIN) = 12
inline constexpr size_t kAeadTagBytes = 16;

constexpr size_t DigestBytes(HashAlg h) noexcept { return h == HashAlg::kSha384 ? 48 : 32; }

constexpr size_t AeadKeyBytes(AeadAlg a) noexcept { return a == AeadAlg::kAes128Gcm ? 16 : 32; }

struct SuiteParams {
  AeadAlg aead;
  HashAlg hash;
};

// false for anything that is not one of the three TLS 1.3 suites above.
[[nodiscard]] constexpr bool LookupSuite(uint16_t wire, SuiteParams& out) noexcept {
  switch (static_cast<CipherSuite>(wire)) {
    case CipherSuite::kAes128GcmSha256: out = {AeadAlg::kAes128Gcm, HashAlg::kSha256}; return true;
    case CipherSuite::kAes256GcmSha384: out = {AeadAlg::kAes256Gcm, HashAlg::kSha384}; return true;
    case CipherSuite::kChacha20Poly1305Sha256:
      out = {AeadAlg::kChacha20Poly1305, HashAlg::kSha256};
      return true;
  }
  return false;
}

// A hash output (transcript hash, verify_data). Not secret.
struct Digest {
  uint8_t len = 0;
  std::array<uint8_t, kMaxHashBytes> bytes{};
  ByteView view() const noexcept { return {bytes.data(), len}; }
};

// A key-schedule secret (RFC 8446 7.1). Trivially copyable on purpose: it lives in session
// records, so it cannot wipe itself in a destructor. Whoever frees the record calls Wipe().
struct Secret {
  HashAlg hash = HashAlg::kSha256;
  uint8_t len = 0;  // == DigestBytes(hash) once derived; 0 = empty
  std::array<uint8_t, kMaxHashBytes> bytes{};
  ByteView view() const noexcept { return {bytes.data(), len}; }
  void Wipe() noexcept;
};

static_assert(std::is_trivially_copyable_v<Digest> && std::is_trivially_copyable_v<Secret>);

}  // namespace baton::crypto
