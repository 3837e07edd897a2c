#pragma once

// TLS 1.3 server, sans-IO (RFC 8446): bytes in, bytes out, no sockets and no clock.
//
// All session state lives in TlsServerState, a trivially copyable value with no pointers:
// a session (half-done handshakes included) can be copied to another core or box and go
// on there (ARCHITECTURE.md 4). What is not in the state:
//  - the TlsServerConfig (immutable, shared; the state names its credential by index),
//  - the per-lcore CryptoContext,
//  - expanded AEAD schedules, rebuilt from the state's TrafficKeys on first use,
//  - scratch buffers.
//
// Built: full (EC)DHE handshakes with X25519, P-256 or P-384, HelloRetryRequest,
// certificates chosen by SNI and signature_algorithms (ECDSA P-256/P-384, RSA-PSS,
// Ed25519), AES-128-GCM / AES-256-GCM / ChaCha20-Poly1305, ALPN, stateless session
// tickets and PSK-DHE resumption, record_size_limit, KeyUpdate with a budget,
// close_notify. Not built: TLS 1.2, 0-RTT (declined: early records are skipped), client
// certificates (see docs/TLS.md).

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "crypto/aead.h"
#include "crypto/tls/alert.h"
#include "crypto/tls/credentials.h"
#include "crypto/tls/key_exchange.h"
#include "crypto/tls/messages.h"
#include "crypto/tls/record.h"
#include "crypto/tls/ticket.h"
#include "crypto/transcript.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

// Named for the message each state waits for (STYLE.md 9).
enum class HsState : uint8_t {
  kExpectClientHello,
  kExpectRetriedClientHello,  // HelloRetryRequest sent; waits for the second ClientHello
  kExpectClientFinished,
  kConnected,                 // handshake done: application data, KeyUpdate, alerts
  kClosed,                    // a fatal alert was sent or received, or both sides closed
};

// Largest handshake message body we accept. A ClientHello is the largest message a server
// receives; real ones stay well below 2 KiB.
inline constexpr size_t kMaxHandshakeMessageBytes = 16384;
inline constexpr size_t kMaxSniBytes = 255;
inline constexpr size_t kMaxAlpnBytes = 255;

struct TlsServerConfig {
  // Certificates (credentials.h): chosen per ClientHello by SNI, then by the client's
  // signature_algorithms (ChooseCredential); [0] is the default. Owned by the caller.
  std::span<const Credential> credentials;
  // Server preference order.
  std::vector<CipherSuite> suites = {CipherSuite::kAes128GcmSha256,
                                     CipherSuite::kAes256GcmSha384,
                                     CipherSuite::kChacha20Poly1305Sha256};
  std::vector<NamedGroup> groups = {NamedGroup::kX25519, NamedGroup::kSecp256r1,
                                    NamedGroup::kSecp384r1};
  // ProtocolNameList body (EncodeAlpn), server preference order; empty = ALPN off.
  std::vector<uint8_t> alpn_wire;
  RandomFn random = nullptr;  // nullptr: RAND_bytes
  void* random_ctx = nullptr;
  // RFC 8446 4.2.10: how many bytes of 0-RTT records we skip when declining early data.
  uint32_t max_early_data_skip_bytes = 4 * static_cast<uint32_t>(kMaxRecordBytes);
  // KeyUpdate budget (STYLE.md 12): a session may hold at most this many KeyUpdate
  // credits; each costs one, and one comes back per records_per_key_update application
  // data records received.
  uint8_t max_key_update_credit = 16;
  uint32_t records_per_key_update = 64;
  // RFC 8446 5.5: rekey our sending side after this many records (AES-GCM safety margin
  // of 2^24.5 full-size records).
  uint64_t max_records_per_key = uint64_t{1} << 24;

  // Session tickets and PSK-DHE resumption (RFC 8446 4.6.1, 4.2.11; ticket.h). Empty: no
  // NewSessionTicket is sent and every ClientHello gets a full handshake. [0] seals, all
  // open; rotate by publishing a config with a new set (ticket.h). Owned by the caller.
  TicketKeys ticket_keys;
  uint8_t tickets_per_handshake = 2;  // sent after the client Finished (resumptions too)
  uint32_t ticket_lifetime_s = 7200;  // RFC 8446 4.6.1: at most 604800 (7 days)
  // A presented ticket's age as the client sees it (obfuscated_ticket_age minus
  // ticket_age_add) must be within this of ours (now_ms - issue time); otherwise the
  // ticket is ignored (full handshake). libssl reports ages in whole seconds.
  uint32_t ticket_age_tolerance_ms = 10000;

  // RFC 8449: the record_size_limit we put in EncryptedExtensions when the client sends
  // the extension: the largest TLSInnerPlaintext (content, type byte and padding) we
  // accept, 64..16385. The client's own limit bounds the records we send.
  uint16_t record_size_limit = static_cast<uint16_t>(kMaxPlaintextBytes + 1);

