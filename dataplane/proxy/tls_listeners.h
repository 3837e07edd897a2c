// TLS on the VIP listeners: per listener, its certificates and TLS server configuration,
// loaded once at start from the snapshot and shared read-only by every worker.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "crypto/tls/credentials.h"
#include "crypto/tls/server.h"
#include "crypto/tls/session12.h"
#include "crypto/tls/ticket.h"
#include "dataplane/api/config.h"

namespace baton::dp {

struct TlsListener {
  std::vector<crypto::tls::Credential> credentials;  // the server config points into this
  std::vector<crypto::tls::TicketKey> ticket_keys;   // and into this
  std::vector<crypto::tls::Tls12TicketKey> tls12_ticket_keys;  // the same keys, for TLS 1.2
  crypto::tls::TlsServerConfig server;
  TlsListenerConfig config;                          // versions, timeout, routes

  TlsListener() = default;
  ~TlsListener();                            // wipes the ticket keys
  TlsListener(const TlsListener&) = delete;  // `server.credentials` is a view of ours
  TlsListener& operator=(const TlsListener&) = delete;

  // The pool for a finished handshake: the first route whose SNI and ALPN match (an
  // empty field matches anything), else `fallback`.
  uint16_t PoolFor(std::string_view sni, std::string_view alpn, uint16_t fallback) const noexcept;
};

// Reads a ticket key file: one key a line as 96 hex digits (16-byte name, 32-byte
// secret), blank lines and '#' comments allowed, at most 16 keys; the first seals. On a
// problem returns an empty vector and sets `error` ("PATH:LINE: what").
std::vector<crypto::tls::TicketKey> ReadTicketKeys(const std::string& path, std::string& error);

class TlsListeners {
 public:
  // Reads every TLS listener's certificates and keys. Problems go to `errors`, one line
  // each, "FILE:LINE: listener[i].tls.certificates[j]: what is wrong" (FILE:LINE of the
  // config); the result is then incomplete and must not be used.
  static TlsListeners Load(const ConfigSnapshot& config, std::vector<std::string>& errors);

  // nullptr for a plain TCP listener. `listener` indexes ConfigSnapshot::listeners.
  const TlsListener* For(size_t listener) const noexcept {
    return listener < by_listener_.size() ? by_listener_[listener].get() : nullptr;
  }
  bool empty() const noexcept;

 private:
  std::vector<std::unique_ptr<TlsListener>> by_listener_;
};

}  // namespace baton::dp
