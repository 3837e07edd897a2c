#pragma once

// TLS 1.3 client, sans-IO (RFC 8446): bytes in, bytes out, no sockets and no clock. For
// baton's connections to backends. The counterpart of server.h, in the same style:
//
// All session state lives in TlsClientState, a trivially copyable value with no pointers:
// a session (half-done handshakes included) can be copied to another core or box and go
// on there (ARCHITECTURE.md 4). What is not in the state:
//  - the TlsClientConfig (immutable, shared; it must be the same config on both sides of a
//    move, since the second ClientHello after a HelloRetryRequest is rebuilt from it),
//  - the per-lcore CryptoContext,
//  - expanded AEAD schedules, rebuilt from the state's TrafficKeys on first use,
//  - scratch buffers.
//
// Built: full (EC)DHE handshakes with X25519 or P-256, HelloRetryRequest (cookie echoed),
// middlebox compatibility mode, ALPN, SNI, server authentication (chain against an
// X509_STORE, host name, CertificateVerify with ECDSA P-256/P-384, RSA-PSS-RSAE SHA-256/384,
// Ed25519), an empty client Certificate when the server asks for one, KeyUpdate both ways
// with a budget, NewSessionTicket (the latest ticket is kept, PSK derived), close_notify.
// Not built: PSK resumption and 0-RTT from the client side, client certificates,
// post-handshake authentication, TLS 1.2 (see docs/TLS.md).

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "crypto/aead.h"
#include "crypto/tls/alert.h"
#include "crypto/tls/client_messages.h"
#include "crypto/tls/key_exchange.h"
#include "crypto/tls/messages.h"
#include "crypto/tls/record.h"
#include "crypto/tls/server.h"  // OutputSink, TlsStatus, EncodeAlpn, kMaxHandshakeMessageBytes
#include "crypto/transcript.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

// Named for the message each state waits for (STYLE.md 9).
enum class ClientHsState : uint8_t {
  kStart,                      // Start() not called yet
  kExpectServerHello,          // ClientHello sent: ServerHello or HelloRetryRequest
  kExpectRetriedServerHello,   // second ClientHello sent: ServerHello only
  kExpectEncryptedExtensions,
  kExpectCertificate,          // or one CertificateRequest before it
  kExpectCertificateVerify,
  kExpectServerFinished,
  kConnected,                  // handshake done: application data, KeyUpdate, tickets, alerts
  kClosed,                     // a fatal alert was sent or received, or both sides closed
};

inline constexpr size_t kMaxClientKeyShares = 2;  // X25519 and P-256
// Leaf SubjectPublicKeyInfo kept between Certificate and CertificateVerify (those two may
// arrive on different cores): an RSA-8192 key is 1,062 bytes of DER.
inline constexpr size_t kMaxPeerKeyBytes = 1088;
// Tickets above this are not kept (libssl's are about 250 bytes; RFC 8446 allows 64 KiB).
inline constexpr size_t kMaxTicketBytes = 1024;
// RFC 8446 4.6.1: "Servers MUST NOT use any value greater than 604800 seconds".
inline constexpr uint32_t kMaxTicketLifetimeSeconds = 604800;

struct TlsClientConfig {
  // Offered in this order (the server chooses).
  std::vector<CipherSuite> suites = {CipherSuite::kAes128GcmSha256,
                                     CipherSuite::kAes256GcmSha384,
                                     CipherSuite::kChacha20Poly1305Sha256};
  // supported_groups, in this order; the first `key_shares` get a key share in the first
  // ClientHello, a server wanting another one asks with HelloRetryRequest.
  std::vector<NamedGroup> groups = {NamedGroup::kX25519, NamedGroup::kSecp256r1};
  uint8_t key_shares = 1;
  // signature_algorithms, in this order. rsa_pkcs1_* are for certificate signatures only
  // (RFC 8446 4.2.3); a CertificateVerify with them is refused.
  std::vector<uint16_t> signature_schemes = {
      static_cast<uint16_t>(ClientScheme::kEcdsaSecp256r1Sha256),
      static_cast<uint16_t>(ClientScheme::kRsaPssRsaeSha256),
      static_cast<uint16_t>(ClientScheme::kEd25519),
      static_cast<uint16_t>(ClientScheme::kEcdsaSecp384r1Sha384),
      static_cast<uint16_t>(ClientScheme::kRsaPssRsaeSha384),
      static_cast<uint16_t>(ClientScheme::kRsaPkcs1Sha256),
      static_cast<uint16_t>(ClientScheme::kRsaPkcs1Sha384)};
  // server_name (RFC 6066 3) when it is a DNS name; an IP literal is not sent (RFC 6066 3:
  // "Literal IPv4 and IPv6 addresses are not permitted") but is still checked against the
  // certificate. Empty: no SNI, no host check.
  std::string server_name;
  // ProtocolNameList body (EncodeAlpn), our preference order; empty = no ALPN.
  std::vector<uint8_t> alpn_wire;
  // Trust anchors for the server's chain (caller owns; read-only here, so one store may be
  // shared by all lcores). nullptr: the chain is not verified, but CertificateVerify is
  // still checked against the leaf's key (authenticated only if the caller pins the key).
  X509_STORE* trust = nullptr;
  bool check_host_name = true;  // with `trust`: the leaf must match server_name
  time_t verify_time_s = 0;     // certificate validity time; 0 = libcrypto reads the clock
  // RFC 8446 D.4 middlebox compatibility: a 32-byte legacy_session_id and one
  // change_cipher_spec before our second flight.
  bool middlebox_compat = true;
  RandomFn random = nullptr;  // nullptr: RAND_bytes
  void* random_ctx = nullptr;
  // Post-handshake budget (STYLE.md 12): each KeyUpdate or NewSessionTicket costs a credit;
  // one comes back per records_per_key_update application data records received.
  uint8_t max_key_update_credit = 16;
  uint32_t records_per_key_update = 64;
  // RFC 8446 5.5: rekey our sending side after this many records.
  uint64_t max_records_per_key = uint64_t{1} << 24;
};