  // RFC 8446 4.2.2: stateless HelloRetryRequest. When set, every HelloRetryRequest carries
  // a cookie (the suite, the group and Hash(ClientHello1), with an HMAC-SHA256 under
  // cookie_key), and a second ClientHello must return it: so a TlsServer that kept no
  // state (a new object, on any box with the same key) can take the second ClientHello.
  // A bad, missing or stale cookie is illegal_parameter. cookie_key: 32 random bytes,
  // shared like ticket keys. Cookies are checked against now_ms (set_now_ms).
  bool hrr_cookie = false;
  std::array<uint8_t, 32> cookie_key{};
  uint32_t cookie_lifetime_s = 60;

  // RFC 8446 4.2.7: group wire numbers to list in EncryptedExtensions (our preference, for
  // the client's next connection); empty: none.
  std::vector<uint16_t> ee_supported_groups;
  // Test only: signs CertificateVerify instead of the credential's key (RSA-PSS and ECDSA
  // signatures are randomized; a trace test injects the trace's signature).
  using SignFnForTest = bool (*)(void* ctx, uint16_t scheme, ByteView transcript_hash,
                                 std::vector<uint8_t>& signature) noexcept;
  SignFnForTest sign_for_test = nullptr;
  void* sign_ctx_for_test = nullptr;
};

// ALPN names to a ProtocolNameList body; empty names and names above 255 bytes are skipped.
std::vector<uint8_t> EncodeAlpn(std::span<const std::string_view> names);

struct TlsServerState {
  HsState hs = HsState::kExpectClientHello;
  uint16_t suite = 0;         // CipherSuite wire number once chosen
  uint16_t group = 0;         // NamedGroup wire number once chosen
  uint16_t credential = 0;    // index into TlsServerConfig::credentials
  bool read_protected = false;
  bool write_protected = false;
  bool ccs_received = false;  // RFC 8446 5: one compatibility change_cipher_spec is dropped
  bool ccs_sent = false;
  bool peer_closed = false;   // close_notify received
  bool close_sent = false;    // close_notify sent
  bool has_alert_sent = false;
  bool has_alert_received = false;
  Alert alert_sent = Alert::kCloseNotify;
  Alert alert_received = Alert::kCloseNotify;
  uint8_t key_update_credit = 0;
  uint32_t records_since_credit = 0;
  uint32_t early_skip_budget = 0;  // bytes of 0-RTT records we may still skip
  uint32_t glitches = 0;           // hostile-but-legal events seen (STYLE.md 12)
  uint32_t key_updates_received = 0;
  uint64_t read_seq = 0;
  uint64_t write_seq = 0;
  TrafficKey read_key{};
  TrafficKey write_key{};
  Secret client_hs_secret{};   // until the client Finished is verified
  Secret client_app_secret{};  // for KeyUpdate (RFC 8446 7.2)
  Secret server_app_secret{};
  Transcript transcript{HashAlg::kSha256};
  bool resumed = false;        // PSK-DHE handshake from a ticket
  bool ticket_sni = false;     // sni came from the ticket (resumption)
  // RFC 8449: the most content bytes we put in one protected record (the client's
  // record_size_limit minus the content type byte), and the largest TLSInnerPlaintext we
  // accept (our advertised limit).
  uint16_t send_fragment_limit = static_cast<uint16_t>(kMaxPlaintextBytes);
  uint16_t recv_inner_limit = static_cast<uint16_t>(kMaxPlaintextBytes + 1);
  Secret master_secret{};      // from the server flight until the tickets are sent
  uint8_t sni_len = 0;
  uint8_t alpn_len = 0;
  std::array<char, kMaxSniBytes> sni{};
  std::array<char, kMaxAlpnBytes> alpn{};
  RecordAssembler record{};   // a partial incoming record
  uint16_t hs_fill = 0;       // a partial incoming handshake message
  std::array<uint8_t, kHandshakeHeaderBytes + kMaxHandshakeMessageBytes> hs_buf{};

  // Wipes all key material (the state is trivially copyable, so no destructor does it).
  void Wipe() noexcept;
};
static_assert(std::is_trivially_copyable_v<TlsServerState>);

// Where the server puts bytes: records for the peer, or decrypted application data.
class OutputSink {
 public:
  // false: no room; the server treats that as fatal (internal_error).
  virtual bool Append(ByteView bytes) noexcept = 0;
  virtual ~OutputSink() = default;
};

enum class [[nodiscard]] TlsStatus : uint8_t {
  kOk,
  kClosed,  // the peer sent close_notify (we may still write: TLS 1.3 half-close)
  kFailed,  // a fatal alert was sent or received; the session is over
};

class TlsServer {
 public:
  // A new session. `config` and `ctx` must outlive the server.
  TlsServer(const TlsServerConfig& config, CryptoContext& ctx) noexcept;
  // Continues a session from a copy of another server's state (another core or box).
  TlsServer(const TlsServerConfig& config, CryptoContext& ctx,
            const TlsServerState& state) noexcept;
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;
  ~TlsServer();

