#pragma once

// TLS 1.2 server, sans-IO (RFC 5246), for clients that cannot speak TLS 1.3. Same shape
// as TlsServer (server.h): bytes in, bytes out, no sockets, no clock reads of its own.
//
// Deliberately narrow: ECDHE (X25519, secp256r1) with ECDSA P-256 or RSA certificates and
// AEAD suites only (AES-GCM, RFC 5288; ChaCha20-Poly1305, RFC 7905). Extended master
// secret is required (RFC 7627), renegotiation is refused (RFC 5746 indication is
// echoed), resumption by session ticket (RFC 5077) or session id (Tls12SessionCache).
//
// All session state lives in Tls12ServerState, a trivially copyable value with no
// pointers: a session, half-done handshakes included, moves to another core or box by
// memcpy (ARCHITECTURE.md 4). Not in the state: the configs, the CryptoContext, the
// session cache (the state holds the session id), expanded AEAD schedules (rebuilt from
// the state's TrafficKeys on first use) and scratch buffers.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "crypto/aead.h"
#include "crypto/tls/alert.h"
#include "crypto/tls/record.h"
#include "crypto/tls/record12.h"
#include "crypto/tls/server.h"
#include "crypto/tls/session12.h"
#include "crypto/transcript.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

struct Tls12Config {
  // Shared with TLS 1.3: credentials (an ECDSA P-256 and/or an RSA one; each suite picks
  // the first credential of its kind), ALPN, groups (server preference) and the RNG.
  const TlsServerConfig* base = nullptr;
  // Server preference order; entries we do not implement are skipped.
  std::vector<Tls12Suite> suites = {
      Tls12Suite::kEcdheEcdsaAes128GcmSha256,       Tls12Suite::kEcdheRsaAes128GcmSha256,
      Tls12Suite::kEcdheEcdsaAes256GcmSha384,       Tls12Suite::kEcdheRsaAes256GcmSha384,
      Tls12Suite::kEcdheEcdsaChacha20Poly1305Sha256, Tls12Suite::kEcdheRsaChacha20Poly1305Sha256};
  // RFC 5077 tickets: [0] seals new tickets, every entry opens. Empty: no tickets.
  std::span<const Tls12TicketKey> ticket_keys;
  // Lifetime hint in NewSessionTicket, and the age limit of a presented ticket (ages use
  // Tls12Server::set_now_ms; boxes sharing ticket keys must agree on the time).
  uint32_t ticket_lifetime_s = 7200;
  // Session ids (RFC 5246 7.4.1.2): nullptr = sessions are not cached by id.
  Tls12SessionCache* session_cache = nullptr;
  uint32_t session_lifetime_s = 7200;  // age limit of a cached session
  // Set when the same listener also negotiates TLS 1.3 (TlsAcceptor with both enabled):
  // ServerHello.random then ends with the RFC 8446 4.1.3 downgrade sentinel, and a
  // ClientHello with TLS_FALLBACK_SCSV gets inappropriate_fallback (RFC 7507 3).
  bool tls13_enabled = false;
  // STYLE.md 12 budgets: refused renegotiations and ignored warning alerts per session
  // before we give up with a fatal alert.
  uint8_t max_refused_renegotiations = 2;
  uint8_t max_warning_alerts = 8;
};

// Named for the message each state waits for (STYLE.md 9).
enum class Hs12State : uint8_t {
  kExpectClientHello,
  kExpectClientKeyExchange,  // full handshake: our flight ended with ServerHelloDone
  kExpectChangeCipherSpec,   // the client's CCS (after its ClientKeyExchange, or our Finished)
  kExpectClientFinished,
  kConnected,
  kClosed,                   // a fatal alert was sent or received, or close_notify exchanged
};

inline constexpr size_t kMaxEcdhePrivateBytes = 32;

struct Tls12ServerState {
  Hs12State hs = Hs12State::kExpectClientHello;
  uint16_t suite = 0;       // Tls12Suite wire number once chosen
  uint16_t group = 0;       // NamedGroup wire number (0 on a resumed session)
  uint16_t credential = 0;  // index into TlsServerConfig::credentials
  bool resumed = false;
  bool issue_ticket = false;         // RFC 5077: we promised a NewSessionTicket
  bool secure_renegotiation = false;  // RFC 5746: the client signalled support
  bool read_protected = false;
  bool write_protected = false;
  bool peer_closed = false;
  bool close_sent = false;
  bool has_alert_sent = false;
  bool has_alert_received = false;
  Alert alert_sent = Alert::kCloseNotify;
  Alert alert_received = Alert::kCloseNotify;
  uint8_t refused_renegotiations = 0;
  uint8_t warning_alerts = 0;
  uint32_t glitches = 0;  // hostile-but-legal events seen (STYLE.md 12)
  uint64_t read_seq = 0;
  uint64_t write_seq = 0;
  TrafficKey read_key{};
  TrafficKey write_key{};
  std::array<uint8_t, kHelloRandomBytes> client_random{};
  std::array<uint8_t, kHelloRandomBytes> server_random{};
  MasterSecret12 master_secret{};
  // Our ephemeral ECDHE key between ServerKeyExchange and ClientKeyExchange: the raw
  // private scalar (X25519 or P-256; key_exchange.h MakeEphemeralKey).
  uint8_t ecdhe_private_len = 0;
  std::array<uint8_t, kMaxEcdhePrivateBytes> ecdhe_private{};
  uint8_t session_id_len = 0;  // the id in our ServerHello (cache key), may be 0
  std::array<uint8_t, kMaxSessionIdBytes> session_id{};
  Transcript transcript{HashAlg::kSha256};
  uint8_t sni_len = 0;
  uint8_t alpn_len = 0;
  std::array<char, kMaxSniBytes> sni{};
  std::array<char, kMaxAlpnBytes> alpn{};
  RecordAssembler record{};  // a partial incoming record
  uint16_t hs_fill = 0;      // a partial incoming handshake message
  std::array<uint8_t, kHandshakeHeaderBytes + kMaxHandshakeMessageBytes> hs_buf{};