// Our (EC)DHE key (RFC 8446 4.2.8, 7.4): made when the ClientHello is built and used when
// the ServerHello arrives, possibly on another core or box, so the private key is kept as
// raw bytes (key_exchange.h MakeEphemeralKey / DeriveSharedSecret).
inline constexpr size_t kSharePrivateBytes = 32;  // X25519 scalar or P-256 big-endian d

struct ShareKeyPair {
  std::array<uint8_t, kSharePrivateBytes> private_key{};
  std::array<uint8_t, kMaxKeySharePublicBytes> public_key{};
  uint8_t public_len = 0;
};

// One of our key shares, kept from the ClientHello until the ServerHello.
struct ClientKeyShare {
  uint16_t group = 0;
  ShareKeyPair key{};  // the public half is sent again if a HelloRetryRequest keeps the share
};

// What resuming with a NewSessionTicket needs (RFC 8446 4.6.1). The caller keeps the time
// it was received: the state holds no clock.
struct TlsClientTicket {
  uint16_t suite = 0;                 // the PSK goes with this suite's hash
  uint32_t lifetime_s = 0;            // capped at 7 days
  uint32_t age_add = 0;
  uint32_t max_early_data_bytes = 0;  // 0: no 0-RTT with this ticket
  Secret psk{};                       // HKDF-Expand-Label(resumption_master, "resumption", nonce)
  uint16_t ticket_len = 0;
  std::array<uint8_t, kMaxTicketBytes> ticket{};
};
static_assert(std::is_trivially_copyable_v<TlsClientTicket>);

struct TlsClientState {
  ClientHsState hs = ClientHsState::kStart;
  uint16_t suite = 0;  // CipherSuite wire number once the server chose (HRR or ServerHello)
  uint16_t group = 0;  // NamedGroup wire number once the server chose
  bool retried = false;          // a HelloRetryRequest was received
  bool read_protected = false;
  bool write_protected = false;
  bool ccs_received = false;     // RFC 8446 5: one compatibility change_cipher_spec is dropped
  bool ccs_sent = false;
  bool cert_requested = false;   // CertificateRequest received: we answer with no certificate
  bool peer_closed = false;      // close_notify received
  bool close_sent = false;       // close_notify sent
  bool has_alert_sent = false;
  bool has_alert_received = false;
  bool has_ticket = false;
  Alert alert_sent = Alert::kCloseNotify;
  Alert alert_received = Alert::kCloseNotify;
  uint8_t share_count = 0;
  std::array<ClientKeyShare, kMaxClientKeyShares> shares{};
  std::array<uint8_t, kHelloRandomBytes> random{};
  uint8_t session_id_len = 0;
  std::array<uint8_t, kMaxLegacySessionIdBytes> session_id{};
  uint8_t key_update_credit = 0;
  uint32_t records_since_credit = 0;
  uint32_t glitches = 0;  // hostile-but-legal events seen (STYLE.md 12)
  uint32_t key_updates_received = 0;
  uint32_t tickets_received = 0;
  uint64_t read_seq = 0;
  uint64_t write_seq = 0;
  TrafficKey read_key{};
  TrafficKey write_key{};
  Secret client_hs_secret{};   // until our Finished is sent
  Secret server_hs_secret{};   // until the server Finished is verified
  Secret master_secret{};      // until the resumption master secret is derived
  Secret client_app_secret{};  // for KeyUpdate (RFC 8446 7.2)
  Secret server_app_secret{};
  Secret resumption_secret{};  // resumption_master_secret, for tickets
  // Until the server picks the suite we cannot know the transcript hash, so ClientHello1
  // goes into both; the unused one is dropped at the HelloRetryRequest or ServerHello.
  Transcript transcript{HashAlg::kSha256};
  Transcript transcript_sha384{HashAlg::kSha384};
  uint8_t alpn_len = 0;
  std::array<char, kMaxAlpnBytes> alpn{};
  uint16_t peer_key_len = 0;     // the leaf's SubjectPublicKeyInfo, for CertificateVerify
  std::array<uint8_t, kMaxPeerKeyBytes> peer_key{};
  TlsClientTicket ticket{};      // the latest ticket (has_ticket)
  RecordAssembler record{};      // a partial incoming record
  uint16_t hs_fill = 0;          // a partial incoming handshake message
  std::array<uint8_t, kHandshakeHeaderBytes + kMaxHandshakeMessageBytes> hs_buf{};

