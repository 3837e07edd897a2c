// Our Tls12Server and TlsAcceptor against OpenSSL's libssl as the client, in memory: two
// memory BIOs on the client side, bytes shuttled by the test (as server_test.cc does for
// TLS 1.3).

#include "crypto/tls/server12.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/tls/acceptor.h"

namespace baton::crypto::tls {
namespace {

using Bytes = std::vector<uint8_t>;

struct VecSink final : OutputSink {
  Bytes data;
  bool Append(ByteView b) noexcept override {
    data.insert(data.end(), b.begin(), b.end());
    return true;
  }
};

Bytes SelfSigned(EVP_PKEY* key) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("baton tls12 test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  EXPECT_GT(X509_sign(x, key, EVP_sha256()), 0);
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  X509_free(x);
  return out;
}

struct Identity {
  EVP_PKEY* key = nullptr;
  Bytes cert;
  std::vector<Credential> creds;
  explicit Identity(bool rsa) {
    key = rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
              : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    cert = SelfSigned(key);
    creds.push_back(Credential{{cert}, key});
  }
  ~Identity() { EVP_PKEY_free(key); }
};

Identity& Ecdsa() {
  static Identity id(false);
  return id;
}
Identity& Rsa() {
  static Identity id(true);
  return id;
}

struct ClientOptions {
  int max_version = TLS1_2_VERSION;
  int min_version = TLS1_2_VERSION;
  const char* ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";  // TLS 1.2 list
  const char* groups = "X25519:P-256";
  const char* sni = nullptr;
  Bytes alpn;  // wire form
  uint64_t options = 0;  // SSL_OP_*
  SSL_SESSION* session = nullptr;  // to resume
  const Identity* trust = &Ecdsa();
};

// One libssl client and our server (Tls12Server or TlsAcceptor), joined by the test.
template <class Server>
class Pair {
 public:
  using Factory = std::function<std::unique_ptr<Server>(CryptoContext&)>;

  Pair(Factory make, const ClientOptions& opt) : ctx_(CryptoContext::Create()), make_(make) {
    server_ = make_(*ctx_);
    cctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(cctx_, opt.min_version);
    SSL_CTX_set_max_proto_version(cctx_, opt.max_version);
    EXPECT_EQ(SSL_CTX_set_cipher_list(cctx_, opt.ciphers), 1);
    SSL_CTX_set_options(cctx_, opt.options);
    const unsigned char* p = opt.trust->cert.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(opt.trust->cert.size()));
    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx_), x);
    X509_free(x);
    SSL_CTX_set_verify(cctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(cctx_);
    EXPECT_EQ(SSL_set1_groups_list(ssl_, opt.groups), 1);
    if (opt.sni != nullptr) SSL_set_tlsext_host_name(ssl_, opt.sni);
    if (!opt.alpn.empty()) {
      EXPECT_EQ(SSL_set_alpn_protos(ssl_, opt.alpn.data(), static_cast<unsigned>(opt.alpn.size())), 0);
    }
    if (opt.session != nullptr) {
      EXPECT_EQ(SSL_set_session(ssl_, opt.session), 1);
    }
    to_client_ = BIO_new(BIO_s_mem());
    from_client_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(to_client_, -1);
    SSL_set_bio(ssl_, to_client_, from_client_);
    SSL_set_connect_state(ssl_);
  }
  ~Pair() {
    SSL_free(ssl_);
    SSL_CTX_free(cctx_);
    ERR_clear_error();
  }

