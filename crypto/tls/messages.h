#pragma once

// TLS 1.3 handshake message vocabulary (RFC 8446 4, B.3) and the ClientHello parser.
// The parser fills a ClientHello of views into the caller's message bytes; it does not
// copy and does not allocate.

#include <array>
#include <cstdint>

#include "crypto/tls/alert.h"
#include "crypto/tls/reader.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

inline constexpr size_t kHandshakeHeaderBytes = 4;
inline constexpr size_t kHelloRandomBytes = 32;  // ClientHello/ServerHello.random
inline constexpr uint16_t kTls12 = 0x0303;
inline constexpr uint16_t kTls13 = 0x0304;

// Wire numbers (RFC 8446 B.3).
enum class HsType : uint8_t {
  kClientHello = 1,
  kServerHello = 2,
  kNewSessionTicket = 4,
  kEndOfEarlyData = 5,
  kEncryptedExtensions = 8,
  kCertificate = 11,
  kCertificateRequest = 13,
  kCertificateVerify = 15,
  kFinished = 20,
  kKeyUpdate = 24,
  kMessageHash = 254,
};

// Wire numbers (RFC 8446 4.2).
enum class ExtType : uint16_t {
  kServerName = 0,
  kSupportedGroups = 10,
  kSignatureAlgorithms = 13,
  kAlpn = 16,
  kRecordSizeLimit = 28,  // RFC 8449
  kPreSharedKey = 41,
  kEarlyData = 42,
  kSupportedVersions = 43,
  kCookie = 44,
  kPskKeyExchangeModes = 45,
  kKeyShare = 51,
};

// Wire numbers (RFC 8446 4.2.7).
enum class NamedGroup : uint16_t { kSecp256r1 = 0x0017, kSecp384r1 = 0x0018, kX25519 = 0x001d };
// Wire numbers (RFC 8446 4.2.3).
enum class SignatureScheme : uint16_t {
  kEcdsaSecp256r1Sha256 = 0x0403,
  kEcdsaSecp384r1Sha384 = 0x0503,
  kRsaPssRsaeSha256 = 0x0804,
  kRsaPssRsaeSha384 = 0x0805,
  kEd25519 = 0x0807,
};
// Wire numbers (RFC 8446 4.2.9).
enum class PskKeyExchangeMode : uint8_t { kPskKe = 0, kPskDheKe = 1 };

// Most extensions a ClientHello may carry here: real clients send about 20. Bounds the
// duplicate check (RFC 8446 4.2: "There MUST NOT be more than one extension of the same
// type in a given extension block").
inline constexpr size_t kMaxHelloExtensions = 64;
// Most key_share entries we look at; clients send one to three.
inline constexpr size_t kMaxKeyShares = 16;

struct KeyShareOffer {
  uint16_t group = 0;
  ByteView key{};
};

// A parsed ClientHello: views into the message body.
struct ClientHello {
  uint16_t legacy_version = 0;
  ByteView random{};
  ByteView session_id{};
  ByteView cipher_suites{};       // u16 list, even length
  bool has_supported_versions = false;
  bool offers_tls13 = false;
  bool has_key_share = false;
  std::array<KeyShareOffer, kMaxKeyShares> shares{};
  size_t share_count = 0;
  bool has_supported_groups = false;
  ByteView supported_groups{};    // u16 list
  bool has_signature_algorithms = false;
  ByteView signature_algorithms{};  // u16 list
  bool has_sni = false;
  ByteView sni{};                 // host_name, if any
  bool has_alpn = false;
  ByteView alpn_list{};           // ProtocolNameList body
  bool has_early_data = false;
  bool has_pre_shared_key = false;
  // RFC 8446 4.2.11: OfferedPsks, checked for shape (every identity and binder well
  // formed, as many binders as identities) but not opened.
  ByteView psk_identities{};      // PskIdentity identities<7..2^16-1> body
  ByteView psk_binders{};         // PskBinderEntry binders<33..2^16-1> body
  size_t psk_binders_offset = 0;  // offset in the body of the binders list (its length)
  size_t psk_count = 0;
  bool has_psk_modes = false;     // RFC 8446 4.2.9 psk_key_exchange_modes
  bool psk_ke = false;
  bool psk_dhe_ke = false;
  bool has_record_size_limit = false;  // RFC 8449
  uint16_t record_size_limit = 0;
  bool has_cookie = false;
  ByteView cookie{};              // RFC 8446 4.2.2 opaque cookie<1..2^16-1>
};

// Parses a ClientHello body (without the 4-byte handshake header).
Step ParseClientHello(ByteView body, ClientHello& out) noexcept;

// True when the u16 list `list` (raw, even length) contains `v`.
bool ListHas(ByteView list, uint16_t v) noexcept;

// The ALPN name the server picks: its first preference the client also offers. Returns
// false when there is no overlap. `server_list` is a ProtocolNameList body (u8-prefixed names).
bool PickAlpn(ByteView client_list, ByteView server_list, ByteView& chosen) noexcept;

// RFC 8446 4.1.3: the ServerHello.random of a HelloRetryRequest, SHA-256("HelloRetryRequest").
extern const std::array<uint8_t, 32> kHelloRetryRandom;

// Starts a handshake message: type and a 3-byte length that End() fills in.
size_t BeginMessage(Writer& w, HsType type);

// RFC 8449 4: the smallest record_size_limit an endpoint may advertise.
inline constexpr uint16_t kMinRecordSizeLimit = 64;

// Walks an OfferedPsks identities list (ClientHello::psk_identities). Next() is false at
// the end; the parser has already checked the shape.
class PskIdentityReader {
 public:
  explicit PskIdentityReader(ByteView identities) noexcept : r_(identities) {}
  bool Next(ByteView& identity, uint32_t& obfuscated_age) noexcept {
    if (r_.empty()) return false;
    identity = r_.Vec16();
    obfuscated_age = static_cast<uint32_t>(r_.U16()) << 16;
    obfuscated_age |= r_.U16();
    return r_.ok();
  }

 private:
  Reader r_;
};

// The binder at `index` of an OfferedPsks binders list, or an empty view.
ByteView PskBinderAt(ByteView binders, size_t index) noexcept;

}  // namespace baton::crypto::tls
