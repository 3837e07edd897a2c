// TLS on the VIP listeners: per listener, its certificates and TLS server configuration,
// loaded from the snapshot and shared read-only by every worker. A reload, a certificate
// reload or a ticket-key rotation loads a new TlsListeners (a new generation); the old
// one stays alive while sessions may still point into it (dataplane.cc keeps every
// generation until exit, docs/CONFIG.md "Live reload").
#pragma once

#include <cstddef>
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
  // The server config points into this. Shared with later generations that did not read
  // the files again (a ticket-key rotation).
  std::shared_ptr<const std::vector<crypto::tls::Credential>> credentials;
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

// Random ticket keys a listener keeps across rotations: the newest seals, the others
// still open tickets issued before the last rotations (docs/API.md rotate-ticket-keys).
inline constexpr size_t kMaxRotatedTicketKeys = 4;

class TlsListeners {
 public:
  // Reads every TLS listener's certificates and keys. Problems go to `errors`, one line
  // each, "FILE:LINE: listener[i].tls.certificates[j]: what is wrong" (FILE:LINE of the
  // config); the result is then incomplete and must not be used.
  static TlsListeners Load(const ConfigSnapshot& config, std::vector<std::string>& errors);

  // A reload (`baton ctl reload`, `reload-certs`): like Load(), but a TLS listener that
  // `previous` (loaded for `previous_config`) has under the same name keeps its random
  // ticket keys, so the tickets it issued still resume. Ticket key files are read again.
  static TlsListeners Reload(const ConfigSnapshot& config, const ConfigSnapshot& previous_config,
                             const TlsListeners& previous, std::vector<std::string>& errors);

  // `baton ctl rotate-ticket-keys` on the running `config`: certificates stay as loaded
  // (shared, not read again); a listener with random keys gets a new one in front of its
  // previous ones (at most kMaxRotatedTicketKeys in all); one with a ticket_key_file
  // reads the file again.
  static TlsListeners RotateTicketKeys(const ConfigSnapshot& config, const TlsListeners& current,
                                       std::vector<std::string>& errors);

  // nullptr for a plain TCP listener. `listener` indexes ConfigSnapshot::listeners.
  const TlsListener* For(size_t listener) const noexcept {
    return listener < by_listener_.size() ? by_listener_[listener].get() : nullptr;
  }
  bool empty() const noexcept;

 private:
  struct Plan {
    const TlsListener* previous = nullptr;  // the same listener in the running generation
    bool reuse_credentials = false;         // share previous->credentials, read no file
    bool rotate = false;                    // a fresh random key in front of the old ones
  };
  static std::unique_ptr<TlsListener> LoadListener(const ConfigSnapshot& config, size_t i, const Plan& plan,
                                                   std::vector<std::string>& errors);

  std::vector<std::unique_ptr<TlsListener>> by_listener_;
};

}  // namespace baton::dp
