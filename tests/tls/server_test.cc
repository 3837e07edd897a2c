// Our TlsServer against OpenSSL's libssl as the client, in memory: two memory BIOs on the
// client side, and bytes shuttled between it and the server by the test.

#include "crypto/tls/server.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

// A self-signed certificate for `key`, made with libcrypto in the test.
Bytes SelfSigned(EVP_PKEY* key) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("baton test"), -1, -1, 0);
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

// Deterministic randomness for the server (an injectable source, like the product's).
bool CounterRandom(void* ctx, uint8_t* out, size_t len) noexcept {
  auto* counter = static_cast<uint8_t*>(ctx);
  for (size_t i = 0; i < len; ++i) out[i] = (*counter)++;
  return true;
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

struct ClientOptions {
  const char* suites = "TLS_AES_128_GCM_SHA256";
  const char* groups = "X25519";
  const char* sni = nullptr;
  Bytes alpn;  // wire form
  bool tls12_only = false;
};

// One libssl client and our server, joined by the test.
class Pair {
 public:
  Pair(const TlsServerConfig& config, const ClientOptions& opt, const Identity& id = Ecdsa())
      : ctx_(CryptoContext::Create()) {
    server_ = std::make_unique<TlsServer>(config, *ctx_);
    cctx_ = SSL_CTX_new(TLS_client_method());
    if (opt.tls12_only) {
      SSL_CTX_set_min_proto_version(cctx_, TLS1_2_VERSION);
      SSL_CTX_set_max_proto_version(cctx_, TLS1_2_VERSION);
    } else {
      SSL_CTX_set_min_proto_version(cctx_, TLS1_3_VERSION);
    }
    EXPECT_EQ(SSL_CTX_set_ciphersuites(cctx_, opt.suites), 1);
    // Trust our self-signed certificate, so libssl checks the chain and the signature.
    const unsigned char* p = id.cert.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(id.cert.size()));
    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx_), x);
    X509_free(x);
    SSL_CTX_set_verify(cctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(cctx_);
    EXPECT_EQ(SSL_set1_groups_list(ssl_, opt.groups), 1);
    if (opt.sni != nullptr) SSL_set_tlsext_host_name(ssl_, opt.sni);
    if (!opt.alpn.empty()) {
      EXPECT_EQ(SSL_set_alpn_protos(ssl_, opt.alpn.data(), static_cast<unsigned>(opt.alpn.size())), 0);
    }
    to_client_ = BIO_new(BIO_s_mem());
    from_client_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(to_client_, -1);  // empty means "want read", not EOF
    SSL_set_bio(ssl_, to_client_, from_client_);
    SSL_set_connect_state(ssl_);
  }
  ~Pair() {
    SSL_free(ssl_);
    SSL_CTX_free(cctx_);
    ERR_clear_error();
  }

  // Moves what the client wrote into the server (in `chunk`-byte pieces) and what the
  // server wrote to the client. Returns the last server status.
  TlsStatus Pump(size_t chunk = 0) {
    TlsStatus st = TlsStatus::kOk;
    Bytes buf(1 << 16);
    while (true) {
      const int n = BIO_read(from_client_, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      Bytes got(buf.begin(), buf.begin() + n);
      captured_.insert(captured_.end(), got.begin(), got.end());
      const size_t step = chunk == 0 ? got.size() : chunk;
      for (size_t off = 0; off < got.size(); off += step) {
        st = server_->Input({got.data() + off, std::min(step, got.size() - off)}, out_, app_);
      }
    }
    FlushToClient();
    return st;
  }
  void FlushToClient() {
    if (!out_.data.empty()) {
      BIO_write(to_client_, out_.data.data(), static_cast<int>(out_.data.size()));
      out_.data.clear();
    }
  }

  bool Handshake(size_t chunk = 0) {
    for (int i = 0; i < 20; ++i) {
      const int r = SSL_do_handshake(ssl_);
      last_error_ = r == 1 ? 0 : SSL_get_error(ssl_, r);
      if (last_error_ == SSL_ERROR_SSL) {
        ERR_error_string_n(ERR_peek_error(), client_error_, sizeof(client_error_));
      }
      (void)Pump(chunk);
      if (r == 1 && server_->connected()) return true;
      if ((r != 1 && last_error_ != SSL_ERROR_WANT_READ) ||
          server_->state() == HsState::kClosed) {
        failure_ = Describe();
        return false;
      }
    }
    failure_ = "no progress; " + Describe();
    return false;
  }
  // Why a handshake failed, for test messages.
  std::string Describe() const {
    std::string d = "server state " + std::to_string(static_cast<int>(server_->state()));
    if (server_->alert_sent()) d += ", sent alert " + std::to_string(static_cast<int>(*server_->alert_sent()));
    if (server_->alert_received()) {
      d += ", received alert " + std::to_string(static_cast<int>(*server_->alert_received()));
    }
    return d + ", client: SSL_get_error " + std::to_string(last_error_) + ", verify " +
           std::to_string(SSL_get_verify_result(ssl_)) + ", " + client_error_ + ", " +
           SSL_state_string_long(ssl_);
  }
  const std::string& failure() const { return failure_; }

  // Client -> server: everything arrives in the app sink.
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

  // Server -> client: the client reads it all back.
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
    (void)Pump();  // e.g. a KeyUpdate the client answered with
    return got == data;
  }

  TlsServer& server() { return *server_; }
  void ReplaceServer(std::unique_ptr<TlsServer> s) { server_ = std::move(s); }
  SSL* ssl() { return ssl_; }
  CryptoContext& ctx() { return *ctx_; }
  VecSink& out() { return out_; }
  VecSink& app() { return app_; }
  Bytes& captured() { return captured_; }

 private:
  std::optional<CryptoContext> ctx_;
  std::unique_ptr<TlsServer> server_;
  SSL_CTX* cctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* to_client_ = nullptr;    // client's read BIO
  BIO* from_client_ = nullptr;  // client's write BIO
  VecSink out_, app_;
  Bytes captured_;  // every byte the client sent
  std::string failure_;
  int last_error_ = 0;
  char client_error_[256] = {};
};