  // Client bytes -> server (in `chunk`-byte pieces), server bytes -> client.
  TlsStatus Pump(size_t chunk = 0) {
    Bytes buf(1 << 16);
    while (true) {
      const int n = BIO_read(from_client_, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      const Bytes got(buf.begin(), buf.begin() + n);
      captured_.insert(captured_.end(), got.begin(), got.end());
      const size_t step = chunk == 0 ? got.size() : chunk;
      for (size_t off = 0; off < got.size(); off += step) {
        status_ = server_->Input({got.data() + off, std::min(step, got.size() - off)}, out_, app_);
      }
    }
    FlushToClient();
    return status_;
  }
  void FlushToClient() {
    if (!out_.data.empty()) {
      BIO_write(to_client_, out_.data.data(), static_cast<int>(out_.data.size()));
      out_.data.clear();
    }
  }
  // Takes what the client has written so far without giving it to the server.
  Bytes TakeClientBytes() {
    Bytes all;
    Bytes buf(1 << 16);
    while (true) {
      const int n = BIO_read(from_client_, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      all.insert(all.end(), buf.begin(), buf.begin() + n);
    }
    return all;
  }

  bool Handshake(size_t chunk = 0) {
    for (int i = 0; i < 20; ++i) {
      const int r = SSL_do_handshake(ssl_);
      last_error_ = r == 1 ? 0 : SSL_get_error(ssl_, r);
      if (last_error_ == SSL_ERROR_SSL) {
        client_reason_ = ERR_GET_REASON(ERR_peek_error());
        ERR_error_string_n(ERR_peek_error(), client_error_, sizeof(client_error_));
      }
      (void)Pump(chunk);
      if (r == 1 && server_->connected()) return true;
      if ((r != 1 && last_error_ != SSL_ERROR_WANT_READ) || status_ != TlsStatus::kOk) {
        failure_ = Describe();
        return false;
      }
    }
    failure_ = "no progress; " + Describe();
    return false;
  }
  std::string Describe() const {
    std::string d = "server status " + std::to_string(static_cast<int>(status_));
    if (server_->alert_sent()) d += ", sent alert " + std::to_string(static_cast<int>(*server_->alert_sent()));
    if (server_->alert_received()) {
      d += ", received alert " + std::to_string(static_cast<int>(*server_->alert_received()));
    }
    return d + ", client: SSL_get_error " + std::to_string(last_error_) + ", " + client_error_ +
           ", " + SSL_state_string_long(ssl_);
  }
  const std::string& failure() const { return failure_; }

  bool ClientSends(const Bytes& data) {
    app_.data.clear();
    size_t off = 0;
    while (off < data.size()) {
      const int n = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
      if (Pump() == TlsStatus::kFailed) return false;
    }
    return app_.data == data;
  }
  bool ServerSends(const Bytes& data) {
    if (server_->WriteApp(data, out_) != TlsStatus::kOk) return false;
    FlushToClient();
    Bytes got(data.size());
    size_t off = 0;
    while (off < data.size()) {
      const int n = SSL_read(ssl_, got.data() + off, static_cast<int>(data.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return got == data;
  }

  Server& server() { return *server_; }
  void ReplaceServer(std::unique_ptr<Server> s) { server_ = std::move(s); }
  SSL* ssl() { return ssl_; }
  CryptoContext& ctx() { return *ctx_; }
  VecSink& out() { return out_; }
  VecSink& app() { return app_; }
  TlsStatus status() const { return status_; }
  int client_reason() const { return client_reason_; }
  BIO* from_client() { return from_client_; }

 private:
  std::optional<CryptoContext> ctx_;
  Factory make_;
  std::unique_ptr<Server> server_;
  SSL_CTX* cctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* to_client_ = nullptr;
  BIO* from_client_ = nullptr;
  VecSink out_, app_;
  Bytes captured_;
  TlsStatus status_ = TlsStatus::kOk;
  std::string failure_;
  int last_error_ = 0;
  int client_reason_ = 0;
  char client_error_[256] = {};
};

using Pair12 = Pair<Tls12Server>;
using PairAcceptor = Pair<TlsAcceptor>;

// A base config and a TLS 1.2 config pointing at it, kept together.
struct Configs {
  TlsServerConfig base;
  Tls12Config tls12;
  explicit Configs(const Identity& id = Ecdsa()) {
    base.credentials = id.creds;
    tls12.base = &base;
  }
  Configs(const Configs&) = delete;
  Pair12::Factory Factory12() const {
    return [this](CryptoContext& ctx) { return std::make_unique<Tls12Server>(tls12, ctx); };
  }
  PairAcceptor::Factory Acceptor(bool with13, bool with12) const {
    return [this, with13, with12](CryptoContext& ctx) {
      return std::make_unique<TlsAcceptor>(with13 ? &base : nullptr, with12 ? &tls12 : nullptr, ctx);
    };
  }
};

Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 13 + 5);
  return b;
}

// ---------------------------------------------------------------------------------------
// Full handshakes

struct Case12 {
  const char* ciphers;
  uint16_t suite_wire;
  const char* group;
  uint16_t group_wire;
  bool rsa;
};

class Handshake12 : public ::testing::TestWithParam<Case12> {};

TEST_P(Handshake12, CompletesAndCarriesData) {
  const Case12& c = GetParam();
  const Identity& id = c.rsa ? Rsa() : Ecdsa();
  Configs cfg(id);
  cfg.base.groups = {static_cast<NamedGroup>(c.group_wire)};
  ClientOptions opt;
  opt.ciphers = c.ciphers;
  opt.trust = &id;
  Pair12 pair(cfg.Factory12(), opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(SSL_version(pair.ssl()), TLS1_2_VERSION);
  EXPECT_EQ(pair.server().suite(), c.suite_wire);
  EXPECT_EQ(pair.server().group(), c.group_wire);
  EXPECT_EQ(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(pair.ssl())), c.suite_wire);
  EXPECT_FALSE(pair.server().resumed());
  EXPECT_FALSE(SSL_session_reused(pair.ssl()));
  for (const size_t n : {size_t{1}, size_t{16384}, size_t{1} << 20}) {
    ASSERT_TRUE(pair.ClientSends(Pattern(n))) << n;
    ASSERT_TRUE(pair.ServerSends(Pattern(n))) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(
    SuitesGroupsKeys, Handshake12,
    ::testing::Values(
        Case12{"ECDHE-ECDSA-AES128-GCM-SHA256", 0xC02B, "X25519", 0x001d, false},
        Case12{"ECDHE-ECDSA-AES128-GCM-SHA256", 0xC02B, "P-256", 0x0017, false},
        Case12{"ECDHE-ECDSA-AES256-GCM-SHA384", 0xC02C, "X25519", 0x001d, false},
        Case12{"ECDHE-ECDSA-AES256-GCM-SHA384", 0xC02C, "P-256", 0x0017, false},
        Case12{"ECDHE-ECDSA-CHACHA20-POLY1305", 0xCCA9, "X25519", 0x001d, false},
        Case12{"ECDHE-ECDSA-CHACHA20-POLY1305", 0xCCA9, "P-256", 0x0017, false},
        Case12{"ECDHE-RSA-AES128-GCM-SHA256", 0xC02F, "X25519", 0x001d, true},
        Case12{"ECDHE-RSA-AES128-GCM-SHA256", 0xC02F, "P-256", 0x0017, true},
        Case12{"ECDHE-RSA-AES256-GCM-SHA384", 0xC030, "X25519", 0x001d, true},
        Case12{"ECDHE-RSA-AES256-GCM-SHA384", 0xC030, "P-256", 0x0017, true},
        Case12{"ECDHE-RSA-CHACHA20-POLY1305", 0xCCA8, "X25519", 0x001d, true},
        Case12{"ECDHE-RSA-CHACHA20-POLY1305", 0xCCA8, "P-256", 0x0017, true}));

TEST(Tls12Server, RsaPkcs1WhenPssIsNotOffered) {
  Configs cfg(Rsa());
  ClientOptions opt;
  opt.ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
  opt.trust = &Rsa();
  Pair12 pair(cfg.Factory12(), opt);
  ASSERT_EQ(SSL_set1_sigalgs_list(pair.ssl(), "RSA+SHA256"), 1);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  int nid = 0;
  ASSERT_EQ(SSL_get_peer_signature_type_nid(pair.ssl(), &nid), 1);
  EXPECT_EQ(nid, EVP_PKEY_RSA);
}

TEST(Tls12Server, BothCredentialsServerPreference) {
  // An ECDSA and an RSA credential: the suite picks the key; server preference wins.
  TlsServerConfig base;
  std::vector<Credential> creds = {Rsa().creds[0], Ecdsa().creds[0]};
  base.credentials = creds;
  Tls12Config tls12;
  tls12.base = &base;
  tls12.suites = {Tls12Suite::kEcdheRsaChacha20Poly1305Sha256, Tls12Suite::kEcdheEcdsaAes128GcmSha256};
  ClientOptions opt;
  opt.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305";
  opt.trust = &Rsa();
  Pair12 pair([&](CryptoContext& ctx) { return std::make_unique<Tls12Server>(tls12, ctx); }, opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().suite(), 0xCCA8);
  EXPECT_EQ(pair.server().session_state().credential, 0);
}

TEST(Tls12Server, AlpnAndSni) {
  Configs cfg;
  const std::string_view names[] = {"h2", "http/1.1"};
  cfg.base.alpn_wire = EncodeAlpn(names);
  ClientOptions opt;
  opt.sni = "example.test";
  opt.alpn = {8, 'h', 't', 't', 'p', '/', '1', '.', '1', 2, 'h', '2'};
  Pair12 pair(cfg.Factory12(), opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().sni(), "example.test");
  EXPECT_EQ(pair.server().alpn(), "h2");
  const unsigned char* sel = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(pair.ssl(), &sel, &len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sel), len), "h2");
}

TEST(Tls12Server, NoCommonAlpn) {
  Configs cfg;
  const std::string_view names[] = {"h2"};
  cfg.base.alpn_wire = EncodeAlpn(names);
  ClientOptions opt;
  opt.alpn = {3, 'f', 'o', 'o'};
  Pair12 pair(cfg.Factory12(), opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kNoApplicationProtocol);
}

TEST(Tls12Server, SecureRenegotiationIndicationEchoed) {
  Configs cfg;
  Pair12 pair(cfg.Factory12(), {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(SSL_get_secure_renegotiation_support(pair.ssl()), 1);
  EXPECT_TRUE(pair.server().session_state().secure_renegotiation);
}

// ---------------------------------------------------------------------------------------
// Refusals

TEST(Tls12Server, ClientWithoutExtendedMasterSecret) {
  Configs cfg;
  ClientOptions opt;
  opt.options = SSL_OP_NO_EXTENDED_MASTER_SECRET;
  Pair12 pair(cfg.Factory12(), opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kHandshakeFailure);
  EXPECT_EQ(pair.status(), TlsStatus::kFailed);
}

TEST(Tls12Server, CbcOnlyClient) {
  Configs cfg;
  ClientOptions opt;
  opt.ciphers = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:AES128-SHA";
  Pair12 pair(cfg.Factory12(), opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kHandshakeFailure);
}

TEST(Tls12Server, RsaSuitesOnlyWithEcdsaCertificate) {
  Configs cfg;  // ECDSA credential only
  ClientOptions opt;
  opt.ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
  Pair12 pair(cfg.Factory12(), opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kHandshakeFailure);
}

TEST(Tls12Server, Tls11Client) {
  Configs cfg;
  ClientOptions opt;
  opt.min_version = TLS1_VERSION;
  opt.max_version = TLS1_1_VERSION;
  opt.ciphers = "DEFAULT:@SECLEVEL=0";  // libssl 3 refuses TLS 1.1 at the default level
  Pair12 pair(cfg.Factory12(), opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kProtocolVersion);
}

TEST(Tls12Server, NoCommonGroup) {
  Configs cfg(Rsa());  // RSA, so that the failure is the key exchange group
  cfg.base.groups = {NamedGroup::kSecp256r1};
  ClientOptions opt;
  opt.ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
  opt.trust = &Rsa();
  opt.groups = "X25519";
  Pair12 pair(cfg.Factory12(), opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kHandshakeFailure);
}

TEST(Tls12Server, EcdsaCertificateNeedsP256InSupportedGroups) {
  // RFC 8422: the certificate's curve must be one the client lists. X25519-only client:
  // no ECDSA suite; with an RSA credential too, the RSA suite is used instead.
  Configs cfg;
  ClientOptions opt;
  opt.groups = "X25519";
  Pair12 refused(cfg.Factory12(), opt);
  EXPECT_FALSE(refused.Handshake());
  EXPECT_EQ(refused.server().alert_sent(), Alert::kHandshakeFailure);

  TlsServerConfig base;
  std::vector<Credential> creds = {Ecdsa().creds[0], Rsa().creds[0]};
  base.credentials = creds;
  Tls12Config tls12;
  tls12.base = &base;
  opt.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
  opt.trust = &Rsa();
  Pair12 pair([&](CryptoContext& ctx) { return std::make_unique<Tls12Server>(tls12, ctx); }, opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().suite(), 0xC02F);
  EXPECT_EQ(pair.server().group(), 0x001d);
}

TEST(Tls12Server, DowngradeSentinelWhenTls13IsEnabled) {
  // A client able to do TLS 1.3 that ends up on our TLS 1.2 server while the listener
  // claims TLS 1.3: RFC 8446 4.1.3 makes the client abort.
  Configs cfg;
  cfg.tls12.tls13_enabled = true;
  ClientOptions opt;
  opt.max_version = TLS1_3_VERSION;
  Pair12 pair(cfg.Factory12(), opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_received(), Alert::kIllegalParameter);
  // Without the claim the same client settles for TLS 1.2.
  Configs plain;
  Pair12 ok(plain.Factory12(), opt);
  ASSERT_TRUE(ok.Handshake()) << ok.failure();
  EXPECT_EQ(SSL_version(ok.ssl()), TLS1_2_VERSION);
}

TEST(Tls12Server, FallbackScsvWhenTls13IsEnabled) {
  // RFC 7507: a client retrying with a lower version while we speak TLS 1.3.
  Configs cfg;
  cfg.tls12.tls13_enabled = true;
  Pair12 pair(cfg.Factory12(), {});
  SSL_set_mode(pair.ssl(), SSL_MODE_SEND_FALLBACK_SCSV);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), static_cast<Alert>(86));  // inappropriate_fallback
  // Without TLS 1.3 on the listener, TLS 1.2 is our best: the SCSV is fine.
  Configs plain;
  Pair12 ok(plain.Factory12(), {});
  SSL_set_mode(ok.ssl(), SSL_MODE_SEND_FALLBACK_SCSV);
  EXPECT_TRUE(ok.Handshake()) << ok.failure();
}

TEST(Tls12Server, WarningAlertsAreIgnoredWithinBudget) {
  Configs cfg;
  cfg.tls12.max_warning_alerts = 2;
  Pair12 pair(cfg.Factory12(), {});
  // Before the handshake: plaintext warning alerts (user_canceled).
  const Bytes warning = {21, 3, 3, 0, 2, 1, 90};
  EXPECT_EQ(pair.server().Input(warning, pair.out(), pair.app()), TlsStatus::kOk);
  EXPECT_EQ(pair.server().Input(warning, pair.out(), pair.app()), TlsStatus::kOk);
  EXPECT_EQ(pair.server().Input(warning, pair.out(), pair.app()), TlsStatus::kFailed);
  EXPECT_EQ(pair.server().alert_sent(), Alert::kUnexpectedMessage);
  EXPECT_EQ(pair.out().data, (Bytes{21, 3, 3, 0, 2, 2, 10}));
  // A fatal alert from the client closes without an answer.
  Configs cfg2;
  auto ctx = CryptoContext::Create();
  Tls12Server s(cfg2.tls12, *ctx);
  VecSink out, app;
  EXPECT_EQ(s.Input(Bytes{21, 3, 3, 0, 2, 2, 40}, out, app), TlsStatus::kFailed);
  EXPECT_EQ(s.alert_received(), Alert::kHandshakeFailure);
  EXPECT_TRUE(out.data.empty());
  // Bad alert level.
  Tls12Server t(cfg2.tls12, *ctx);
  EXPECT_EQ(t.Input(Bytes{21, 3, 3, 0, 2, 3, 0}, out, app), TlsStatus::kFailed);
  EXPECT_EQ(t.alert_sent(), Alert::kIllegalParameter);
}

// ---------------------------------------------------------------------------------------
// Record layer, splits, moves

TEST(Tls12Server, TamperedRecordIsBadRecordMac) {
  for (const char* ciphers : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    Configs cfg;
    ClientOptions opt;
    opt.ciphers = ciphers;
    Pair12 pair(cfg.Factory12(), opt);
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    const Bytes msg = Pattern(100);
    ASSERT_EQ(SSL_write(pair.ssl(), msg.data(), 100), 100);
    Bytes rec = pair.TakeClientBytes();
    ASSERT_GT(rec.size(), 100u);
    // Try every byte after the header, each on a copy of the state.
    const auto saved = std::make_unique<Tls12ServerState>(pair.server().session_state());
    for (size_t i = kRecordHeaderBytes; i < rec.size(); ++i) {
      Tls12Server s(cfg.tls12, pair.ctx(), *saved);
      Bytes bad = rec;
      bad[i] ^= 0x40;
      VecSink out, app;
      EXPECT_EQ(s.Input(bad, out, app), TlsStatus::kFailed) << ciphers << " " << i;
      EXPECT_EQ(s.alert_sent(), Alert::kBadRecordMac) << ciphers << " " << i;
      EXPECT_TRUE(app.data.empty());
      EXPECT_EQ(s.WriteApp(msg, out), TlsStatus::kFailed);  // nothing after a failure
    }
    // Header type/version bytes are authenticated too (additional data).
    for (size_t i : {size_t{1}, size_t{2}}) {
      Tls12Server s(cfg.tls12, pair.ctx(), *saved);
      Bytes bad = rec;
      bad[i] ^= 0x01;
      VecSink out, app;
      EXPECT_EQ(s.Input(bad, out, app), TlsStatus::kFailed) << i;
      EXPECT_TRUE(app.data.empty());
    }
    Tls12Server s(cfg.tls12, pair.ctx(), *saved);
    VecSink out, app;
    EXPECT_EQ(s.Input(rec, out, app), TlsStatus::kOk);
    EXPECT_EQ(app.data, msg);
  }
}

TEST(Tls12Server, HandshakeOneByteAtATime) {
  Configs cfg;
  ClientOptions opt;
  opt.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384";
  cfg.base.groups = {NamedGroup::kSecp256r1};
  Pair12 pair(cfg.Factory12(), opt);
  ASSERT_TRUE(pair.Handshake(1)) << pair.failure();
  ASSERT_TRUE(pair.ClientSends(Pattern(3000)));
  ASSERT_TRUE(pair.ServerSends(Pattern(3000)));
}

TEST(Tls12Server, StateMovesByMemcpy) {
  for (const char* groups : {"X25519", "P-256"}) {
    Configs cfg;
    ClientOptions opt;
    opt.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
    cfg.base.groups = {std::string_view(groups) == "P-256" ? NamedGroup::kSecp256r1
                                                           : NamedGroup::kX25519};
    Pair12 pair(cfg.Factory12(), opt);
    // Mid-handshake: our flight is out, the ClientKeyExchange is not in yet, so the
    // ephemeral private key travels in the state.
    ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
    (void)pair.Pump();
    ASSERT_EQ(pair.server().state(), Hs12State::kExpectClientKeyExchange);
    auto image = std::make_unique<Tls12ServerState>();
    std::memcpy(static_cast<void*>(image.get()), &pair.server().session_state(), sizeof(*image));
    pair.ReplaceServer(std::make_unique<Tls12Server>(cfg.tls12, pair.ctx(), *image));
    ASSERT_TRUE(pair.Handshake()) << groups << ": " << pair.failure();
    ASSERT_TRUE(pair.ClientSends(Pattern(5000)));
    // Mid-session, with half a record buffered.
    const Bytes msg = Pattern(3000);
    ASSERT_EQ(SSL_write(pair.ssl(), msg.data(), 3000), 3000);
    const Bytes rec = pair.TakeClientBytes();
    ASSERT_GT(rec.size(), 100u);
    VecSink app1;
    ASSERT_EQ(pair.server().Input({rec.data(), 100}, pair.out(), app1), TlsStatus::kOk);
    std::memcpy(static_cast<void*>(image.get()), &pair.server().session_state(), sizeof(*image));
    pair.ReplaceServer(std::make_unique<Tls12Server>(cfg.tls12, pair.ctx(), *image));
    VecSink app2;
    ASSERT_EQ(pair.server().Input({rec.data() + 100, rec.size() - 100}, pair.out(), app2),
              TlsStatus::kOk);
    EXPECT_TRUE(app1.data.empty());
    EXPECT_EQ(app2.data, msg);
    ASSERT_TRUE(pair.ServerSends(Pattern(4000)));
    ASSERT_TRUE(pair.ClientSends(Pattern(10)));
  }
}

TEST(Tls12Server, MovedMidFlightBeforeChangeCipherSpec) {
  // The client's CKE arrives at one server, CCS+Finished at its copy.
  Configs cfg;
  Pair12 pair(cfg.Factory12(), {});
  ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
  (void)pair.Pump();
  ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
  const Bytes flight = pair.TakeClientBytes();
  // First record: ClientKeyExchange.
  const size_t first = kRecordHeaderBytes + (size_t{flight[3]} << 8 | flight[4]);
  ASSERT_EQ(pair.server().Input({flight.data(), first}, pair.out(), pair.app()), TlsStatus::kOk);
  ASSERT_EQ(pair.server().state(), Hs12State::kExpectChangeCipherSpec);
  const auto image = std::make_unique<Tls12ServerState>(pair.server().session_state());
  pair.ReplaceServer(std::make_unique<Tls12Server>(cfg.tls12, pair.ctx(), *image));
  ASSERT_EQ(pair.server().Input({flight.data() + first, flight.size() - first}, pair.out(),
                                pair.app()),
            TlsStatus::kOk);
  ASSERT_TRUE(pair.server().connected());
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  ASSERT_TRUE(pair.ServerSends(Pattern(10)));
}

// ---------------------------------------------------------------------------------------
// Renegotiation, alerts, malformed input

TEST(Tls12Server, RenegotiationIsRefused) {
  Configs cfg;
  Pair12 pair(cfg.Factory12(), {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  ASSERT_EQ(SSL_renegotiate(pair.ssl()), 1);
  (void)SSL_do_handshake(pair.ssl());  // sends the new ClientHello
  EXPECT_EQ(pair.Pump(), TlsStatus::kOk);
  EXPECT_EQ(pair.server().session_state().refused_renegotiations, 1);
  EXPECT_FALSE(pair.server().alert_sent().has_value());  // a warning, not a failure
  // libssl treats the refusal as fatal for its own renegotiation attempt and says so.
  uint8_t b;
  EXPECT_LE(SSL_read(pair.ssl(), &b, 1), 0);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), SSL_R_NO_RENEGOTIATION);
  ERR_clear_error();
  EXPECT_EQ(pair.Pump(), TlsStatus::kFailed);
  EXPECT_EQ(pair.server().alert_received(), Alert::kHandshakeFailure);
}

TEST(Tls12Server, RenegotiationBudget) {
  // Raw ClientHellos after the handshake: each draws a no_renegotiation warning until the
  // budget runs out.
  Configs cfg;
  cfg.tls12.max_refused_renegotiations = 1;
  Pair12 pair(cfg.Factory12(), {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  ASSERT_EQ(SSL_renegotiate(pair.ssl()), 1);
  (void)SSL_do_handshake(pair.ssl());
  const Bytes hello = pair.TakeClientBytes();  // an encrypted ClientHello record
  ASSERT_EQ(pair.server().Input(hello, pair.out(), pair.app()), TlsStatus::kOk);
  // A second encrypted ClientHello would need the client's next sequence number; replay
  // the state instead and feed the same record to a copy that already refused once.
  auto image = std::make_unique<Tls12ServerState>(pair.server().session_state());
  image->read_seq -= 1;
  Tls12Server again(cfg.tls12, pair.ctx(), *image);
  VecSink out, app;
  EXPECT_EQ(again.Input(hello, out, app), TlsStatus::kFailed);
  EXPECT_EQ(again.alert_sent(), Alert::kUnexpectedMessage);
}

TEST(Tls12Server, CloseNotifyFromClient) {
  Configs cfg;
  Pair12 pair(cfg.Factory12(), {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  ASSERT_TRUE(pair.ClientSends(Pattern(10)));
  EXPECT_EQ(SSL_shutdown(pair.ssl()), 0);
  EXPECT_EQ(pair.Pump(), TlsStatus::kClosed);
  EXPECT_EQ(pair.server().alert_received(), Alert::kCloseNotify);
  EXPECT_EQ(pair.server().state(), Hs12State::kClosed);
  EXPECT_EQ(SSL_shutdown(pair.ssl()), 1);  // our close_notify answered at once
  VecSink out;
  EXPECT_EQ(pair.server().WriteApp(Pattern(5), out), TlsStatus::kFailed);
  EXPECT_TRUE(out.data.empty());
  EXPECT_FALSE(pair.server().alert_sent().has_value());
}

TEST(Tls12Server, CloseNotifyFromServer) {
  Configs cfg;
  Pair12 pair(cfg.Factory12(), {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().Close(pair.out()), TlsStatus::kClosed);
  pair.FlushToClient();
  uint8_t b;
  EXPECT_EQ(SSL_read(pair.ssl(), &b, 1), 0);
  EXPECT_EQ(SSL_get_error(pair.ssl(), 0), SSL_ERROR_ZERO_RETURN);
  EXPECT_EQ(SSL_shutdown(pair.ssl()), 1);
  EXPECT_EQ(pair.Pump(), TlsStatus::kClosed);
}

Bytes CaptureClientHello(const ClientOptions& opt = {}) {
  Configs cfg;
  Pair12 pair(cfg.Factory12(), opt);
  (void)SSL_do_handshake(pair.ssl());
  return pair.TakeClientBytes();
}

Bytes Feed12(const Bytes& in, std::optional<Alert>& alert) {
  Configs cfg;
  auto ctx = CryptoContext::Create();
  Tls12Server s(cfg.tls12, *ctx);
  VecSink out, app;
  (void)s.Input(in, out, app);
  alert = s.alert_sent();
  return out.data;
}

TEST(Tls12Server, TruncatedOrGarbageClientHello) {
  const Bytes ch = CaptureClientHello();
  ASSERT_GT(ch.size(), 100u);
  ASSERT_EQ(ch[5], 1);
  for (size_t cut : {size_t{1}, size_t{2}, size_t{10}, size_t{35}, size_t{40}, ch.size() - 20}) {
    const size_t body = ch.size() - 9 - cut;
    Bytes t(ch.begin(), ch.begin() + static_cast<long>(9 + body));
    t[3] = static_cast<uint8_t>((body + 4) >> 8);
    t[4] = static_cast<uint8_t>(body + 4);
    t[6] = 0;
    t[7] = static_cast<uint8_t>(body >> 8);
    t[8] = static_cast<uint8_t>(body);
    std::optional<Alert> alert;
    const Bytes out = Feed12(t, alert);
    EXPECT_EQ(alert, Alert::kDecodeError) << cut;
    EXPECT_EQ(out, (Bytes{21, 3, 3, 0, 2, 2, 50})) << cut;
  }
  std::optional<Alert> alert;
  (void)Feed12({'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P'}, alert);
  EXPECT_EQ(alert, Alert::kUnexpectedMessage);
  (void)Feed12({22, 3, 1, 0, 4, 2, 0, 0, 0}, alert);  // a ServerHello from the "client"
  EXPECT_EQ(alert, Alert::kUnexpectedMessage);
  (void)Feed12({23, 3, 3, 0, 1, 0}, alert);  // application data before any key
  EXPECT_EQ(alert, Alert::kUnexpectedMessage);
  (void)Feed12({20, 3, 3, 0, 1, 1}, alert);  // ChangeCipherSpec first
  EXPECT_EQ(alert, Alert::kUnexpectedMessage);
  // Random bytes after a valid header: never a crash, always a fatal alert.
  for (int seed = 0; seed < 200; ++seed) {
    Bytes junk = {22, 3, 3, 0, 60, 1, 0, 0, 56};
    for (int i = 0; i < 56; ++i) junk.push_back(static_cast<uint8_t>((seed * 131 + i * 71) ^ (i >> 1)));
    (void)Feed12(junk, alert);
    EXPECT_TRUE(alert.has_value()) << seed;
  }
}

TEST(Tls12Server, EveryFlippedByteOfTheClientFlight) {
  // ClientKeyExchange, ChangeCipherSpec and Finished: each byte flipped in turn, fed to a
  // copy of the state that sent ServerHelloDone. Always a fatal alert, never a session.
  Configs cfg;
  Pair12 pair(cfg.Factory12(), {});
  ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
  (void)pair.Pump();
  ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
  const Bytes flight = pair.TakeClientBytes();
  ASSERT_GT(flight.size(), 60u);
  const auto saved = std::make_unique<Tls12ServerState>(pair.server().session_state());
  {
    Tls12Server s(cfg.tls12, pair.ctx(), *saved);
    VecSink out, app;
    ASSERT_EQ(s.Input(flight, out, app), TlsStatus::kOk);
    ASSERT_TRUE(s.connected());
  }
  for (size_t i = 0; i < flight.size(); ++i) {
    for (const uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      Tls12Server s(cfg.tls12, pair.ctx(), *saved);
      Bytes bad = flight;
      bad[i] ^= mask;
      VecSink out, app;
      const TlsStatus st = s.Input(bad, out, app);
      EXPECT_FALSE(s.connected()) << i;
      if (st == TlsStatus::kOk) {
        // A length byte made a record longer: the server waits for more; nothing leaks.
        EXPECT_TRUE(out.data.empty()) << i;
      } else {
        EXPECT_EQ(st, TlsStatus::kFailed) << i;
        EXPECT_TRUE(s.alert_sent().has_value()) << i;
      }
      EXPECT_TRUE(app.data.empty()) << i;
    }
  }
}

TEST(Tls12Server, EveryFlippedByteOfTheClientHello) {
  // Never a crash; either a fatal alert or a well-formed server flight.
  const Bytes ch = CaptureClientHello();
  Configs cfg;
  auto ctx = CryptoContext::Create();
  for (size_t i = 0; i < ch.size(); ++i) {
    Bytes bad = ch;
    bad[i] ^= 0x21;
    for (int acceptor = 0; acceptor < 2; ++acceptor) {
      VecSink out, app;
      TlsStatus st;
      std::optional<Alert> alert;
      if (acceptor == 0) {
        Tls12Server s(cfg.tls12, *ctx);
        st = s.Input(bad, out, app);
        alert = s.alert_sent();
      } else {
        TlsAcceptor a(&cfg.base, &cfg.tls12, *ctx);
        st = a.Input(bad, out, app);
        alert = a.alert_sent();
      }
      if (st == TlsStatus::kFailed) {
        EXPECT_TRUE(alert.has_value()) << i;
      } else {
        EXPECT_EQ(st, TlsStatus::kOk) << i;
        EXPECT_TRUE(out.data.empty() || out.data[0] == 22) << i;
      }
    }
  }
}

TEST(Tls12Server, EmptyCompressionAndDuplicateExtensions) {
  const Bytes ch = CaptureClientHello();
  // Duplicate: append a second extended_master_secret (type 23, empty) to the block.
  Bytes dup = ch;
  // Offsets: 5 record + 4 hs + 2 version + 32 random, then session id, suites, compression.
  size_t p = 9 + 2 + 32;
  p += 1 + dup[p];
  p += 2 + (size_t{dup[p]} << 8 | dup[p + 1]);
  p += 1 + dup[p];
  const size_t ext_len_at = p;
  const size_t ext_len = size_t{dup[p]} << 8 | dup[p + 1];
  ASSERT_EQ(ext_len_at + 2 + ext_len, dup.size());
  for (uint8_t b : {0, 23, 0, 0}) dup.push_back(b);
  auto bump = [&](size_t at, size_t by, int bytes) {
    size_t v = 0;
    for (int i = 0; i < bytes; ++i) v = v << 8 | dup[at + i];
    v += by;
    for (int i = bytes - 1; i >= 0; --i, v >>= 8) dup[at + i] = static_cast<uint8_t>(v);
  };
  bump(3, 4, 2);
  bump(6, 4, 3);
  bump(ext_len_at, 4, 2);
  std::optional<Alert> alert;
  (void)Feed12(dup, alert);
  EXPECT_EQ(alert, Alert::kIllegalParameter);
}

// ---------------------------------------------------------------------------------------
// Resumption

Tls12TicketKey TicketKey(uint8_t seed) {
  Tls12TicketKey k;
  for (size_t i = 0; i < k.name.size(); ++i) k.name[i] = static_cast<uint8_t>(seed + i);
  for (size_t i = 0; i < k.key.size(); ++i) k.key[i] = static_cast<uint8_t>(seed * 7 + i);
  return k;
}

// Runs a full handshake and returns the client's session (caller frees).
SSL_SESSION* FirstSession(const Configs& cfg, ClientOptions opt) {
  Pair12 pair(cfg.Factory12(), opt);
  EXPECT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_FALSE(pair.server().resumed());
  EXPECT_TRUE(pair.ClientSends(Pattern(10)));
  EXPECT_TRUE(pair.ServerSends(Pattern(10)));  // also lets libssl see NewSessionTicket
  // libssl marks a session not resumable when the SSL is freed without close_notify.
  (void)SSL_shutdown(pair.ssl());
  return SSL_get1_session(pair.ssl());
}

bool Resumes(const Configs& cfg, ClientOptions opt, SSL_SESSION* session) {
  opt.session = session;
  Pair12 pair(cfg.Factory12(), opt);
  EXPECT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().resumed(), SSL_session_reused(pair.ssl()) == 1);
  EXPECT_TRUE(pair.ClientSends(Pattern(20000)));
  EXPECT_TRUE(pair.ServerSends(Pattern(20000)));
  (void)SSL_shutdown(pair.ssl());  // keeps `session` resumable (see FirstSession)
  return pair.server().resumed();
}

TEST(Tls12Resumption, ByTicket) {
  for (const char* ciphers : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                              "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    Configs cfg;
    const Tls12TicketKey keys[] = {TicketKey(1)};
    cfg.tls12.ticket_keys = keys;
    ClientOptions opt;
    opt.ciphers = ciphers;
    SSL_SESSION* s = FirstSession(cfg, opt);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(SSL_SESSION_has_ticket(s)) << ciphers;
    {
      const unsigned char* tick = nullptr;
      size_t tick_len = 0;
      SSL_SESSION_get0_ticket(s, &tick, &tick_len);
      Tls12Session opened;
      auto ctx = CryptoContext::Create();
      EXPECT_TRUE(OpenTls12Ticket(*ctx, keys, {tick, tick_len}, opened)) << tick_len;
      EXPECT_EQ(opened.suite, SSL_CIPHER_get_protocol_id(SSL_SESSION_get0_cipher(s)));
    }
    EXPECT_TRUE(Resumes(cfg, opt, s)) << ciphers;
    EXPECT_TRUE(Resumes(cfg, opt, s)) << ciphers;  // tickets are not single-use here
    SSL_SESSION_free(s);
  }
}

TEST(Tls12Resumption, AlpnIsNegotiatedAgain) {
  Configs cfg;
  const std::string_view names[] = {"h2", "http/1.1"};
  cfg.base.alpn_wire = EncodeAlpn(names);
  const Tls12TicketKey keys[] = {TicketKey(10)};
  cfg.tls12.ticket_keys = keys;
  ClientOptions opt;
  opt.alpn = {2, 'h', '2'};
  SSL_SESSION* s = FirstSession(cfg, opt);
  ASSERT_NE(s, nullptr);
  opt.session = s;
  Pair12 pair(cfg.Factory12(), opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_TRUE(pair.server().resumed());
  EXPECT_EQ(pair.server().alpn(), "h2");
  const unsigned char* sel = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(pair.ssl(), &sel, &len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sel), len), "h2");
  SSL_SESSION_free(s);
}

TEST(Tls12Resumption, TicketKeyRotation) {
  Configs cfg;
  const Tls12TicketKey old_keys[] = {TicketKey(1)};
  cfg.tls12.ticket_keys = old_keys;
  SSL_SESSION* s = FirstSession(cfg, {});
  ASSERT_NE(s, nullptr);
  // New key first, old key still accepted for opening.
  const Tls12TicketKey rotated[] = {TicketKey(2), TicketKey(1)};
  cfg.tls12.ticket_keys = rotated;
  EXPECT_TRUE(Resumes(cfg, {}, s));
  // Old key retired: a full handshake (and a fresh ticket).
  const Tls12TicketKey retired[] = {TicketKey(2)};
  cfg.tls12.ticket_keys = retired;
  EXPECT_FALSE(Resumes(cfg, {}, s));
  SSL_SESSION_free(s);
}

TEST(Tls12Resumption, TicketRefusedOnOtherSniOrSuite) {
  Configs cfg;
  const Tls12TicketKey keys[] = {TicketKey(3)};
  cfg.tls12.ticket_keys = keys;
  ClientOptions opt;
  opt.sni = "a.test";
  SSL_SESSION* s = FirstSession(cfg, opt);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(Resumes(cfg, opt, s));
  // The server no longer speaks the session's suite: full handshake.
  cfg.tls12.suites = {Tls12Suite::kEcdheEcdsaAes256GcmSha384};
  ClientOptions both = opt;
  both.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384";
  EXPECT_FALSE(Resumes(cfg, both, s));
  SSL_SESSION_free(s);
}

TEST(Tls12Resumption, TicketExpires) {
  Configs cfg;
  const Tls12TicketKey keys[] = {TicketKey(4)};
  cfg.tls12.ticket_keys = keys;
  cfg.tls12.ticket_lifetime_s = 60;
  uint64_t now_ms = 1'700'000'000'000;
  // Servers made by this factory read the test's clock when created.
  auto factory = [&](CryptoContext& ctx) {
    auto s = std::make_unique<Tls12Server>(cfg.tls12, ctx);
    s->set_now_ms(now_ms);
    return s;
  };
  SSL_SESSION* s = nullptr;
  {
    Pair12 pair(factory, {});
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    ASSERT_TRUE(pair.ServerSends(Pattern(10)));
    (void)SSL_shutdown(pair.ssl());
    s = SSL_get1_session(pair.ssl());
  }
  ASSERT_NE(s, nullptr);
  auto resumes = [&] {
    ClientOptions opt;
    opt.session = s;
    Pair12 pair(factory, opt);
    EXPECT_TRUE(pair.Handshake()) << pair.failure();
    (void)SSL_shutdown(pair.ssl());
    return pair.server().resumed();
  };
  now_ms += 30'000;
  EXPECT_TRUE(resumes());
  now_ms += 60'000;
  EXPECT_FALSE(resumes());
  SSL_SESSION_free(s);
}

TEST(Tls12Resumption, BySessionId) {
  Configs cfg;
  Tls12MemorySessionCache cache(16);
  cfg.tls12.session_cache = &cache;
  ClientOptions opt;
  opt.options = SSL_OP_NO_TICKET;
  SSL_SESSION* s = FirstSession(cfg, opt);
  ASSERT_NE(s, nullptr);
  unsigned id_len = 0;
  SSL_SESSION_get_id(s, &id_len);
  EXPECT_EQ(id_len, 32u);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(Resumes(cfg, opt, s));
  // Evicted: full handshake, which caches the new session.
  unsigned len = 0;
  const unsigned char* id = SSL_SESSION_get_id(s, &len);
  cache.Remove({id, len});
  EXPECT_FALSE(Resumes(cfg, opt, s));
  EXPECT_EQ(cache.size(), 1u);
  SSL_SESSION_free(s);
}

TEST(Tls12Resumption, TicketPreferredOverSessionId) {
  // Both configured, client does tickets: a ticket is issued and no id is cached.
  Configs cfg;
  Tls12MemorySessionCache cache(16);
  cfg.tls12.session_cache = &cache;
  const Tls12TicketKey keys[] = {TicketKey(5)};
  cfg.tls12.ticket_keys = keys;
  SSL_SESSION* s = FirstSession(cfg, {});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_TRUE(Resumes(cfg, {}, s));
  SSL_SESSION_free(s);
}

TEST(Tls12Resumption, ResumedHandshakeMovesByMemcpy) {
  Configs cfg;
  const Tls12TicketKey keys[] = {TicketKey(6)};
  cfg.tls12.ticket_keys = keys;
  SSL_SESSION* s = FirstSession(cfg, {});
  ASSERT_NE(s, nullptr);
  ClientOptions opt;
  opt.session = s;
  Pair12 pair(cfg.Factory12(), opt);
  ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
  (void)pair.Pump();
  ASSERT_EQ(pair.server().state(), Hs12State::kExpectChangeCipherSpec);
  ASSERT_TRUE(pair.server().resumed());
  const auto image = std::make_unique<Tls12ServerState>(pair.server().session_state());
  pair.ReplaceServer(std::make_unique<Tls12Server>(cfg.tls12, pair.ctx(), *image));
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(SSL_session_reused(pair.ssl()), 1);
  ASSERT_TRUE(pair.ClientSends(Pattern(100)));
  ASSERT_TRUE(pair.ServerSends(Pattern(100)));
  SSL_SESSION_free(s);
}

TEST(Tls12Resumption, TicketSealOpenUnits) {
  auto ctx = CryptoContext::Create();
  const Tls12TicketKey keys[] = {TicketKey(7), TicketKey(8)};
  Tls12Session in;
  in.suite = 0xC02B;
  in.created_s = 123456789;
  for (size_t i = 0; i < in.master_secret.size(); ++i) in.master_secret[i] = static_cast<uint8_t>(i);
  in.sni_len = 3;
  std::memcpy(in.sni.data(), "abc", 3);
  Bytes ticket;
  ASSERT_TRUE(SealTls12Ticket(*ctx, keys[1], in, &DefaultRandom, nullptr, ticket));
  Tls12Session out;
  ASSERT_TRUE(OpenTls12Ticket(*ctx, keys, ticket, out));
  EXPECT_EQ(out.suite, in.suite);
  EXPECT_EQ(out.created_s, in.created_s);
  EXPECT_EQ(out.master_secret, in.master_secret);
  EXPECT_EQ(std::string_view(out.sni.data(), out.sni_len), "abc");
  for (size_t i = 0; i < ticket.size(); ++i) {
    Bytes bad = ticket;
    bad[i] ^= 1;
    EXPECT_FALSE(OpenTls12Ticket(*ctx, keys, bad, out)) << i;
  }
  EXPECT_FALSE(OpenTls12Ticket(*ctx, std::span(keys, 1), ticket, out));
  EXPECT_FALSE(OpenTls12Ticket(*ctx, keys, ByteView(ticket).first(ticket.size() - 1), out));
}

// ---------------------------------------------------------------------------------------
// TlsAcceptor

TEST(TlsAcceptor, Tls13ClientGetsTls13) {
  Configs cfg;
  ClientOptions opt;
  opt.max_version = TLS1_3_VERSION;
  opt.min_version = TLS1_2_VERSION;
  PairAcceptor pair(cfg.Acceptor(true, true), opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().version(), kTls13);
  EXPECT_EQ(SSL_version(pair.ssl()), TLS1_3_VERSION);
  EXPECT_TRUE(pair.server().tls13_for_test().has_value());
  ASSERT_TRUE(pair.ClientSends(Pattern(70000)));
  ASSERT_TRUE(pair.ServerSends(Pattern(70000)));
}

TEST(TlsAcceptor, Tls12ClientGetsTls12) {
  Configs cfg;
  cfg.tls12.tls13_enabled = true;  // downgrade sentinel: harmless for a 1.2-max client
  PairAcceptor pair(cfg.Acceptor(true, true), {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().version(), kTls12);
  EXPECT_EQ(SSL_version(pair.ssl()), TLS1_2_VERSION);
  EXPECT_EQ(pair.server().suite(), 0xC02B);
  ASSERT_TRUE(pair.ClientSends(Pattern(70000)));
  ASSERT_TRUE(pair.ServerSends(Pattern(70000)));
  EXPECT_EQ(pair.server().Close(pair.out()), TlsStatus::kClosed);
}

TEST(TlsAcceptor, Tls13ClientWithTls13DisabledGetsTls12) {
  Configs cfg;
  ClientOptions opt;
  opt.max_version = TLS1_3_VERSION;
  PairAcceptor pair(cfg.Acceptor(false, true), opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().version(), kTls12);
}

TEST(TlsAcceptor, Tls12DisabledRefusesTls12Client) {
  Configs cfg;
  PairAcceptor pair(cfg.Acceptor(true, false), {});
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kProtocolVersion);
  EXPECT_EQ(pair.status(), TlsStatus::kFailed);
}

TEST(TlsAcceptor, Tls11ClientRefused) {
  Configs cfg;
  ClientOptions opt;
  opt.min_version = TLS1_VERSION;
  opt.max_version = TLS1_1_VERSION;
  opt.ciphers = "DEFAULT:@SECLEVEL=0";
  PairAcceptor pair(cfg.Acceptor(true, true), opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kProtocolVersion);
}

// Re-frames a client's first flight (one ClientHello record) into records of at most
// `piece` bytes of handshake data each.
Bytes Reframe(const Bytes& flight, size_t piece) {
  const size_t len = size_t{flight[3]} << 8 | flight[4];
  EXPECT_EQ(flight.size(), kRecordHeaderBytes + len);
  Bytes out;
  for (size_t off = 0; off < len; off += piece) {
    const size_t n = std::min(piece, len - off);
    out.insert(out.end(), {22, flight[1], flight[2], static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
    out.insert(out.end(), flight.begin() + static_cast<long>(kRecordHeaderBytes + off),
               flight.begin() + static_cast<long>(kRecordHeaderBytes + off + n));
  }
  return out;
}

TEST(TlsAcceptor, ClientHelloSplitOverRecords) {
  for (const int max_version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    for (const size_t piece : {size_t{1}, size_t{3}, size_t{50}, size_t{200}}) {
      Configs cfg;
      ClientOptions opt;
      opt.max_version = max_version;
      PairAcceptor pair(cfg.Acceptor(true, true), opt);
      ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
      const Bytes flight = pair.TakeClientBytes();
      const Bytes split = Reframe(flight, piece);
      if (piece == 1 && split.size() > kMaxPendingHelloBytes) {
        // Too many records for the bound: refused, not buffered without end.
        VecSink app;
        EXPECT_EQ(pair.server().Input(split, pair.out(), app), TlsStatus::kFailed);
        EXPECT_EQ(pair.server().alert_sent(), Alert::kDecodeError);
        continue;
      }
      // Fed in uneven pieces, and the pending state moved half-way.
      const size_t half = split.size() / 2;
      ASSERT_EQ(pair.server().Input({split.data(), half}, pair.out(), pair.app()), TlsStatus::kOk);
      EXPECT_EQ(pair.server().version(), 0);
      auto image = std::make_unique<TlsAcceptorState>();
      pair.server().CopySessionState(*image);
      auto copy = std::make_unique<TlsAcceptorState>();
      std::memcpy(static_cast<void*>(copy.get()), image.get(), sizeof(*copy));
      pair.ReplaceServer(std::make_unique<TlsAcceptor>(&cfg.base, &cfg.tls12, pair.ctx(), *copy));
      ASSERT_EQ(pair.server().Input({split.data() + half, split.size() - half}, pair.out(),
                                    pair.app()),
                TlsStatus::kOk);
      EXPECT_EQ(pair.server().version(), max_version == TLS1_3_VERSION ? kTls13 : kTls12);
      pair.FlushToClient();
      ASSERT_TRUE(pair.Handshake()) << piece << " " << pair.failure();
      ASSERT_TRUE(pair.ClientSends(Pattern(100)));
      ASSERT_TRUE(pair.ServerSends(Pattern(100)));
    }
  }
}

TEST(TlsAcceptor, StateMovesAfterVersionChoice) {
  for (const int max_version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    Configs cfg;
    ClientOptions opt;
    opt.max_version = max_version;
    PairAcceptor pair(cfg.Acceptor(true, true), opt);
    ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
    (void)pair.Pump();
    ASSERT_NE(pair.server().version(), 0);
    auto image = std::make_unique<TlsAcceptorState>();
    pair.server().CopySessionState(*image);
    pair.ReplaceServer(std::make_unique<TlsAcceptor>(&cfg.base, &cfg.tls12, pair.ctx(), *image));
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    ASSERT_TRUE(pair.ClientSends(Pattern(100)));
    ASSERT_TRUE(pair.ServerSends(Pattern(100)));
    pair.server().CopySessionState(*image);
    pair.ReplaceServer(std::make_unique<TlsAcceptor>(&cfg.base, &cfg.tls12, pair.ctx(), *image));
    ASSERT_TRUE(pair.ClientSends(Pattern(100)));
    ASSERT_TRUE(pair.ServerSends(Pattern(100)));
  }
}

TEST(TlsAcceptor, OversizedOrForeignFirstBytes) {
  Configs cfg;
  auto ctx = CryptoContext::Create();
  {
    // A ClientHello claiming 20000 bytes: decode_error before buffering it all.
    TlsAcceptor a(&cfg.base, &cfg.tls12, *ctx);
    VecSink out, app;
    const Bytes head = {22, 3, 1, 0x40, 0x00, 1, 0x00, 0x4e, 0x20};
    EXPECT_EQ(a.Input(head, out, app), TlsStatus::kFailed);
    EXPECT_EQ(a.alert_sent(), Alert::kDecodeError);
    EXPECT_EQ(out.data, (Bytes{21, 3, 3, 0, 2, 2, 50}));
    EXPECT_EQ(a.Input(head, out, app), TlsStatus::kFailed);  // stays failed
  }
  {
    // Not TLS at all: the TLS 1.3 server names it.
    TlsAcceptor a(&cfg.base, &cfg.tls12, *ctx);
    VecSink out, app;
    const Bytes http = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1'};
    EXPECT_EQ(a.Input(http, out, app), TlsStatus::kFailed);
    EXPECT_TRUE(a.alert_sent().has_value());
    EXPECT_EQ(a.WriteApp(Pattern(4), out), TlsStatus::kFailed);
  }
  {
    // Neither version enabled.
    TlsAcceptor a(nullptr, nullptr, *ctx);
    VecSink out, app;
    EXPECT_EQ(a.Input(CaptureClientHello(), out, app), TlsStatus::kFailed);
    EXPECT_EQ(a.alert_sent(), Alert::kInternalError);
  }
}

TEST(TlsAcceptor, Tls12ResumptionThroughAcceptor) {
  Configs cfg;
  const Tls12TicketKey keys[] = {TicketKey(9)};
  cfg.tls12.ticket_keys = keys;
  SSL_SESSION* s = nullptr;
  {
    PairAcceptor pair(cfg.Acceptor(true, true), {});
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    ASSERT_TRUE(pair.ServerSends(Pattern(10)));
    (void)SSL_shutdown(pair.ssl());
    s = SSL_get1_session(pair.ssl());
  }
  ClientOptions opt;
  opt.session = s;
  PairAcceptor pair(cfg.Acceptor(true, true), opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_TRUE(pair.server().resumed());
  EXPECT_EQ(SSL_session_reused(pair.ssl()), 1);
  SSL_SESSION_free(s);
}

}  // namespace
}  // namespace baton::crypto::tls
