// The generator's TLS client for dp_tls_bench: our TlsClient behind a small wrapper, in
// its own translation unit. Why: crypto/tls/client_messages.h (through client.h) and
// crypto/tls/record12.h (through dataplane/proxy/engine.h) both define
// crypto::tls::kHelloRandomBytes, so no file can include client.h and engine.h together.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>

#include "crypto/aead.h"
#include "crypto/tls/server.h"  // OutputSink, TlsStatus

namespace baton::bench {

class TlsPeerClient {
 public:
  // TLS_AES_128_GCM_SHA256 and X25519 only; SNI `server_name`, the chain checked against
  // `trust` (borrowed) and the host name against the leaf. `ctx` must outlive the client.
  TlsPeerClient(X509_STORE* trust, const std::string& server_name, crypto::CryptoContext& ctx);
  ~TlsPeerClient();
  TlsPeerClient(const TlsPeerClient&) = delete;
  TlsPeerClient& operator=(const TlsPeerClient&) = delete;

  void Reset();  // a new session, as a fresh TlsClient
  crypto::tls::TlsStatus Start(crypto::tls::OutputSink& to_peer) noexcept;
  crypto::tls::TlsStatus Input(crypto::ByteView in, crypto::tls::OutputSink& to_peer,
                               crypto::tls::OutputSink& app) noexcept;
  crypto::tls::TlsStatus WriteApp(crypto::ByteView plain, crypto::tls::OutputSink& to_peer) noexcept;
  crypto::tls::TlsStatus Close(crypto::tls::OutputSink& to_peer) noexcept;
  bool connected() const noexcept;
  int state() const noexcept;                  // ClientHsState as a number
  std::optional<int> alert_sent() const noexcept;
  std::optional<int> alert_received() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton::bench