TlsServerConfig BaseConfig(const Identity& id = Ecdsa()) {
  TlsServerConfig c;
  c.credentials = id.creds;
  return c;
}

Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

// ---------------------------------------------------------------------------------------

struct SuiteGroup {
  const char* suite;
  uint16_t suite_wire;
  const char* group;
  uint16_t group_wire;
};

class Handshake : public ::testing::TestWithParam<SuiteGroup> {};

TEST_P(Handshake, CompletesAndCarriesData) {
  const SuiteGroup& p = GetParam();
  const TlsServerConfig config = BaseConfig();
  ClientOptions opt;
  opt.suites = p.suite;
  opt.groups = p.group;
  Pair pair(config, opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().suite(), p.suite_wire);
  EXPECT_EQ(pair.server().group(), p.group_wire);
  EXPECT_EQ(SSL_get_verify_result(pair.ssl()), X509_V_OK);
  for (const size_t n : {size_t{1}, size_t{16384}, size_t{1} << 20}) {
    EXPECT_TRUE(pair.ClientSends(Pattern(n))) << n;
    EXPECT_TRUE(pair.ServerSends(Pattern(n))) << n;
  }
  EXPECT_FALSE(pair.server().alert_sent().has_value());
}

INSTANTIATE_TEST_SUITE_P(
    SuitesGroups, Handshake,
    ::testing::Values(SuiteGroup{"TLS_AES_128_GCM_SHA256", 0x1301, "X25519", 0x1d},
                      SuiteGroup{"TLS_AES_128_GCM_SHA256", 0x1301, "P-256", 0x17},
                      SuiteGroup{"TLS_AES_256_GCM_SHA384", 0x1302, "X25519", 0x1d},
                      SuiteGroup{"TLS_AES_256_GCM_SHA384", 0x1302, "P-256", 0x17},
                      SuiteGroup{"TLS_CHACHA20_POLY1305_SHA256", 0x1303, "X25519", 0x1d},
                      SuiteGroup{"TLS_CHACHA20_POLY1305_SHA256", 0x1303, "P-256", 0x17}));

