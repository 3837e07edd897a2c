#pragma once

// The client's side of the TLS 1.3 handshake vocabulary (RFC 8446 4): ClientHello
// building, and parsers for what a server sends (ServerHello / HelloRetryRequest,
// EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify, NewSessionTicket).
// Parsers fill structs of views into the caller's message bytes; they do not copy and do
// not allocate. Each returns the alert RFC 8446 names for the defect it finds.
//
// Wire enums come from messages.h (shared with the server); what only the client needs is
// here. TODO(merge): move the duplicates (extension list, ALPN checks) into messages.h.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "crypto/tls/alert.h"
#include "crypto/tls/messages.h"
#include "crypto/tls/reader.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

// RFC 8446 6.2 alerts that alert.h does not name yet. TODO(merge): into alert.h.
inline constexpr Alert kAlertUnsupportedCertificate = static_cast<Alert>(43);
inline constexpr Alert kAlertCertificateRevoked = static_cast<Alert>(44);
inline constexpr Alert kAlertCertificateExpired = static_cast<Alert>(45);
inline constexpr Alert kAlertCertificateUnknown = static_cast<Alert>(46);
inline constexpr Alert kAlertUnknownCa = static_cast<Alert>(48);

// Signature schemes the client understands (RFC 8446 4.2.3). Wire numbers.
enum class ClientScheme : uint16_t {
  kRsaPkcs1Sha256 = 0x0401,  // certificates only: never valid in a TLS 1.3 CertificateVerify
  kRsaPkcs1Sha384 = 0x0501,
  kEcdsaSecp256r1Sha256 = 0x0403,
  kEcdsaSecp384r1Sha384 = 0x0503,
  kRsaPssRsaeSha256 = 0x0804,
  kRsaPssRsaeSha384 = 0x0805,
  kEd25519 = 0x0807,
};

// Extensions only the client side needs (RFC 8446 4.2, RFC 6066, RFC 8449).
inline constexpr uint16_t kExtMaxFragmentLength = 1;
inline constexpr uint16_t kExtStatusRequest = 5;
inline constexpr uint16_t kExtSignedCertTimestamp = 18;
inline constexpr uint16_t kExtRecordSizeLimit = 28;
inline constexpr uint16_t kExtCertificateAuthorities = 47;
inline constexpr uint16_t kExtOidFilters = 48;
inline constexpr uint16_t kExtPostHandshakeAuth = 49;
inline constexpr uint16_t kExtSignatureAlgorithmsCert = 50;

inline constexpr size_t kMaxLegacySessionIdBytes = 32;
inline constexpr size_t kMaxChainCertificates = 16;

struct OfferedShare {
  uint16_t group = 0;
  ByteView public_key{};
};

// Everything a ClientHello carries. The second ClientHello after a HelloRetryRequest is
// built from the same values, with the new share and the cookie (RFC 8446 4.1.2).
struct ClientHelloParams {
  ByteView random{};
  ByteView session_id{};                     // 32 bytes in middlebox compatibility mode
  std::span<const uint16_t> suites{};
  std::span<const uint16_t> groups{};        // supported_groups
  std::span<const OfferedShare> shares{};    // key_share
  std::span<const uint16_t> schemes{};       // signature_algorithms
  std::string_view server_name{};            // empty: no server_name extension
  ByteView alpn_wire{};                      // ProtocolNameList body; empty: no ALPN
  ByteView cookie{};                         // from a HelloRetryRequest
};

// Appends a whole ClientHello handshake message (header included) to `out`. false when a
// field does not fit its length prefix.
[[nodiscard]] bool BuildClientHello(const ClientHelloParams& p, std::vector<uint8_t>& out);

// A ServerHello or HelloRetryRequest (same wire message, RFC 8446 4.1.3/4.1.4).
struct ServerHelloView {
  bool retry = false;  // random == kHelloRetryRandom
  uint16_t legacy_version = 0;
  ByteView random{};
  ByteView session_id{};
  uint16_t suite = 0;
  uint8_t compression = 0;
  bool has_supported_versions = false;
  uint16_t version = 0;
  bool has_key_share = false;
  uint16_t group = 0;         // key_share: the server's share, or HRR selected_group
  ByteView key_exchange{};    // empty in a HelloRetryRequest
  bool has_cookie = false;
  ByteView cookie{};
};

// Parses a ServerHello/HelloRetryRequest body (without the handshake header). The
// checks against what we sent (session id echo, suite, group) are the client's.
Step ParseServerHello(ByteView body, ServerHelloView& out) noexcept;

struct EncryptedExtensionsView {
  bool has_alpn = false;
  ByteView alpn{};  // the single protocol name
  bool sni_acknowledged = false;
};

// `offered_alpn`/`offered_sni` say which optional extensions we sent: an answer to one we
// did not send is unsupported_extension (RFC 8446 4.2).
Step ParseEncryptedExtensions(ByteView body, bool offered_alpn, bool offered_sni,
                              EncryptedExtensionsView& out) noexcept;

struct CertificateRequestView {
  ByteView context{};
  ByteView signature_algorithms{};
};
Step ParseCertificateRequest(ByteView body, CertificateRequestView& out) noexcept;

struct CertificateView {
  ByteView context{};
  std::array<ByteView, kMaxChainCertificates> certs{};  // DER, leaf first
  size_t count = 0;
};
Step ParseCertificate(ByteView body, CertificateView& out) noexcept;

struct CertificateVerifyView {
  uint16_t scheme = 0;
  ByteView signature{};
};
Step ParseCertificateVerify(ByteView body, CertificateVerifyView& out) noexcept;

struct NewSessionTicketView {
  uint32_t lifetime_s = 0;
  uint32_t age_add = 0;
  ByteView nonce{};
  ByteView ticket{};
  uint32_t max_early_data_bytes = 0;  // early_data extension; 0 = none
};
Step ParseNewSessionTicket(ByteView body, NewSessionTicketView& out) noexcept;

// True when `name` is one of the names in the ProtocolNameList body `list`.
bool AlpnListHas(ByteView list, ByteView name) noexcept;

}  // namespace baton::crypto::tls
