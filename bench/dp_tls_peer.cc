#include "bench/dp_tls_peer.h"

#include "crypto/tls/client.h"

namespace baton::bench {

using crypto::tls::TlsStatus;

struct TlsPeerClient::Impl {
  crypto::tls::TlsClientConfig config;
  crypto::CryptoContext* ctx = nullptr;
  std::optional<crypto::tls::TlsClient> tls;
};

TlsPeerClient::TlsPeerClient(X509_STORE* trust, const std::string& server_name, crypto::CryptoContext& ctx)
    : impl_(std::make_unique<Impl>()) {
  impl_->config.suites = {crypto::CipherSuite::kAes128GcmSha256};
  impl_->config.groups = {crypto::tls::NamedGroup::kX25519};
  impl_->config.server_name = server_name;
  impl_->config.trust = trust;
  impl_->ctx = &ctx;
  Reset();
}

TlsPeerClient::~TlsPeerClient() = default;

void TlsPeerClient::Reset() {
  impl_->tls.reset();
  impl_->tls.emplace(impl_->config, *impl_->ctx);
}

TlsStatus TlsPeerClient::Start(crypto::tls::OutputSink& to_peer) noexcept { return impl_->tls->Start(to_peer); }

TlsStatus TlsPeerClient::Input(crypto::ByteView in, crypto::tls::OutputSink& to_peer,
                               crypto::tls::OutputSink& app) noexcept {
  return impl_->tls->Input(in, to_peer, app);
}

TlsStatus TlsPeerClient::WriteApp(crypto::ByteView plain, crypto::tls::OutputSink& to_peer) noexcept {
  return impl_->tls->WriteApp(plain, to_peer);
}

TlsStatus TlsPeerClient::Close(crypto::tls::OutputSink& to_peer) noexcept { return impl_->tls->Close(to_peer); }

bool TlsPeerClient::connected() const noexcept { return impl_->tls->connected(); }

int TlsPeerClient::state() const noexcept { return int(impl_->tls->state()); }

std::optional<int> TlsPeerClient::alert_sent() const noexcept {
  const auto a = impl_->tls->alert_sent();
  return a ? std::optional<int>(int(*a)) : std::nullopt;
}

std::optional<int> TlsPeerClient::alert_received() const noexcept {
  const auto a = impl_->tls->alert_received();
  return a ? std::optional<int>(int(*a)) : std::nullopt;
}

}  // namespace baton::bench