TEST(TlsServer, RsaPssCertificate) {
  static Identity rsa(true);
  const TlsServerConfig config = BaseConfig(rsa);
  Pair pair(config, {}, rsa);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_TRUE(pair.ServerSends(Pattern(100)));
}

TEST(TlsServer, HelloRetryRequest) {
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}) {
    TlsServerConfig config = BaseConfig();
    config.groups = {NamedGroup::kSecp256r1};  // the client's first share is X25519
    ClientOptions opt;
    opt.suites = suite;
    opt.groups = "X25519:P-256";
    Pair pair(config, opt);
    ASSERT_TRUE(pair.Handshake()) << suite;
    EXPECT_EQ(pair.server().group(), 0x17);
    // The client's first flight held one ClientHello with an X25519 share only; after the
    // HelloRetryRequest it sent a second one.
    EXPECT_TRUE(pair.ClientSends(Pattern(1000)));
    EXPECT_TRUE(pair.ServerSends(Pattern(1000)));
  }
}

TEST(TlsServer, NoCommonGroupFails) {
  TlsServerConfig config = BaseConfig();
  config.groups = {NamedGroup::kSecp256r1};
  ClientOptions opt;
  opt.groups = "X25519";
  Pair pair(config, opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kHandshakeFailure);
}

TEST(TlsServer, AlpnAndSni) {
  TlsServerConfig config = BaseConfig();
  const std::string_view names[] = {"h2", "http/1.1"};
  config.alpn_wire = EncodeAlpn(names);
  struct Case {
    std::vector<std::string_view> client;
    const char* want;
  };
  for (const Case& c : {Case{{"http/1.1"}, "http/1.1"}, Case{{"http/1.1", "h2"}, "h2"},
                        Case{{}, ""}}) {
    ClientOptions opt;
    opt.sni = "www.example.com";
    opt.alpn = EncodeAlpn(c.client);
    Pair pair(config, opt);
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    EXPECT_EQ(pair.server().alpn(), c.want);
    EXPECT_EQ(pair.server().sni(), "www.example.com");
    const unsigned char* sel = nullptr;
    unsigned sel_len = 0;
    SSL_get0_alpn_selected(pair.ssl(), &sel, &sel_len);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sel), sel_len), c.want);
  }
  // No overlap: no_application_protocol (RFC 7301 3.2).
  ClientOptions opt;
  const std::string_view other[] = {"spdy/3"};
  opt.alpn = EncodeAlpn(other);
  Pair pair(config, opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kNoApplicationProtocol);
}