  // Consumes bytes from the client (any split). Records to send go to `to_peer`, received
  // application data to `app`.
  TlsStatus Input(ByteView in, OutputSink& to_peer, OutputSink& app) noexcept;
  // Seals application data (any size; split into records of at most 2^14 bytes).
  TlsStatus WriteApp(ByteView plain, OutputSink& to_peer) noexcept;
  // Sends close_notify (RFC 8446 6.1).
  TlsStatus Close(OutputSink& to_peer) noexcept;

  // Wall-clock time in Unix milliseconds, for tickets: their issue time, and a presented
  // ticket's age. Set it before Input (once per burst is plenty; ages are checked to
  // seconds). Boxes that share ticket keys must agree on it (NTP). The server never reads
  // a clock itself. 0 until set.
  void set_now_ms(uint64_t unix_ms) noexcept { now_ms_ = unix_ms; }

  HsState state() const noexcept { return st_.hs; }
  uint16_t credential() const noexcept { return st_.credential; }
  // True when the handshake resumed a session from a ticket (no certificate was sent).
  bool resumed() const noexcept { return st_.resumed; }
  bool connected() const noexcept { return st_.hs == HsState::kConnected; }
  std::string_view sni() const noexcept { return {st_.sni.data(), st_.sni_len}; }
  std::string_view alpn() const noexcept { return {st_.alpn.data(), st_.alpn_len}; }
  uint16_t suite() const noexcept { return st_.suite; }
  uint16_t group() const noexcept { return st_.group; }
  std::optional<Alert> alert_sent() const noexcept;
  std::optional<Alert> alert_received() const noexcept;
  const TlsServerState& session_state() const noexcept { return st_; }
  // Another core's copy of the same config and its CryptoContext (TlsAcceptor::Rebind).
  void Rebind(const TlsServerConfig& config, CryptoContext& ctx) noexcept {
    config_ = &config;
    ctx_ = &ctx;
  }

 private:
  Step OnRecord(OutputSink& to_peer, OutputSink& app) noexcept;
  Step OnContent(ContentType type, ByteView content, OutputSink& to_peer, OutputSink& app) noexcept;
  Step OnHandshakeBytes(ByteView content, OutputSink& to_peer) noexcept;
  Step OnMessage(HsType type, ByteView msg, OutputSink& to_peer) noexcept;
  Step OnClientHello(ByteView msg, OutputSink& to_peer) noexcept;
  Step OnClientFinished(ByteView msg, OutputSink& to_peer) noexcept;
  Step FindPsk(ByteView msg, const ClientHello& ch, const SuiteParams& params, bool retry,
               TicketContents& psk, uint16_t& index, bool& found) noexcept;
  Step SendTickets(OutputSink& to_peer) noexcept;
  bool TicketsEnabled() const noexcept;
  Step FinishServerFlight(const SuiteParams& params, const Secret& handshake,
                          const Secret& server_hs, OutputSink& to_peer) noexcept;
  Step OnKeyUpdate(ByteView msg, OutputSink& to_peer) noexcept;
  Step OnAlert(ByteView content) noexcept;
  Step SendHelloRetry(ByteView client_hello, ByteView session_id, const SuiteParams& params,
                      NamedGroup group, bool early_data, OutputSink& to_peer) noexcept;
  Step BuildHelloRetry(ByteView session_id, NamedGroup group, ByteView cookie) noexcept;
  void RestartTranscript(HashAlg hash, const Digest& ch1) noexcept;
  Step RestoreFromCookie(const ClientHello& ch) noexcept;
  Step SendServerFlight(ByteView client_hello, const ClientHello& ch, const SuiteParams& params,
                        uint16_t scheme, bool retry, const TicketContents* psk,
                        uint16_t psk_index, OutputSink& to_peer) noexcept;
  Step SendRecords(ContentType type, ByteView data, OutputSink& to_peer) noexcept;
  Step SendKeyUpdate(bool request, OutputSink& to_peer) noexcept;
  Step RekeyWrite() noexcept;
  TlsStatus Fail(Alert alert, OutputSink& to_peer) noexcept;
  bool ReadKeyReady() noexcept;
  bool WriteKeyReady() noexcept;
  AeadAlg aead() const noexcept;

  const TlsServerConfig* config_;
  CryptoContext* ctx_;
  uint64_t now_ms_ = 0;
  TlsServerState st_;
  bool key_changed_ = false;  // set by a message that switched the read key
  bool read_ready_ = false;   // read_aead_ matches st_.read_key
  bool write_ready_ = false;
  AeadKey read_aead_;
  AeadKey write_aead_;
  std::array<uint8_t, kMaxRecordBytes> out_buf_{};
  std::vector<uint8_t> flight_;  // handshake messages being built (handshake-time only)
};

}  // namespace baton::crypto::tls