  // Wipes all key material (the state is trivially copyable, so no destructor does it).
  void Wipe() noexcept;
};
static_assert(std::is_trivially_copyable_v<TlsClientState>);

class TlsClient {
 public:
  // A new session. `config` and `ctx` must outlive the client.
  TlsClient(const TlsClientConfig& config, CryptoContext& ctx) noexcept;
  // Continues a session from a copy of another client's state (another core or box).
  TlsClient(const TlsClientConfig& config, CryptoContext& ctx,
            const TlsClientState& state) noexcept;
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  ~TlsClient();

  // Sends the ClientHello. Only in kStart; a config that cannot work (no suite, no group
  // we implement, no signature scheme, a host check without a server_name) gives kFailed
  // and sends nothing.
  TlsStatus Start(OutputSink& to_peer) noexcept;
  // Consumes bytes from the server (any split). Records to send go to `to_peer`, received
  // application data to `app`.
  TlsStatus Input(ByteView in, OutputSink& to_peer, OutputSink& app) noexcept;
  // Seals application data (any size; split into records of at most 2^14 bytes).
  TlsStatus WriteApp(ByteView plain, OutputSink& to_peer) noexcept;
  // RFC 8446 4.6.3: updates our sending key; `request_peer` asks the server to update its.
  TlsStatus KeyUpdate(bool request_peer, OutputSink& to_peer) noexcept;
  // Sends close_notify (RFC 8446 6.1).
  TlsStatus Close(OutputSink& to_peer) noexcept;

  ClientHsState state() const noexcept { return st_.hs; }
  bool connected() const noexcept { return st_.hs == ClientHsState::kConnected; }
  std::string_view alpn() const noexcept { return {st_.alpn.data(), st_.alpn_len}; }
  uint16_t suite() const noexcept { return st_.suite; }
  uint16_t group() const noexcept { return st_.group; }
  bool retried() const noexcept { return st_.retried; }
  std::optional<Alert> alert_sent() const noexcept;
  std::optional<Alert> alert_received() const noexcept;
  // The latest NewSessionTicket, if any.
  const TlsClientTicket* ticket() const noexcept { return st_.has_ticket ? &st_.ticket : nullptr; }
  const TlsClientState& session_state() const noexcept { return st_; }

 private:
  Step OnRecord(OutputSink& to_peer, OutputSink& app) noexcept;
  Step OnContent(ContentType type, ByteView content, OutputSink& to_peer, OutputSink& app) noexcept;
  Step OnHandshakeBytes(ByteView content, OutputSink& to_peer) noexcept;
  Step OnMessage(HsType type, ByteView msg, OutputSink& to_peer) noexcept;
  Step OnServerHello(ByteView msg, OutputSink& to_peer) noexcept;
  Step OnHelloRetry(ByteView msg, const ServerHelloView& hrr, OutputSink& to_peer) noexcept;
  Step OnEncryptedExtensions(ByteView msg) noexcept;
  Step OnCertificateRequest(ByteView msg) noexcept;
  Step OnCertificate(ByteView msg) noexcept;
  Step OnCertificateVerify(ByteView msg) noexcept;
  Step OnServerFinished(ByteView msg, OutputSink& to_peer) noexcept;
  Step OnKeyUpdate(ByteView msg, OutputSink& to_peer) noexcept;
  Step OnNewSessionTicket(ByteView msg) noexcept;
  Step OnAlert(ByteView content) noexcept;
  Step SpendPostHandshakeCredit() noexcept;
  Step SendClientHello(ByteView cookie, OutputSink& to_peer) noexcept;
  Step SendCompatCcs(OutputSink& to_peer) noexcept;
  Step SendRecords(ContentType type, ByteView data, OutputSink& to_peer) noexcept;
  Step SendKeyUpdate(bool request, OutputSink& to_peer) noexcept;
  Step RekeyWrite() noexcept;
  TlsStatus Fail(Alert alert, OutputSink& to_peer) noexcept;
  bool ReadKeyReady() noexcept;
  bool WriteKeyReady() noexcept;
  AeadAlg aead() const noexcept;
  bool Offered(CipherSuite suite) const noexcept;
  bool OfferedGroup(uint16_t group) const noexcept;
  bool SniSent() const noexcept;

  const TlsClientConfig* config_;
  CryptoContext* ctx_;
  TlsClientState st_;
  bool key_changed_ = false;  // set by a message that switched the read key
  bool read_ready_ = false;   // read_aead_ matches st_.read_key
  bool write_ready_ = false;
  AeadKey read_aead_;
  AeadKey write_aead_;
  std::array<uint8_t, kMaxRecordBytes> out_buf_{};
  std::vector<uint8_t> flight_;  // handshake messages being built (handshake-time only)
};

}  // namespace baton::crypto::tls