TEST(TlsServer, NoSniNoAlpn) {
  const TlsServerConfig config = BaseConfig();
  Pair pair(config, {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().sni(), "");
  EXPECT_EQ(pair.server().alpn(), "");
}

TEST(TlsServer, KeyUpdateFromClient) {
  const TlsServerConfig config = BaseConfig();
  Pair pair(config, {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  for (const int type : {SSL_KEY_UPDATE_NOT_REQUESTED, SSL_KEY_UPDATE_REQUESTED,
                         SSL_KEY_UPDATE_REQUESTED, SSL_KEY_UPDATE_NOT_REQUESTED}) {
    const uint32_t before = pair.server().session_state().key_updates_received;
    const TrafficKey write_before = pair.server().session_state().write_key;
    ASSERT_EQ(SSL_key_update(pair.ssl(), type), 1);
    ASSERT_TRUE(pair.ClientSends(Pattern(500)));  // the KeyUpdate goes out before the data
    EXPECT_EQ(pair.server().session_state().key_updates_received, before + 1);
    const bool rekeyed = std::memcmp(write_before.key.data(),
                                     pair.server().session_state().write_key.key.data(),
                                     write_before.key.size()) != 0;
    EXPECT_EQ(rekeyed, type == SSL_KEY_UPDATE_REQUESTED);
    // The client reads our records, so it followed our KeyUpdate, if any.
    ASSERT_TRUE(pair.ServerSends(Pattern(700)));
  }
}

TEST(TlsServer, KeyUpdateFloodHitsTheBudget) {
  TlsServerConfig config = BaseConfig();
  config.max_key_update_credit = 3;
  Pair pair(config, {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  bool failed = false;
  for (int i = 0; i < 10 && !failed; ++i) {
    ASSERT_EQ(SSL_key_update(pair.ssl(), SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    ASSERT_EQ(SSL_do_handshake(pair.ssl()), 1);  // sends the KeyUpdate
    failed = pair.Pump() == TlsStatus::kFailed;
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(pair.server().alert_sent(), Alert::kUnexpectedMessage);
  EXPECT_EQ(pair.server().session_state().key_updates_received, 3u);
}

TEST(TlsServer, HandshakeOneByteAtATime) {
  const TlsServerConfig config = BaseConfig();
  ClientOptions opt;
  opt.groups = "X25519:P-256";
  Pair pair(config, opt);
  ASSERT_TRUE(pair.Handshake(/*chunk=*/1));
  EXPECT_TRUE(pair.ClientSends(Pattern(3000)));
  EXPECT_TRUE(pair.ServerSends(Pattern(3000)));
}

TEST(TlsServer, EveryFlippedByteOfAnAppRecord) {
  const TlsServerConfig config = BaseConfig();
  Pair pair(config, {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  // Capture one sealed record from the client without giving it to the server.
  const Bytes msg = Pattern(64);
  ASSERT_EQ(SSL_write(pair.ssl(), msg.data(), static_cast<int>(msg.size())), 64);
  const size_t before = pair.captured().size();
  const auto saved = std::make_unique<TlsServerState>(pair.server().session_state());
  ASSERT_EQ(pair.Pump(), TlsStatus::kOk);
  const Bytes record(pair.captured().begin() + static_cast<long>(before), pair.captured().end());
  ASSERT_EQ(record.size(), 5 + 64 + 1 + 16u);
  for (size_t i = 0; i < record.size(); ++i) {
    Bytes bad = record;
    bad[i] ^= 0x01;
    TlsServer s(config, pair.ctx(), *saved);
    VecSink out, app;
    const TlsStatus st = s.Input(bad, out, app);
    EXPECT_TRUE(app.data.empty()) << i;
    if (i >= kRecordHeaderBytes || i == 2) {  // body, tag, or the AAD's version byte
      EXPECT_EQ(st, TlsStatus::kFailed) << i;
      EXPECT_EQ(s.alert_sent(), Alert::kBadRecordMac) << i;
    } else {
      EXPECT_NE(st, TlsStatus::kClosed) << i;  // another alert, or waiting for more bytes
    }
  }
  // And the unmodified record still opens on a copy.
  TlsServer s(config, pair.ctx(), *saved);
  VecSink out, app;
  EXPECT_EQ(s.Input(record, out, app), TlsStatus::kOk);
  EXPECT_EQ(app.data, msg);
}

// A ClientHello record from a real libssl client, captured before any server sees it.
Bytes CaptureClientHello() {
  const TlsServerConfig config = BaseConfig();
  Pair pair(config, {});
  (void)SSL_do_handshake(pair.ssl());
  (void)pair.Pump();
  return pair.captured();
}

Bytes Feed(const Bytes& in, std::optional<Alert>& alert) {
  const TlsServerConfig config = BaseConfig();
  auto ctx = CryptoContext::Create();
  auto s = std::make_unique<TlsServer>(config, *ctx);
  VecSink out, app;
  (void)s->Input(in, out, app);
  alert = s->alert_sent();
  return out.data;
}

TEST(TlsServer, TruncatedOrGarbageClientHello) {
  const Bytes ch = CaptureClientHello();
  ASSERT_GT(ch.size(), 100u);
  ASSERT_EQ(ch[5], 1);  // handshake type client_hello
  // Truncate the body at several points, fixing up the record and handshake lengths so
  // that the message is whole but its contents end early.
  for (size_t cut : {size_t{1}, size_t{2}, size_t{10}, size_t{35}, size_t{40}, ch.size() - 20}) {
    const size_t body = ch.size() - 9 - cut;
    Bytes t(ch.begin(), ch.begin() + static_cast<long>(9 + body));
    t[3] = static_cast<uint8_t>((body + 4) >> 8);
    t[4] = static_cast<uint8_t>(body + 4);
    t[6] = 0;
    t[7] = static_cast<uint8_t>(body >> 8);
    t[8] = static_cast<uint8_t>(body);
    std::optional<Alert> alert;
    const Bytes out = Feed(t, alert);
    EXPECT_EQ(alert, Alert::kDecodeError) << cut;
    // A plaintext fatal alert record.
    EXPECT_EQ(out, (Bytes{21, 3, 3, 0, 2, 2, 50})) << cut;
  }
  Bytes garbage = {22, 3, 1, 0, 40, 1, 0, 0, 36};
  for (int i = 0; i < 36; ++i) garbage.push_back(0xff);
  std::optional<Alert> alert;
  (void)Feed(garbage, alert);
  EXPECT_EQ(alert, Alert::kDecodeError);
  // Not TLS at all.
  const std::string http = "GET / HTTP/1.1\r\n\r\n";
  (void)Feed(Bytes(http.begin(), http.end()), alert);
  EXPECT_EQ(alert, Alert::kUnexpectedMessage);
  // An oversized handshake message.
  const Bytes huge = {22, 3, 1, 0, 4, 1, 0x01, 0, 0};
  (void)Feed(huge, alert);
  EXPECT_EQ(alert, Alert::kDecodeError);
}

// Appends `count` empty extensions of `type` to a captured ClientHello record.
Bytes WithExtraExtensions(Bytes ch, uint16_t type, int count) {
  size_t off = 9 + 2 + 32;
  off += 1 + ch[off];                                   // legacy_session_id
  off += 2 + (size_t{ch[off]} << 8 | ch[off + 1]);      // cipher_suites
  off += 1 + ch[off];                                   // legacy_compression_methods
  const size_t add = 4 * static_cast<size_t>(count);
  auto bump16 = [&](size_t at) {
    const size_t v = (size_t{ch[at]} << 8 | ch[at + 1]) + add;
    ch[at] = static_cast<uint8_t>(v >> 8);
    ch[at + 1] = static_cast<uint8_t>(v);
  };
  bump16(3);    // record length
  bump16(7);    // handshake length (low 16 of 24 bits; a ClientHello is < 64 KiB)
  bump16(off);  // extensions block
  for (int i = 0; i < count; ++i) {
    ch.insert(ch.end(), {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), 0, 0});
  }
  return ch;
}

TEST(TlsServer, DuplicateExtensionIsIllegal) {
  const Bytes ch = CaptureClientHello();
  std::optional<Alert> alert;
  (void)Feed(WithExtraExtensions(ch, 0x7a7a, 1), alert);  // an unknown extension is fine
  EXPECT_FALSE(alert.has_value());
  (void)Feed(WithExtraExtensions(ch, 0x7a7a, 2), alert);  // twice is not (RFC 8446 4.2)
  EXPECT_EQ(alert, Alert::kIllegalParameter);
}

TEST(TlsServer, Tls12OnlyClientGetsProtocolVersion) {
  const TlsServerConfig config = BaseConfig();
  ClientOptions opt;
  opt.tls12_only = true;
  Pair pair(config, opt);
  EXPECT_FALSE(pair.Handshake());
  EXPECT_EQ(pair.server().alert_sent(), Alert::kProtocolVersion);
}

TEST(TlsServer, CloseNotifyFromClient) {
  const TlsServerConfig config = BaseConfig();
  Pair pair(config, {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  ASSERT_TRUE(pair.ClientSends(Pattern(10)));
  EXPECT_EQ(SSL_shutdown(pair.ssl()), 0);  // close_notify sent, none received yet
  EXPECT_EQ(pair.Pump(), TlsStatus::kClosed);
  EXPECT_EQ(pair.server().alert_received(), Alert::kCloseNotify);
  // Half-close: we may still send, then close our side.
  EXPECT_TRUE(pair.ServerSends(Pattern(10)));
  EXPECT_EQ(pair.server().Close(pair.out()), TlsStatus::kClosed);
  pair.FlushToClient();
  EXPECT_EQ(SSL_shutdown(pair.ssl()), 1);
  EXPECT_EQ(pair.server().state(), HsState::kClosed);
  EXPECT_FALSE(pair.server().alert_sent().has_value());
}

TEST(TlsServer, CloseNotifyFromServer) {
  const TlsServerConfig config = BaseConfig();
  Pair pair(config, {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.server().Close(pair.out()), TlsStatus::kClosed);
  pair.FlushToClient();
  uint8_t b;
  EXPECT_EQ(SSL_read(pair.ssl(), &b, 1), 0);
  EXPECT_EQ(SSL_get_error(pair.ssl(), 0), SSL_ERROR_ZERO_RETURN);
  EXPECT_EQ(SSL_shutdown(pair.ssl()), 1);
  EXPECT_EQ(pair.Pump(), TlsStatus::kClosed);
  EXPECT_EQ(pair.server().state(), HsState::kClosed);
}

TEST(TlsServer, StateMovesByMemcpy) {
  const TlsServerConfig config = BaseConfig();
  ClientOptions opt;
  opt.suites = "TLS_CHACHA20_POLY1305_SHA256";
  Pair pair(config, opt);
  // Mid-handshake: after the server flight, before the client Finished.
  ASSERT_EQ(SSL_do_handshake(pair.ssl()), -1);
  (void)pair.Pump();
  ASSERT_EQ(pair.server().state(), HsState::kExpectClientFinished);
  auto image = std::make_unique<TlsServerState>();
  std::memcpy(static_cast<void*>(image.get()), &pair.server().session_state(), sizeof(*image));
  pair.ReplaceServer(std::make_unique<TlsServer>(config, pair.ctx(), *image));
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  ASSERT_TRUE(pair.ClientSends(Pattern(5000)));
  // Mid-session, with a partial record in flight: half of a record reaches the first
  // server, the rest reaches its copy.
  const Bytes msg = Pattern(3000);
  ASSERT_EQ(SSL_write(pair.ssl(), msg.data(), static_cast<int>(msg.size())), 3000);
  Bytes buf(1 << 16);
  BIO* from_client = SSL_get_wbio(pair.ssl());
  const int n = BIO_read(from_client, buf.data(), static_cast<int>(buf.size()));
  ASSERT_GT(n, 100);
  VecSink app1;
  ASSERT_EQ(pair.server().Input({buf.data(), 100}, pair.out(), app1), TlsStatus::kOk);
  std::memcpy(static_cast<void*>(image.get()), &pair.server().session_state(), sizeof(*image));
  pair.ReplaceServer(std::make_unique<TlsServer>(config, pair.ctx(), *image));
  VecSink app2;
  ASSERT_EQ(pair.server().Input({buf.data() + 100, static_cast<size_t>(n) - 100}, pair.out(), app2),
            TlsStatus::kOk);
  EXPECT_TRUE(app1.data.empty());
  EXPECT_EQ(app2.data, msg);
  ASSERT_TRUE(pair.ServerSends(Pattern(4000)));
  ASSERT_EQ(SSL_key_update(pair.ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
  ASSERT_TRUE(pair.ClientSends(Pattern(10)));
  ASSERT_TRUE(pair.ServerSends(Pattern(10)));
}

TEST(TlsServer, InjectedRandomness) {
  TlsServerConfig config = BaseConfig();
  uint8_t counter = 0;
  config.random = &CounterRandom;
  config.random_ctx = &counter;
  Pair pair(config, {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  // X25519 private key took bytes 0..31, so ServerHello.random is 32..63.
  EXPECT_EQ(counter, 64);
}

}  // namespace
}  // namespace baton::crypto::tls
