#pragma once

// TlsAcceptor: what the data plane runs per client connection. It holds the client's
// first bytes until the first ClientHello is complete (it may span several records),
// picks the protocol version, then hands everything to a TlsServer (TLS 1.3) or a
// Tls12Server (TLS 1.2) and forwards every later call.
//
// Version choice: TLS 1.3 when it is enabled and supported_versions lists 0x0304;
// otherwise TLS 1.2 when enabled (the 1.2 server itself refuses client_version < 0x0303
// and supported_versions without 0x0303 with protocol_version); otherwise the TLS 1.3
// server, which answers protocol_version. Bytes that are not a ClientHello go to the
// TLS 1.3 server if enabled (else 1.2), which sends the right alert.
//
// Moving a session (another core or box): TlsAcceptorState carries the chosen version
// and, in a union, either the bytes still buffered (version 0) or the inner server's own
// state (TlsServerState or Tls12ServerState). It is trivially copyable: memcpy it, then
// construct a TlsAcceptor from it with the same configs; the inner server resumes from
// its state exactly as if it had been moved alone.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "crypto/aead.h"
#include "crypto/tls/alert.h"
#include "crypto/tls/server.h"
#include "crypto/tls/server12.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

// The most bytes held before the first ClientHello is complete: the largest ClientHello
// either server accepts (16 KiB + handshake header) split over up to 32 records. A longer
// message, or one cut into more pieces, gets decode_error.
inline constexpr size_t kMaxPendingHelloBytes =
    kHandshakeHeaderBytes + kMaxHandshakeMessageBytes + 32 * kRecordHeaderBytes;

struct TlsAcceptorState {
  uint16_t version = 0;  // 0 until the first ClientHello is complete; then kTls12 / kTls13
  bool failed = false;   // refused before a version was picked
  Alert alert_sent = Alert::kCloseNotify;  // meaningful when failed
  uint16_t pending_fill = 0;
  // Which member is live follows `version`: 0 -> pending, kTls13 -> tls13, kTls12 -> tls12.
  union Inner {
    Inner() noexcept : pending{} {}
    std::array<uint8_t, kMaxPendingHelloBytes> pending;
    TlsServerState tls13;
    Tls12ServerState tls12;
  } inner;
};
static_assert(std::is_trivially_copyable_v<TlsAcceptorState>);

class TlsAcceptor {
 public:
  // Either config may be nullptr (that version is disabled). Configs and `ctx` must
  // outlive the acceptor. tls12->base is usually tls13 (same credentials and ALPN).
  TlsAcceptor(const TlsServerConfig* tls13, const Tls12Config* tls12, CryptoContext& ctx) noexcept;
  // Continues a session from a copy of another acceptor's session_state().
  TlsAcceptor(const TlsServerConfig* tls13, const Tls12Config* tls12, CryptoContext& ctx,
              const TlsAcceptorState& state) noexcept;
  TlsAcceptor(const TlsAcceptor&) = delete;
  TlsAcceptor& operator=(const TlsAcceptor&) = delete;
  ~TlsAcceptor();

  TlsStatus Input(ByteView in, OutputSink& to_peer, OutputSink& app) noexcept;
  TlsStatus WriteApp(ByteView plain, OutputSink& to_peer) noexcept;
  TlsStatus Close(OutputSink& to_peer) noexcept;
  // Unix milliseconds for ticket ages, passed to the inner server (now and once chosen).
  void set_now_ms(uint64_t unix_ms) noexcept;

  uint16_t version() const noexcept;  // 0 before the ClientHello is complete
  bool connected() const noexcept;
  bool resumed() const noexcept;
  std::string_view sni() const noexcept;
  std::string_view alpn() const noexcept;
  uint16_t suite() const noexcept;
  uint16_t group() const noexcept;
  std::optional<Alert> alert_sent() const noexcept;
  std::optional<Alert> alert_received() const noexcept;
  // Copies everything the session needs into `out` (about 34 KiB; see TlsServerState).
  void CopySessionState(TlsAcceptorState& out) const noexcept;
  // Points a live acceptor at another core's configs and CryptoContext (the same
  // listener's, so equal in content): what a core does when it takes the session over
  // inside the box. Expanded AEAD keys stay valid (same box, same ipsec-mb build).
  void Rebind(const TlsServerConfig* tls13, const Tls12Config* tls12, CryptoContext& ctx) noexcept;

  // The inner servers, for tests and diagnostics; empty until the version is picked.
  const std::optional<TlsServer>& tls13_for_test() const noexcept { return tls13_; }
  const std::optional<Tls12Server>& tls12_for_test() const noexcept { return tls12_; }

 private:
  enum class Scan : uint8_t { kNeedMore, kHello, kNotHello, kTooBig };
  Scan ScanPending(uint16_t& version) noexcept;
  // Copies `out.size()` handshake bytes from offset `at` of the buffered records.
  void Gather(size_t at, MutByteView out) const noexcept;
  TlsStatus Refuse(Alert alert, OutputSink& to_peer) noexcept;
  TlsStatus Start(uint16_t version, OutputSink& to_peer, OutputSink& app) noexcept;

  const TlsServerConfig* config13_;
  const Tls12Config* config12_;
  CryptoContext* ctx_;
  uint64_t now_ms_ = 0;
  bool failed_ = false;
  Alert alert_ = Alert::kCloseNotify;
  uint16_t pending_fill_ = 0;
  // Scan progress over pending_ (a cache: rebuilt from the bytes after a move).
  size_t scanned_ = 0;      // bytes of whole records walked
  size_t hello_bytes_ = 0;  // handshake bytes seen in them
  std::array<uint8_t, kMaxPendingHelloBytes> pending_{};
  std::optional<TlsServer> tls13_;
  std::optional<Tls12Server> tls12_;
};

}  // namespace baton::crypto::tls