  // Wipes all key material (trivially copyable, so no destructor does it).
  void Wipe() noexcept;
};
static_assert(std::is_trivially_copyable_v<Tls12ServerState>);

class Tls12Server {
 public:
  // A new session. `config` (and config.base) and `ctx` must outlive the server.
  Tls12Server(const Tls12Config& config, CryptoContext& ctx) noexcept;
  // Continues a session from a copy of another server's state (another core or box).
  Tls12Server(const Tls12Config& config, CryptoContext& ctx,
              const Tls12ServerState& state) noexcept;
  Tls12Server(const Tls12Server&) = delete;
  Tls12Server& operator=(const Tls12Server&) = delete;
  ~Tls12Server();

  // Consumes bytes from the client (any split). Records to send go to `to_peer`, received
  // application data to `app`. kClosed: the client sent close_notify, which we answered
  // at once with ours (RFC 5246 7.2.1; TLS 1.2 has no half-close).
  TlsStatus Input(ByteView in, OutputSink& to_peer, OutputSink& app) noexcept;
  // Seals application data (any size; records of at most 2^14 bytes).
  TlsStatus WriteApp(ByteView plain, OutputSink& to_peer) noexcept;
  // Sends close_notify.
  TlsStatus Close(OutputSink& to_peer) noexcept;

  // Wall-clock time in Unix milliseconds, for the age of tickets and cached sessions (as
  // TlsServer::set_now_ms: set it before Input; the server never reads a clock). While it
  // is 0, sessions are stamped 0 and never expire by age.
  void set_now_ms(uint64_t unix_ms) noexcept { now_ms_ = unix_ms; }

  Hs12State state() const noexcept { return st_.hs; }
  bool connected() const noexcept { return st_.hs == Hs12State::kConnected; }
  bool resumed() const noexcept { return st_.resumed; }
  std::string_view sni() const noexcept { return {st_.sni.data(), st_.sni_len}; }
  std::string_view alpn() const noexcept { return {st_.alpn.data(), st_.alpn_len}; }
  uint16_t suite() const noexcept { return st_.suite; }
  uint16_t group() const noexcept { return st_.group; }
  std::optional<Alert> alert_sent() const noexcept;
  std::optional<Alert> alert_received() const noexcept;
  const Tls12ServerState& session_state() const noexcept { return st_; }
  // Another core's copy of the same config and its CryptoContext (TlsAcceptor::Rebind).
  void Rebind(const Tls12Config& config, CryptoContext& ctx) noexcept {
    config_ = &config;
    ctx_ = &ctx;
  }

 private:
  Step OnRecord(OutputSink& to_peer, OutputSink& app) noexcept;
  Step OnChangeCipherSpec(ByteView body) noexcept;
  Step OnHandshakeBytes(ByteView content, OutputSink& to_peer) noexcept;
  Step OnMessage(uint8_t type, ByteView msg, OutputSink& to_peer) noexcept;
  Step OnClientHello(ByteView msg, OutputSink& to_peer) noexcept;
  Step OnClientKeyExchange(ByteView msg) noexcept;
  Step OnClientFinished(ByteView msg, OutputSink& to_peer) noexcept;
  Step OnRenegotiation(OutputSink& to_peer) noexcept;
  Step OnAlert(ByteView content, OutputSink& to_peer) noexcept;
  Step SendFullFlight(uint16_t scheme, bool point_formats, OutputSink& to_peer) noexcept;
  Step SendResumedFlight(ByteView client_hello, bool point_formats, OutputSink& to_peer) noexcept;
  Step SendNewSessionTicket(OutputSink& to_peer) noexcept;
  Step SendChangeCipherSpecAndFinished(OutputSink& to_peer) noexcept;
  Step DeriveKeys() noexcept;
  bool TryResume(ByteView session_id, bool has_ticket, ByteView ticket, ByteView client_suites,
                 ByteView sni) noexcept;
  Tls12Session MakeSession() const noexcept;
  Step SendRecords(ContentType type, ByteView data, OutputSink& to_peer) noexcept;
  Step SendAlert(uint8_t level, Alert alert, OutputSink& to_peer) noexcept;
  TlsStatus Fail(Alert alert, OutputSink& to_peer) noexcept;
  TlsStatus Status() const noexcept;
  bool ReadKeyReady() noexcept;
  bool WriteKeyReady() noexcept;
  uint64_t NowSeconds() const noexcept { return now_ms_ / 1000; }
  const TlsServerConfig& base() const noexcept { return *config_->base; }

  const Tls12Config* config_;
  CryptoContext* ctx_;
  uint64_t now_ms_ = 0;
  Tls12ServerState st_;
  bool read_ready_ = false;  // read_aead_ matches st_.read_key
  bool write_ready_ = false;
  AeadKey read_aead_;
  AeadKey write_aead_;
  std::array<uint8_t, kMaxRecordBytes> out_buf_{};
  std::vector<uint8_t> flight_;  // handshake messages being built (handshake-time only)
};

}  // namespace baton::crypto::tls
