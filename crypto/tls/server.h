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
// Built: full (EC)DHE handshakes with X25519 or P-256, HelloRetryRequest, ECDSA P-256 or
// RSA-PSS CertificateVerify, AES-128-GCM / AES-256-GCM / ChaCha20-Poly1305, ALPN, SNI,
// KeyUpdate with a budget, close_notify. Not built: TLS 1.2, PSK/tickets, 0-RTT (declined:
// early records are skipped), client certificates, cookies (see docs/TLS.md).

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
#include "crypto/tls/key_exchange.h"
#include "crypto/tls/messages.h"
#include "crypto/tls/record.h"
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

// A certificate chain (leaf first, DER) and its private key. Owned by the caller; the
// config points at a table of these and the session state stores an index.
struct Credential {
  std::vector<std::vector<uint8_t>> chain_der;
  EVP_PKEY* key = nullptr;  // ECDSA P-256 or RSA (signs with RSA-PSS)
};

struct TlsServerConfig {
  std::span<const Credential> credentials;  // [0] is used; SNI-based choice comes later
  // Server preference order.
  std::vector<CipherSuite> suites = {CipherSuite::kAes128GcmSha256,
                                     CipherSuite::kAes256GcmSha384,
                                     CipherSuite::kChacha20Poly1305Sha256};
  std::vector<NamedGroup> groups = {NamedGroup::kX25519, NamedGroup::kSecp256r1};
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

  HsState state() const noexcept { return st_.hs; }
  bool connected() const noexcept { return st_.hs == HsState::kConnected; }
  std::string_view sni() const noexcept { return {st_.sni.data(), st_.sni_len}; }
  std::string_view alpn() const noexcept { return {st_.alpn.data(), st_.alpn_len}; }
  uint16_t suite() const noexcept { return st_.suite; }
  uint16_t group() const noexcept { return st_.group; }
  std::optional<Alert> alert_sent() const noexcept;
  std::optional<Alert> alert_received() const noexcept;
  const TlsServerState& session_state() const noexcept { return st_; }

 private:
  Step OnRecord(OutputSink& to_peer, OutputSink& app) noexcept;
  Step OnContent(ContentType type, ByteView content, OutputSink& to_peer, OutputSink& app) noexcept;
  Step OnHandshakeBytes(ByteView content, OutputSink& to_peer) noexcept;
  Step OnMessage(HsType type, ByteView msg, OutputSink& to_peer) noexcept;
  Step OnClientHello(ByteView msg, OutputSink& to_peer) noexcept;
  Step OnClientFinished(ByteView msg) noexcept;
  Step OnKeyUpdate(ByteView msg, OutputSink& to_peer) noexcept;
  Step OnAlert(ByteView content) noexcept;
  Step SendHelloRetry(ByteView client_hello, ByteView session_id, const SuiteParams& params,
                      NamedGroup group, bool early_data, OutputSink& to_peer) noexcept;
  Step SendServerFlight(ByteView client_hello, const ClientHello& ch, const SuiteParams& params,
                        uint16_t scheme, bool retry, OutputSink& to_peer) noexcept;
  Step SendRecords(ContentType type, ByteView data, OutputSink& to_peer) noexcept;
  Step SendKeyUpdate(bool request, OutputSink& to_peer) noexcept;
  Step RekeyWrite() noexcept;
  TlsStatus Fail(Alert alert, OutputSink& to_peer) noexcept;
  bool ReadKeyReady() noexcept;
  bool WriteKeyReady() noexcept;
  AeadAlg aead() const noexcept;

  const TlsServerConfig* config_;
  CryptoContext* ctx_;
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
