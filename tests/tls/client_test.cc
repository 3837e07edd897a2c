// Our TlsClient against OpenSSL's libssl as the server (memory BIOs on the server side,
// bytes shuttled by the test), and against our own TlsServer, in memory (STYLE.md 18).

#include "crypto/tls/client.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "crypto/key_schedule.h"
#include "crypto/tls/server.h"

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

Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 13 + 5);
  return b;
}

// ---------------------------------------------------------------------------------------
// Keys and certificates, made with libcrypto in the test.

enum class KeyType { kP256, kP384, kRsa2048, kEd25519 };

EVP_PKEY* CachedKey(KeyType t) {
  static EVP_PKEY* keys[4] = {};
  EVP_PKEY*& k = keys[static_cast<int>(t)];
  if (k == nullptr) {
    switch (t) {
      case KeyType::kP256: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
      case KeyType::kP384: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
      case KeyType::kRsa2048: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}); break;
      case KeyType::kEd25519: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    }
  }
  return k;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// A certificate for `key`, signed by `issuer_key` (self-signed when `issuer` is null).
X509Ptr MakeCert(EVP_PKEY* key, const char* cn, const char* san, X509* issuer, EVP_PKEY* issuer_key,
                 bool ca) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(x, key);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    EXPECT_NE(e, nullptr) << value;
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san != nullptr) add(NID_subject_alt_name, san);
  // Ed25519 signs without a separate digest.
  const EVP_MD* md = EVP_PKEY_is_a(issuer_key, "ED25519") == 1 ? nullptr : EVP_sha256();
  EXPECT_GT(X509_sign(x, issuer_key, md), 0);
  return X509Ptr(x);
}

Bytes Der(X509* x) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// A server identity: key, leaf (and issuer, if not self-signed).
struct Identity {
  EVP_PKEY* key = nullptr;
  X509Ptr leaf;
  X509Ptr issuer;  // null: self-signed
};

const Identity& SelfSigned(KeyType t) {
  static std::map<KeyType, Identity> ids;
  Identity& id = ids[t];
  if (!id.leaf) {
    id.key = CachedKey(t);
    id.leaf = MakeCert(id.key, "baton self-signed", "DNS:self.test", nullptr, id.key, false);
  }
  return id;
}

struct Ca {
  EVP_PKEY* key = CachedKey(KeyType::kP384);
  X509Ptr cert = MakeCert(key, "baton test CA", nullptr, nullptr, key, true);
};
const Ca& TestCa() {
  static Ca ca;
  return ca;
}

// A P-256 leaf for "server.test", issued by the test CA.
const Identity& CaIssued() {
  static Identity id = [] {
    Identity i;
    i.key = CachedKey(KeyType::kP256);
    i.leaf = MakeCert(i.key, "server.test", "DNS:server.test,IP:192.0.2.7", TestCa().cert.get(),
                      TestCa().key, false);
    return i;
  }();
  return id;
}

// Counter randomness for the client (an injectable source, like the product's).
bool CounterRandom(void* ctx, uint8_t* out, size_t len) noexcept {
  auto* counter = static_cast<uint8_t*>(ctx);
  for (size_t i = 0; i < len; ++i) out[i] = (*counter)++;
  return true;
}

// ---------------------------------------------------------------------------------------
// libssl as the server

struct ServerOptions {
  const char* suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
  const char* groups = "X25519:P-256";
  const Identity* id = nullptr;     // default: SelfSigned(kP256)
  bool send_issuer = false;         // put the issuer in the chain
  const char* alpn_pick = nullptr;  // the server selects this name, offered or not
  int verify_client = SSL_VERIFY_NONE;
  int num_tickets = 2;
  const char* sigalgs = nullptr;    // server-side sigalgs list, to force a scheme
};

// Keylog lines from libssl, by label, for tests that re-encrypt a tampered flight.
std::map<std::string, std::string>& Keylog() {
  static std::map<std::string, std::string> log;
  return log;
}

void KeylogCallback(const SSL* /*ssl*/, const char* line) {
  const std::string l(line);
  const size_t sp1 = l.find(' '), sp2 = l.rfind(' ');
  Keylog()[l.substr(0, sp1)] = l.substr(sp2 + 1);
}

int AlpnSelect(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
               const unsigned char* /*in*/, unsigned /*inlen*/, void* arg) {
  const char* pick = static_cast<const char*>(arg);
  *out = reinterpret_cast<const unsigned char*>(pick);
  *outlen = static_cast<unsigned char>(std::strlen(pick));
  return SSL_TLSEXT_ERR_OK;
}

class LibsslServer {
 public:
  explicit LibsslServer(const ServerOptions& opt) {
    const Identity& id = opt.id != nullptr ? *opt.id : SelfSigned(KeyType::kP256);
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    EXPECT_EQ(SSL_CTX_set_ciphersuites(ctx_, opt.suites), 1);
    EXPECT_EQ(SSL_CTX_use_certificate(ctx_, id.leaf.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx_, id.key), 1);
    if (opt.send_issuer && id.issuer) {
      EXPECT_EQ(SSL_CTX_add1_chain_cert(ctx_, id.issuer.get()), 1);
    }
    if (opt.alpn_pick != nullptr) {
      SSL_CTX_set_alpn_select_cb(ctx_, AlpnSelect, const_cast<char*>(opt.alpn_pick));
    }
    SSL_CTX_set_verify(ctx_, opt.verify_client, nullptr);
    SSL_CTX_set_num_tickets(ctx_, static_cast<size_t>(opt.num_tickets));
    SSL_CTX_set_keylog_callback(ctx_, KeylogCallback);
    if (opt.sigalgs != nullptr) {
      EXPECT_EQ(SSL_CTX_set1_sigalgs_list(ctx_, opt.sigalgs), 1);
    }
    ssl_ = SSL_new(ctx_);
    EXPECT_EQ(SSL_set1_groups_list(ssl_, opt.groups), 1);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_accept_state(ssl_);
  }
  ~LibsslServer() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ERR_clear_error();
  }
  void Feed(ByteView b) {
    if (!b.empty()) BIO_write(in_, b.data(), static_cast<int>(b.size()));
  }
  Bytes Drain() {
    Bytes all;
    std::array<uint8_t, 1 << 16> buf;
    while (true) {
      const int n = BIO_read(out_, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      all.insert(all.end(), buf.begin(), buf.begin() + n);
    }
    return all;
  }
  SSL* ssl() { return ssl_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

TlsClientConfig BaseConfig() {
  TlsClientConfig c;
  c.server_name = "self.test";
  return c;
}

// Our client and a libssl server, joined by the test.
class Pair {
 public:
  Pair(const TlsClientConfig& config, const ServerOptions& opt)
      : config_(config), ctx_(CryptoContext::Create()), server_(opt) {
    Keylog().clear();
    client_ = std::make_unique<TlsClient>(config_, *ctx_);
  }

  // Moves server output to the client, `chunk` bytes at a time (0: all at once), through
  // `tamper` when set. Returns the last client status.
  TlsStatus ToClient(size_t chunk = 0) {
    Bytes b = server_.Drain();
    if (tamper_) tamper_(b);
    TlsStatus st = TlsStatus::kOk;
    const size_t step = chunk == 0 ? std::max<size_t>(b.size(), 1) : chunk;
    for (size_t off = 0; off < b.size(); off += step) {
      st = client_->Input({b.data() + off, std::min(step, b.size() - off)}, out_, app_);
    }
    return st;
  }
  void ToServer() {
    server_.Feed(out_.data);
    out_.data.clear();
  }

  bool Handshake(size_t chunk = 0) {
    if (client_->Start(out_) != TlsStatus::kOk) return Failed("Start");
    for (int i = 0; i < 20; ++i) {
      ToServer();
      const int r = SSL_do_handshake(server_.ssl());
      server_error_ = r == 1 ? 0 : SSL_get_error(server_.ssl(), r);
      if (server_error_ == SSL_ERROR_SSL) {
        ERR_error_string_n(ERR_peek_error(), server_text_, sizeof(server_text_));
        ERR_clear_error();
      }
      (void)ToClient(chunk);
      if (r == 1 && client_->connected()) return true;
      if ((r != 1 && server_error_ != SSL_ERROR_WANT_READ) ||
          client_->state() == ClientHsState::kClosed) {
        ToServer();  // our alert, if any
        return Failed("handshake");
      }
    }
    return Failed("no progress");
  }
  bool Failed(const std::string& what) {
    failure_ = what + ": client state " + std::to_string(static_cast<int>(client_->state()));
    if (client_->alert_sent()) failure_ += ", sent alert " + std::to_string(static_cast<int>(*client_->alert_sent()));
    if (client_->alert_received()) {
      failure_ += ", received alert " + std::to_string(static_cast<int>(*client_->alert_received()));
    }
    failure_ += ", server: SSL_get_error " + std::to_string(server_error_) + " " + server_text_;
    return false;
  }
  const std::string& failure() const { return failure_; }

  // Client -> server: the server reads it all back.
  bool ClientSends(const Bytes& data) {
    if (client_->WriteApp(data, out_) != TlsStatus::kOk) return false;
    ToServer();
    Bytes got(data.size() + 1);
    size_t off = 0;
    while (off < data.size()) {
      const int n = SSL_read(server_.ssl(), got.data() + off, static_cast<int>(got.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    got.resize(off);
    (void)ToClient();  // e.g. a KeyUpdate the server answered with
    return got == data;
  }

  // Server -> client: everything arrives in the app sink.
  bool ServerSends(const Bytes& data) {
    app_.data.clear();
    size_t off = 0;
    while (off < data.size()) {
      const int n = SSL_write(server_.ssl(), data.data() + off, static_cast<int>(data.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    if (ToClient() == TlsStatus::kFailed) return false;
    ToServer();
    return app_.data == data;
  }

  TlsClient& client() { return *client_; }
  LibsslServer& server() { return server_; }
  CryptoContext& ctx() { return *ctx_; }
  VecSink& out() { return out_; }
  VecSink& app() { return app_; }
  void set_tamper(std::function<void(Bytes&)> f) { tamper_ = std::move(f); }
  void ReplaceClient(std::unique_ptr<TlsClient> c) { client_ = std::move(c); }

 private:
  TlsClientConfig config_;  // a copy: the client keeps a pointer to it
  std::optional<CryptoContext> ctx_;
  LibsslServer server_;
  std::unique_ptr<TlsClient> client_;
  VecSink out_, app_;
  std::function<void(Bytes&)> tamper_;
  std::string failure_;
  int server_error_ = 0;
  char server_text_[256] = {};
};

// ---------------------------------------------------------------------------------------
// Handshakes with libssl: every suite x group x server key type

struct Combo {
  const char* suite;
  uint16_t suite_wire;
  NamedGroup group;
  const char* group_name;
  KeyType key;
};

class LibsslHandshake : public ::testing::TestWithParam<Combo> {};

TEST_P(LibsslHandshake, CompletesAndCarriesData) {
  const Combo& p = GetParam();
  TlsClientConfig config = BaseConfig();
  // The tested group first, so that its share is in the first ClientHello (no HRR).
  config.groups = {p.group, p.group == NamedGroup::kX25519 ? NamedGroup::kSecp256r1 : NamedGroup::kX25519};
  ServerOptions opt;
  opt.suites = p.suite;
  opt.groups = p.group_name;
  opt.id = &SelfSigned(p.key);
  Pair pair(config, opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.client().suite(), p.suite_wire);
  EXPECT_EQ(pair.client().group(), static_cast<uint16_t>(p.group));
  EXPECT_FALSE(pair.client().retried());
  for (const size_t n : {size_t{1}, size_t{16384}, size_t{1} << 20}) {
    EXPECT_TRUE(pair.ClientSends(Pattern(n))) << n;
    EXPECT_TRUE(pair.ServerSends(Pattern(n))) << n;
  }
  EXPECT_FALSE(pair.client().alert_sent().has_value());
  // libssl sent its two tickets after our Finished; the latest is kept.
  EXPECT_EQ(pair.client().session_state().tickets_received, 2u);
  ASSERT_NE(pair.client().ticket(), nullptr);
  EXPECT_EQ(pair.client().ticket()->suite, p.suite_wire);
  EXPECT_GT(pair.client().ticket()->ticket_len, 0);
  EXPECT_EQ(pair.client().ticket()->psk.len, p.suite_wire == 0x1302 ? 48 : 32);
}

std::vector<Combo> AllCombos() {
  std::vector<Combo> out;
  for (const auto& [suite, wire] : {std::pair{"TLS_AES_128_GCM_SHA256", 0x1301},
                                    std::pair{"TLS_AES_256_GCM_SHA384", 0x1302},
                                    std::pair{"TLS_CHACHA20_POLY1305_SHA256", 0x1303}}) {
    for (const auto& [group, name] : {std::pair{NamedGroup::kX25519, "X25519"},
                                      std::pair{NamedGroup::kSecp256r1, "P-256"}}) {
      for (const KeyType k : {KeyType::kP256, KeyType::kRsa2048, KeyType::kEd25519}) {
        out.push_back({suite, static_cast<uint16_t>(wire), group, name, k});
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(SuitesGroupsKeys, LibsslHandshake, ::testing::ValuesIn(AllCombos()));

TEST(TlsClient, SignatureSchemes) {
  struct Case {
    KeyType key;
    std::vector<uint16_t> offered;
    const char* server_sigalgs;
  };
  // ECDSA P-384 (ecdsa_secp384r1_sha384) and RSA-PSS-RSAE-SHA384, besides the defaults.
  for (const Case& c :
       {Case{KeyType::kP384, {0x0503}, nullptr},
        Case{KeyType::kRsa2048, {0x0805, 0x0401}, nullptr},
        Case{KeyType::kRsa2048, {0x0804, 0x0805, 0x0401}, "rsa_pss_rsae_sha384"},
        Case{KeyType::kEd25519, {0x0807}, nullptr}}) {
    TlsClientConfig config = BaseConfig();
    config.signature_schemes = c.offered;
    ServerOptions opt;
    opt.id = &SelfSigned(c.key);
    opt.sigalgs = c.server_sigalgs;
    Pair pair(config, opt);
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    EXPECT_TRUE(pair.ServerSends(Pattern(100)));
  }
}

TEST(TlsClient, HelloRetryRequest) {
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}) {
    const TlsClientConfig config = BaseConfig();  // shares X25519 only
    ServerOptions opt;
    opt.suites = suite;
    opt.groups = "P-256";
    Pair pair(config, opt);
    ASSERT_TRUE(pair.Handshake()) << suite << ": " << pair.failure();
    EXPECT_TRUE(pair.client().retried());
    EXPECT_EQ(pair.client().group(), 0x17);
    EXPECT_TRUE(pair.client().session_state().ccs_sent);
    EXPECT_TRUE(pair.ClientSends(Pattern(1000)));
    EXPECT_TRUE(pair.ServerSends(Pattern(1000)));
  }
}

// libssl's stateless HelloRetryRequest (SSL_stateless) carries a cookie that holds the
// hash of our first ClientHello; libssl checks that we echoed it and that our transcript
// (message_hash, RFC 8446 4.4.1) matches.
int CookieGenerate(SSL* /*ssl*/, unsigned char* cookie, size_t* len) {
  static const char kCookie[] = "baton-test-cookie";
  std::memcpy(cookie, kCookie, sizeof(kCookie));
  *len = sizeof(kCookie);
  return 1;
}
int CookieVerify(SSL* /*ssl*/, const unsigned char* cookie, size_t len) {
  static const char kCookie[] = "baton-test-cookie";
  return len == sizeof(kCookie) && std::memcmp(cookie, kCookie, len) == 0 ? 1 : 0;
}

TEST(TlsClient, StatelessRetryWithCookie) {
  for (const char* groups : {"X25519", "P-256"}) {  // P-256: the cookie and a new share
    ServerOptions opt;
    opt.groups = groups;
    Pair pair(BaseConfig(), opt);
    SSL_CTX* sctx = SSL_get_SSL_CTX(pair.server().ssl());
    SSL_CTX_set_stateless_cookie_generate_cb(sctx, CookieGenerate);
    SSL_CTX_set_stateless_cookie_verify_cb(sctx, CookieVerify);
    ASSERT_EQ(pair.client().Start(pair.out()), TlsStatus::kOk);
    pair.ToServer();
    ASSERT_EQ(SSL_stateless(pair.server().ssl()), 0) << groups;  // HelloRetryRequest sent
    ASSERT_EQ(pair.ToClient(), TlsStatus::kOk);
    EXPECT_TRUE(pair.client().retried());
    pair.ToServer();
    const int accepted = SSL_stateless(pair.server().ssl());
    char err[256] = {};
    ERR_error_string_n(ERR_peek_error(), err, sizeof(err));
    ASSERT_EQ(accepted, 1) << groups << ": " << err;  // cookie accepted
    for (int i = 0; i < 5 && !pair.client().connected(); ++i) {
      (void)SSL_do_handshake(pair.server().ssl());
      ASSERT_NE(pair.ToClient(), TlsStatus::kFailed) << groups;
      pair.ToServer();
    }
    ASSERT_TRUE(pair.client().connected()) << groups;
    ASSERT_EQ(SSL_do_handshake(pair.server().ssl()), 1) << groups;
    EXPECT_EQ(pair.client().group(), std::strcmp(groups, "P-256") == 0 ? 0x17 : 0x1d);
    EXPECT_TRUE(pair.client().session_state().ccs_sent);  // before our Finished
    EXPECT_TRUE(pair.ClientSends(Pattern(100)));
    EXPECT_TRUE(pair.ServerSends(Pattern(100)));
  }
}

TEST(TlsClient, TwoSharesNoRetry) {
  TlsClientConfig config = BaseConfig();
  config.key_shares = 2;
  ServerOptions opt;
  opt.groups = "P-256";
  Pair pair(config, opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_FALSE(pair.client().retried());
  EXPECT_EQ(pair.client().group(), 0x17);
}

TEST(TlsClient, NoMiddleboxCompat) {
  TlsClientConfig config = BaseConfig();
  config.middlebox_compat = false;
  ServerOptions opt;
  opt.groups = "P-256";  // HRR too
  Pair pair(config, opt);
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_FALSE(pair.client().session_state().ccs_sent);
  EXPECT_TRUE(pair.ServerSends(Pattern(10)));
}

TEST(TlsClient, Alpn) {
  const std::string_view names[] = {"h2", "http/1.1"};
  TlsClientConfig config = BaseConfig();
  config.alpn_wire = EncodeAlpn(names);
  {
    ServerOptions opt;
    opt.alpn_pick = "http/1.1";
    Pair pair(config, opt);
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    EXPECT_EQ(pair.client().alpn(), "http/1.1");
  }
  {
    ServerOptions opt;  // a server without ALPN ignores the extension
    Pair pair(config, opt);
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    EXPECT_EQ(pair.client().alpn(), "");
  }
  {
    ServerOptions opt;
    opt.alpn_pick = "spdy/3";  // not offered
    Pair pair(config, opt);
    EXPECT_FALSE(pair.Handshake());
    EXPECT_EQ(pair.client().alert_sent(), Alert::kIllegalParameter);
  }
  {
    TlsClientConfig no_alpn = BaseConfig();
    ServerOptions opt;
    opt.alpn_pick = "h2";  // libssl only answers when the client offered; nothing happens
    Pair pair(no_alpn, opt);
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    EXPECT_EQ(pair.client().alpn(), "");
  }
}

TEST(TlsClient, ServerKeyUpdate) {
  for (const int type : {SSL_KEY_UPDATE_NOT_REQUESTED, SSL_KEY_UPDATE_REQUESTED}) {
    Pair pair(BaseConfig(), {});
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    ASSERT_TRUE(pair.ServerSends(Pattern(10)));
    const TrafficKey write_before = pair.client().session_state().write_key;
    const TrafficKey read_before = pair.client().session_state().read_key;
    ASSERT_EQ(SSL_key_update(pair.server().ssl(), type), 1);
    EXPECT_TRUE(pair.ServerSends(Pattern(5000))) << type;  // ServerSends forwards our answer
    EXPECT_EQ(pair.client().session_state().key_updates_received, 1u);
    EXPECT_NE(std::memcmp(&read_before, &pair.client().session_state().read_key, sizeof(TrafficKey)), 0);
    const bool write_changed =
        std::memcmp(&write_before, &pair.client().session_state().write_key, sizeof(TrafficKey)) != 0;
    EXPECT_EQ(write_changed, type == SSL_KEY_UPDATE_REQUESTED);
    EXPECT_TRUE(pair.ClientSends(Pattern(7000)));
    EXPECT_TRUE(pair.ServerSends(Pattern(7000)));
  }
}

TEST(TlsClient, ClientKeyUpdate) {
  for (const bool request : {false, true}) {
    Pair pair(BaseConfig(), {});
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    ASSERT_EQ(pair.client().KeyUpdate(request, pair.out()), TlsStatus::kOk);
    EXPECT_TRUE(pair.ClientSends(Pattern(3000)));
    EXPECT_TRUE(pair.ServerSends(Pattern(3000)));  // libssl answers a request before its data
    EXPECT_EQ(pair.client().session_state().key_updates_received, request ? 1u : 0u);
  }
}

TEST(TlsClient, KeyUpdateFloodHitsTheBudget) {
  TlsClientConfig config = BaseConfig();
  config.max_key_update_credit = 4;  // two go to libssl's tickets
  Pair pair(config, {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  ASSERT_TRUE(pair.ServerSends(Pattern(10)));
  // libssl sends one KeyUpdate per SSL_write; write thrice.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(SSL_key_update(pair.server().ssl(), SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    ASSERT_GT(SSL_write(pair.server().ssl(), "x", 1), 0);
  }
  EXPECT_EQ(pair.ToClient(), TlsStatus::kFailed);
  EXPECT_EQ(pair.client().alert_sent(), Alert::kUnexpectedMessage);
  EXPECT_EQ(pair.client().session_state().glitches, 1u);
}

TEST(TlsClient, CloseNotifyFromClient) {
  Pair pair(BaseConfig(), {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(pair.client().Close(pair.out()), TlsStatus::kClosed);
  pair.ToServer();
  uint8_t b;
  EXPECT_EQ(SSL_read(pair.server().ssl(), &b, 1), 0);
  EXPECT_EQ(SSL_get_error(pair.server().ssl(), 0), SSL_ERROR_ZERO_RETURN);
  EXPECT_EQ(pair.client().WriteApp(Pattern(1), pair.out()), TlsStatus::kFailed);
  // Half-close: the server may still send, and we still read.
  EXPECT_TRUE(pair.ServerSends(Pattern(100)));
  EXPECT_EQ(SSL_shutdown(pair.server().ssl()), 1);
  EXPECT_EQ(pair.ToClient(), TlsStatus::kClosed);
  EXPECT_EQ(pair.client().state(), ClientHsState::kClosed);
  EXPECT_FALSE(pair.client().alert_sent().has_value());
}

TEST(TlsClient, CloseNotifyFromServer) {
  Pair pair(BaseConfig(), {});
  ASSERT_TRUE(pair.Handshake()) << pair.failure();
  EXPECT_EQ(SSL_shutdown(pair.server().ssl()), 0);
  EXPECT_EQ(pair.ToClient(), TlsStatus::kClosed);
  EXPECT_EQ(pair.client().alert_received(), Alert::kCloseNotify);
  EXPECT_EQ(pair.client().state(), ClientHsState::kConnected);  // we may still write
  EXPECT_TRUE(pair.ClientSends(Pattern(100)));
  EXPECT_EQ(pair.client().Close(pair.out()), TlsStatus::kClosed);
  EXPECT_EQ(pair.client().state(), ClientHsState::kClosed);
  pair.ToServer();
  EXPECT_EQ(SSL_shutdown(pair.server().ssl()), 1);
}

TEST(TlsClient, HandshakeOneByteAtATime) {
  for (const char* groups : {"X25519", "P-256"}) {  // P-256: with HelloRetryRequest
    ServerOptions opt;
    opt.groups = groups;
    Pair pair(BaseConfig(), opt);
    ASSERT_TRUE(pair.Handshake(1)) << pair.failure();
    EXPECT_TRUE(pair.ClientSends(Pattern(100)));
    EXPECT_TRUE(pair.ServerSends(Pattern(20000)));
  }
}

TEST(TlsClient, CertificateRequestGetsAnEmptyCertificate) {
  {
    ServerOptions opt;
    opt.verify_client = SSL_VERIFY_PEER;
    Pair pair(BaseConfig(), opt);
    ASSERT_TRUE(pair.Handshake()) << pair.failure();
    EXPECT_TRUE(pair.client().session_state().cert_requested);
    EXPECT_TRUE(pair.ClientSends(Pattern(10)));
  }
  {
    ServerOptions opt;
    opt.verify_client = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    Pair pair(BaseConfig(), opt);
    EXPECT_FALSE(pair.Handshake());
    (void)pair.ToClient();
    EXPECT_EQ(pair.client().alert_received(), static_cast<Alert>(116));  // certificate_required
    EXPECT_FALSE(pair.client().alert_sent().has_value());
  }
}

// ---------------------------------------------------------------------------------------
// Tampering with the server's flight

// Walks the server's first flight: plaintext records pass; records protected with the
// server handshake key are opened, handed to `edit` (handshake messages of the record's
// content), and sealed again under the same sequence number.
void ReencryptFlight(CryptoContext& ctx, AeadAlg alg, HashAlg hash, Bytes& flight,
                     const std::function<void(Bytes& content)>& edit) {
  const std::string hex = Keylog()["SERVER_HANDSHAKE_TRAFFIC_SECRET"];
  ASSERT_FALSE(hex.empty());
  Secret secret;
  secret.hash = hash;
  secret.len = static_cast<uint8_t>(hex.size() / 2);
  for (size_t i = 0; i < secret.len; ++i) secret.bytes[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  TrafficKey raw;
  ASSERT_EQ(DeriveTrafficKey(alg, secret, raw), CryptoStatus::kOk);
  AeadKey key;
  ASSERT_EQ(ctx.Expand(raw, key), CryptoStatus::kOk);
  uint64_t seq = 0;
  Bytes out;
  size_t off = 0;
  while (off + kRecordHeaderBytes <= flight.size()) {
    const size_t len = static_cast<size_t>(flight[off + 3] << 8 | flight[off + 4]);
    Bytes rec(flight.begin() + off, flight.begin() + off + kRecordHeaderBytes + len);
    off += rec.size();
    if (rec[0] != static_cast<uint8_t>(ContentType::kApplicationData)) {
      out.insert(out.end(), rec.begin(), rec.end());
      continue;
    }
    ContentType inner;
    MutByteView content;
    ASSERT_EQ(Unprotect(ctx, key, seq, rec, inner, content), RecordStatus::kOk);
    Bytes plain(content.begin(), content.end());
    edit(plain);
    Bytes sealed(kMaxRecordBytes);
    size_t written = 0;
    ASSERT_EQ(Protect(ctx, key, seq, inner, plain, 0, sealed, written), RecordStatus::kOk);
    out.insert(out.end(), sealed.begin(), sealed.begin() + written);
    ++seq;
  }
  flight = out;
}

// Flips one byte of each handshake message of `type` in a record's content (libssl puts
// each handshake message in its own record): `at` bytes into the body, or, when
// `from_end`, `at` bytes before its end.
std::function<void(Bytes&)> FlipInMessage(HsType type, size_t at, bool from_end) {
  return [=](Bytes& content) {
    size_t off = 0;
    while (off + 4 <= content.size()) {
      const size_t len = static_cast<size_t>(content[off + 1] << 16 | content[off + 2] << 8 | content[off + 3]);
      if (content[off] == static_cast<uint8_t>(type)) {
        content[off + 4 + (from_end ? len - at : at)] ^= 0x01;
      }
      off += 4 + len;
    }
  };
}

TEST(TlsClient, TamperedFlight) {
  struct Case {
    const char* name;
    std::function<void(Bytes&)> edit;  // null: flip a ciphertext byte instead
    Alert want;
  };
  const Case cases[] = {
      {"ciphertext byte", nullptr, Alert::kBadRecordMac},
      {"signature byte", FlipInMessage(HsType::kCertificateVerify, 5, true), Alert::kDecryptError},
      {"Finished byte", FlipInMessage(HsType::kFinished, 1, true), Alert::kDecryptError},
      // ctx length (1) + list length (3) + entry length (3): the DER's first byte.
      {"certificate DER", FlipInMessage(HsType::kCertificate, 7, false), Alert::kBadCertificate},
      // 0x0403/0x0804 -> 0x0402/0x0805: a scheme not offered or not fitting the key.
      {"signature scheme", FlipInMessage(HsType::kCertificateVerify, 1, false), Alert::kIllegalParameter},
      {"signature length", FlipInMessage(HsType::kCertificateVerify, 2, false), Alert::kDecodeError},
  };
  for (const Case& c : cases) {
    for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}) {
      const bool sha384 = std::strcmp(suite, "TLS_AES_256_GCM_SHA384") == 0;
      ServerOptions opt;
      opt.suites = suite;
      Pair pair(BaseConfig(), opt);
      CryptoContext& ctx = pair.ctx();
      bool first = true;
      pair.set_tamper([&](Bytes& b) {
        if (!first || b.empty()) return;
        first = false;
        if (!c.edit) {
          b[b.size() - 3] ^= 0x80;  // inside the last record's tag
          return;
        }
        ReencryptFlight(ctx, sha384 ? AeadAlg::kAes256Gcm : AeadAlg::kAes128Gcm,
                        sha384 ? HashAlg::kSha384 : HashAlg::kSha256, b, c.edit);
      });
      EXPECT_FALSE(pair.Handshake()) << c.name;
      EXPECT_EQ(pair.client().alert_sent(), c.want) << c.name << " " << suite << ": " << pair.failure();
      EXPECT_FALSE(pair.client().connected());
      // The server got our alert, encrypted under the client handshake key.
      EXPECT_EQ(SSL_do_handshake(pair.server().ssl()), -1);
      ERR_clear_error();
    }
  }
}

TEST(TlsClient, EveryFlippedByteOfTheServerHello) {
  // Each flip must end in an alert from us (often much later: a changed random or key
  // gives other keys and bad_record_mac), never a crash or a connection.
  Pair probe(BaseConfig(), {});
  ASSERT_EQ(probe.client().Start(probe.out()), TlsStatus::kOk);
  probe.ToServer();
  ASSERT_EQ(SSL_do_handshake(probe.server().ssl()), -1);
  const Bytes flight = probe.server().Drain();
  const size_t sh_len = kRecordHeaderBytes + static_cast<size_t>(flight[3] << 8 | flight[4]);
  std::map<int, int> alerts;
  for (size_t i = 0; i < sh_len; ++i) {
    Pair pair(BaseConfig(), {});
    ASSERT_EQ(pair.client().Start(pair.out()), TlsStatus::kOk);
    pair.ToServer();
    (void)SSL_do_handshake(pair.server().ssl());
    pair.set_tamper([i](Bytes& b) {
      if (i < b.size()) b[i] ^= 0x01;
    });
    const TlsStatus st = pair.ToClient();
    if (i == 2) {
      // legacy_record_version's low byte "MUST be ignored for all purposes" (RFC 8446 5.1).
      EXPECT_EQ(st, TlsStatus::kOk);
      EXPECT_TRUE(pair.client().connected());
      continue;
    }
    EXPECT_EQ(st, TlsStatus::kFailed) << "byte " << i;
    EXPECT_TRUE(pair.client().alert_sent().has_value()) << "byte " << i;
    if (pair.client().alert_sent()) ++alerts[static_cast<int>(*pair.client().alert_sent())];
  }
  // The header and the fields with rules give their own alerts; the random, the key share
  // and the session id bytes fail later on the transcript or the keys.
  EXPECT_GT(alerts[static_cast<int>(Alert::kBadRecordMac)], 0);
  EXPECT_GT(alerts[static_cast<int>(Alert::kIllegalParameter)], 0);
}

// ---------------------------------------------------------------------------------------
// Chain verification

struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;

StorePtr StoreWith(X509* anchor) {
  StorePtr s(X509_STORE_new());
  if (anchor != nullptr) X509_STORE_add_cert(s.get(), anchor);
  return s;
}

TEST(TlsClient, ChainVerification) {
  const StorePtr with_ca = StoreWith(TestCa().cert.get());
  const StorePtr without_ca = StoreWith(nullptr);
  const StorePtr other_anchor = StoreWith(SelfSigned(KeyType::kP256).leaf.get());
  struct Case {
    const char* name;
    X509_STORE* store;
    const char* host;
    bool check_host;
    time_t when;
    std::optional<Alert> want;  // nullopt: success
  };
  const time_t in_a_year = time(nullptr) + 365 * 86400;
  for (const Case& c : {Case{"good", with_ca.get(), "server.test", true, 0, std::nullopt},
                        Case{"good, by IP", with_ca.get(), "192.0.2.7", true, 0, std::nullopt},
                        Case{"no host check", with_ca.get(), "other.test", false, 0, std::nullopt},
                        Case{"wrong host", with_ca.get(), "other.test", true, 0, Alert::kBadCertificate},
                        Case{"wrong IP", with_ca.get(), "192.0.2.8", true, 0, Alert::kBadCertificate},
                        Case{"no CA", without_ca.get(), "server.test", true, 0, kAlertUnknownCa},
                        Case{"other anchor", other_anchor.get(), "server.test", true, 0, kAlertUnknownCa},
                        Case{"expired", with_ca.get(), "server.test", true, in_a_year,
                             kAlertCertificateExpired}}) {
    TlsClientConfig config = BaseConfig();
    config.trust = c.store;
    config.server_name = c.host;
    config.check_host_name = c.check_host;
    config.verify_time_s = c.when;
    ServerOptions opt;
    opt.id = &CaIssued();
    Pair pair(config, opt);
    const bool ok = pair.Handshake();
    EXPECT_EQ(ok, !c.want.has_value()) << c.name << ": " << pair.failure();
    if (c.want) {
      EXPECT_EQ(pair.client().alert_sent(), c.want) << c.name;
    } else {
      EXPECT_TRUE(pair.ServerSends(Pattern(10))) << c.name;
    }
  }
}

TEST(TlsClient, ChainWithIntermediate) {
  // CA -> intermediate -> leaf; the server sends leaf + intermediate.
  EVP_PKEY* mid_key = CachedKey(KeyType::kRsa2048);
  Identity id;
  id.key = CachedKey(KeyType::kEd25519);
  id.issuer = MakeCert(mid_key, "baton intermediate", nullptr, TestCa().cert.get(), TestCa().key, true);
  id.leaf = MakeCert(id.key, "deep.test", "DNS:deep.test", id.issuer.get(), mid_key, false);
  const StorePtr store = StoreWith(TestCa().cert.get());
  TlsClientConfig config = BaseConfig();
  config.trust = store.get();
  config.server_name = "deep.test";
  for (const bool send_issuer : {true, false}) {
    ServerOptions opt;
    opt.id = &id;
    opt.send_issuer = send_issuer;
    Pair pair(config, opt);
    EXPECT_EQ(pair.Handshake(), send_issuer) << pair.failure();
    if (!send_issuer) {
      EXPECT_EQ(pair.client().alert_sent(), kAlertUnknownCa);
    }
  }
}

TEST(TlsClient, ConfigErrorsFailAtStart) {
  const StorePtr store = StoreWith(TestCa().cert.get());
  std::optional<CryptoContext> ctx = CryptoContext::Create();
  std::vector<TlsClientConfig> bad(4, BaseConfig());
  bad[0].suites = {};
  bad[1].groups = {};
  bad[2].signature_schemes = {0x0401};  // certificates only
  bad[3].trust = store.get();
  bad[3].server_name = "";
  for (const TlsClientConfig& c : bad) {
    TlsClient client(c, *ctx);
    VecSink out;
    EXPECT_EQ(client.Start(out), TlsStatus::kFailed);
    EXPECT_TRUE(out.data.empty());
    EXPECT_EQ(client.state(), ClientHsState::kClosed);
  }
}

// ---------------------------------------------------------------------------------------
// Crafted server messages

// A plaintext handshake record holding `msg`.
Bytes Record(ContentType type, const Bytes& body) {
  Bytes r = {static_cast<uint8_t>(type), 3, 3, static_cast<uint8_t>(body.size() >> 8),
             static_cast<uint8_t>(body.size())};
  r.insert(r.end(), body.begin(), body.end());
  return r;
}

struct Ext {
  uint16_t type;
  Bytes data;
};

Bytes U16(uint16_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes ServerHelloMsg(ByteView random, ByteView session_id, uint16_t suite, const std::vector<Ext>& exts,
                     bool truncate = false) {
  Bytes body = U16(0x0303);
  body.insert(body.end(), random.begin(), random.end());
  body.push_back(static_cast<uint8_t>(session_id.size()));
  body.insert(body.end(), session_id.begin(), session_id.end());
  body = Cat({body, U16(suite), {0}});
  Bytes e;
  for (const Ext& x : exts) e = Cat({e, U16(x.type), U16(static_cast<uint16_t>(x.data.size())), x.data});
  body = Cat({body, U16(static_cast<uint16_t>(e.size())), e});
  if (truncate) body.resize(body.size() - 3);
  const size_t n = body.size();
  return Cat({{static_cast<uint8_t>(HsType::kServerHello), 0, static_cast<uint8_t>(n >> 8),
               static_cast<uint8_t>(n)},
              body});
}

Bytes X25519Public() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  Bytes pub(32);
  size_t len = 32;
  EVP_PKEY_get_raw_public_key(k, pub.data(), &len);
  EVP_PKEY_free(k);
  return pub;
}

class Crafted : public ::testing::Test {
 public:
  void SetUp() override {
    ctx_ = CryptoContext::Create();
    config_ = BaseConfig();
    config_.random = CounterRandom;
    config_.random_ctx = &counter_;
    client_ = std::make_unique<TlsClient>(config_, *ctx_);
    ASSERT_EQ(client_->Start(out_), TlsStatus::kOk);
    sid_.assign(client_->session_state().session_id.begin(), client_->session_state().session_id.end());
  }
  TlsStatus Feed(const Bytes& bytes) { return client_->Input(bytes, out_, app_); }
  // The last record we sent, if it is a plaintext alert: its description.
  std::optional<Alert> PlainAlertSent() const {
    const Bytes& d = out_.data;
    if (d.size() < 7 || d[d.size() - 7] != static_cast<uint8_t>(ContentType::kAlert)) return std::nullopt;
    return static_cast<Alert>(d.back());
  }
  Bytes ShareExt(uint16_t group, const Bytes& key) {
    return Cat({U16(group), U16(static_cast<uint16_t>(key.size())), key});
  }
  // Public: the case table's lambdas read them.

  uint8_t counter_ = 0;
  std::optional<CryptoContext> ctx_;
  TlsClientConfig config_;
  std::unique_ptr<TlsClient> client_;
  VecSink out_, app_;
  Bytes sid_;
  const Bytes random_ = Bytes(32, 0x42);
  const Ext versions_{43, U16(0x0304)};
};

TEST_F(Crafted, ServerHelloDefects) {
  const Bytes good_key = X25519Public();
  struct Case {
    const char* name;
    std::function<Bytes(Crafted&)> make;
    Alert want;
  };
  const Bytes hrr(kHelloRetryRandom.begin(), kHelloRetryRandom.end());
  const std::vector<Case> cases = {
      {"no supported_versions",
       [&](Crafted& t) { return ServerHelloMsg(t.random_, t.sid_, 0x1301, {{51, t.ShareExt(0x1d, good_key)}}); },
       Alert::kProtocolVersion},
      {"TLS 1.2 in supported_versions",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301, {{43, U16(0x0303)}, {51, t.ShareExt(0x1d, good_key)}});
       },
       Alert::kIllegalParameter},
      {"session id not echoed",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, Bytes(32, 9), 0x1301, {t.versions_, {51, t.ShareExt(0x1d, good_key)}});
       },
       Alert::kIllegalParameter},
      {"suite not offered",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1304, {t.versions_, {51, t.ShareExt(0x1d, good_key)}});
       },
       Alert::kIllegalParameter},
      {"share for a group without our share",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301, {t.versions_, {51, t.ShareExt(0x17, Bytes(65, 4))}});
       },
       Alert::kIllegalParameter},
      {"no key_share",
       [&](Crafted& t) { return ServerHelloMsg(t.random_, t.sid_, 0x1301, {t.versions_}); },
       Alert::kMissingExtension},
      {"short X25519 key",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301, {t.versions_, {51, t.ShareExt(0x1d, Bytes(31, 9))}});
       },
       Alert::kIllegalParameter},
      {"all-zero X25519 key (small order)",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301, {t.versions_, {51, t.ShareExt(0x1d, Bytes(32, 0))}});
       },
       Alert::kIllegalParameter},
      {"duplicate extension",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301,
                               {t.versions_, t.versions_, {51, t.ShareExt(0x1d, good_key)}});
       },
       Alert::kIllegalParameter},
      {"unknown extension",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301,
                               {t.versions_, {0x1234, {}}, {51, t.ShareExt(0x1d, good_key)}});
       },
       Alert::kUnsupportedExtension},
      {"ALPN in ServerHello",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301,
                               {t.versions_, {16, {0, 3, 2, 'h', '2'}}, {51, t.ShareExt(0x1d, good_key)}});
       },
       Alert::kIllegalParameter},
      {"pre_shared_key not offered",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301, {t.versions_, {41, U16(0)}, {51, t.ShareExt(0x1d, good_key)}});
       },
       Alert::kUnsupportedExtension},
      {"truncated",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301, {t.versions_, {51, t.ShareExt(0x1d, good_key)}}, true);
       },
       Alert::kDecodeError},
      {"HRR for a group we shared",
       [&](Crafted& t) { return ServerHelloMsg(hrr, t.sid_, 0x1301, {t.versions_, {51, U16(0x1d)}}); },
       Alert::kIllegalParameter},
      {"HRR for a group not offered",
       [&](Crafted& t) { return ServerHelloMsg(hrr, t.sid_, 0x1301, {t.versions_, {51, U16(0x18)}}); },
       Alert::kIllegalParameter},
      {"HRR that changes nothing",
       [&](Crafted& t) { return ServerHelloMsg(hrr, t.sid_, 0x1301, {t.versions_}); },
       Alert::kIllegalParameter},
      {"cookie in a ServerHello",
       [&](Crafted& t) {
         return ServerHelloMsg(t.random_, t.sid_, 0x1301, {t.versions_, {44, {0, 1, 7}}, {51, t.ShareExt(0x1d, good_key)}});
       },
       Alert::kIllegalParameter},
      {"EncryptedExtensions in the clear",
       [&](Crafted&) { return Bytes{static_cast<uint8_t>(HsType::kEncryptedExtensions), 0, 0, 2, 0, 0}; },
       Alert::kUnexpectedMessage},
  };
  for (const Case& c : cases) {
    SetUp();
    const Bytes msg = c.make(*this);
    out_.data.clear();
    EXPECT_EQ(Feed(Record(ContentType::kHandshake, msg)), TlsStatus::kFailed) << c.name;
    EXPECT_EQ(client_->alert_sent(), c.want) << c.name;
    EXPECT_EQ(PlainAlertSent(), c.want) << c.name;  // no keys yet: in the clear
  }
}

TEST_F(Crafted, HelloRetryWithCookieThenSecondRetry) {
  const Bytes hrr(kHelloRetryRandom.begin(), kHelloRetryRandom.end());
  const Bytes cookie = {'b', 'a', 't', 'o', 'n', '-', 'c', 'o', 'o', 'k', 'i', 'e'};
  out_.data.clear();
  ASSERT_EQ(Feed(Record(ContentType::kHandshake,
                        ServerHelloMsg(hrr, sid_, 0x1302,
                                       {versions_, {51, U16(0x17)},
                                        {44, Cat({U16(static_cast<uint16_t>(cookie.size())), cookie})}}))),
            TlsStatus::kOk);
  EXPECT_TRUE(client_->retried());
  EXPECT_EQ(client_->session_state().suite, 0x1302);
  // We sent a ClientHello with the cookie and one P-256 share; with a cookie the
  // compatibility change_cipher_spec waits for our encrypted flight.
  ASSERT_GE(out_.data.size(), kRecordHeaderBytes);
  EXPECT_EQ(out_.data[0], static_cast<uint8_t>(ContentType::kHandshake));
  EXPECT_FALSE(client_->session_state().ccs_sent);
  const Bytes ch2(out_.data.begin() + kRecordHeaderBytes, out_.data.end());
  ClientHello parsed;
  ASSERT_TRUE(ParseClientHello(ByteView(ch2).subspan(kHandshakeHeaderBytes), parsed).ok);
  ASSERT_EQ(parsed.share_count, 1u);
  EXPECT_EQ(parsed.shares[0].group, 0x17);
  EXPECT_EQ(parsed.shares[0].key.size(), 65u);
  EXPECT_TRUE(parsed.has_cookie);
  EXPECT_NE(std::search(ch2.begin(), ch2.end(), cookie.begin(), cookie.end()), ch2.end());
  EXPECT_EQ(Bytes(parsed.session_id.begin(), parsed.session_id.end()), sid_);
  // A tolerated change_cipher_spec, then a second HelloRetryRequest: unexpected_message.
  ASSERT_EQ(Feed(Record(ContentType::kChangeCipherSpec, {1})), TlsStatus::kOk);
  EXPECT_EQ(Feed(Record(ContentType::kHandshake, ServerHelloMsg(hrr, sid_, 0x1302, {versions_, {51, U16(0x1d)}}))),
            TlsStatus::kFailed);
  EXPECT_EQ(client_->alert_sent(), Alert::kUnexpectedMessage);
}

TEST_F(Crafted, ServerHelloAfterRetryMustKeepSuiteAndGroup) {
  const Bytes hrr(kHelloRetryRandom.begin(), kHelloRetryRandom.end());
  ASSERT_EQ(Feed(Record(ContentType::kHandshake, ServerHelloMsg(hrr, sid_, 0x1301, {versions_, {51, U16(0x17)}}))),
            TlsStatus::kOk);
  EXPECT_EQ(Feed(Record(ContentType::kHandshake,
                        ServerHelloMsg(random_, sid_, 0x1303, {versions_, {51, ShareExt(0x1d, X25519Public())}}))),
            TlsStatus::kFailed);
  EXPECT_EQ(client_->alert_sent(), Alert::kIllegalParameter);
  SetUp();
  ASSERT_EQ(Feed(Record(ContentType::kHandshake, ServerHelloMsg(hrr, sid_, 0x1301, {versions_, {51, U16(0x17)}}))),
            TlsStatus::kOk);
  EXPECT_EQ(Feed(Record(ContentType::kHandshake,
                        ServerHelloMsg(random_, sid_, 0x1301, {versions_, {51, ShareExt(0x1d, X25519Public())}}))),
            TlsStatus::kFailed);
  EXPECT_EQ(client_->alert_sent(), Alert::kIllegalParameter);
}

TEST_F(Crafted, RecordLevelDefects) {
  struct Case {
    const char* name;
    Bytes bytes;
    std::optional<Alert> sent;
  };
  for (const Case& c :
       {Case{"HTTP instead of TLS", {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', '4'}, Alert::kUnexpectedMessage},
        Case{"SSLv2-style header", {0x80, 0x2e, 0x01, 0x03, 0x01, 0, 0}, Alert::kUnexpectedMessage},
        Case{"bad record version", {22, 4, 3, 0, 1, 2}, Alert::kProtocolVersion},
        Case{"protected record before ServerHello", Record(ContentType::kApplicationData, Bytes(40, 1)),
             Alert::kUnexpectedMessage},
        Case{"change_cipher_spec of 2", Record(ContentType::kChangeCipherSpec, {2}), Alert::kUnexpectedMessage},
        Case{"empty handshake record", {22, 3, 3, 0, 0}, Alert::kUnexpectedMessage},
        Case{"oversized plaintext record", {22, 3, 3, 0x40, 0x01}, Alert::kRecordOverflow},
        Case{"huge handshake message", Record(ContentType::kHandshake, {2, 0x01, 0, 0}), Alert::kDecodeError},
        Case{"alert of 3 bytes", Record(ContentType::kAlert, {2, 40, 0}), Alert::kDecodeError},
        Case{"server's fatal alert", Record(ContentType::kAlert, {2, 40}), std::nullopt}}) {
    SetUp();
    out_.data.clear();
    EXPECT_EQ(Feed(c.bytes), TlsStatus::kFailed) << c.name;
    EXPECT_EQ(client_->alert_sent(), c.sent) << c.name;
    EXPECT_EQ(client_->state(), ClientHsState::kClosed) << c.name;
  }
  EXPECT_EQ(client_->alert_received(), Alert::kHandshakeFailure);
}

TEST_F(Crafted, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    SetUp();
    Bytes b(1 + rng() % 300);
    for (uint8_t& x : b) x = static_cast<uint8_t>(rng());
    if (i % 2 == 0 && b.size() > 5) {  // a plausible handshake record over random content
      b[0] = 22;
      b[1] = 3;
      b[2] = 3;
      b[3] = static_cast<uint8_t>((b.size() - 5) >> 8);
      b[4] = static_cast<uint8_t>(b.size() - 5);
      if (i % 4 == 0) b[5] = static_cast<uint8_t>(HsType::kServerHello);
    }
    const TlsStatus st = Feed(b);
    EXPECT_NE(st, TlsStatus::kClosed);
    if (st == TlsStatus::kFailed) {
      EXPECT_TRUE(client_->alert_sent() || client_->alert_received());
    }
    EXPECT_FALSE(client_->connected());
  }
}

// ---------------------------------------------------------------------------------------
// Our client against our own server

struct ServerIdentity {
  std::vector<Credential> creds;
  explicit ServerIdentity(KeyType t, EVP_PKEY* cert_key = nullptr) {
    const Identity& id = SelfSigned(t);
    Credential c;
    c.chain_der = {Der(id.leaf.get())};
    c.key = cert_key != nullptr ? cert_key : id.key;
    creds.push_back(std::move(c));
  }
};

// Both sides in memory. Step() moves one side's output to the other; with `move_states`
// each side is rebuilt from a memcpy of its state before every step.
class OwnPair {
 public:
  // The configs must outlive the pair.
  OwnPair(const TlsClientConfig& cc, const TlsServerConfig& sc)
      : cc_(cc), sc_(sc), cctx_(CryptoContext::Create()), sctx_(CryptoContext::Create()) {
    client_ = std::make_unique<TlsClient>(cc_, *cctx_);
    server_ = std::make_unique<TlsServer>(sc_, *sctx_);
  }

  void MoveStates() {
    // A byte image, as a replication record would carry it, into a fresh object on
    // another CryptoContext.
    auto cimg = std::make_unique<TlsClientState>();
    std::memcpy(static_cast<void*>(cimg.get()), &client_->session_state(), sizeof(TlsClientState));
    auto simg = std::make_unique<TlsServerState>();
    std::memcpy(static_cast<void*>(simg.get()), &server_->session_state(), sizeof(TlsServerState));
    std::swap(cctx_, cctx2_);
    std::swap(sctx_, sctx2_);
    if (!cctx_) cctx_ = CryptoContext::Create();
    if (!sctx_) sctx_ = CryptoContext::Create();
    client_ = std::make_unique<TlsClient>(cc_, *cctx_, *cimg);
    server_ = std::make_unique<TlsServer>(sc_, *sctx_, *simg);
    ++moves_;
  }

  // Runs the handshake; `chunk` bytes per Input call (0: all); states moved before every
  // Input call when `move_states`.
  bool Handshake(size_t chunk, bool move_states) {
    if (client_->Start(to_server_) != TlsStatus::kOk) return false;
    for (int round = 0; round < 10; ++round) {
      if (!Deliver(to_server_, chunk, move_states, true)) return false;
      if (!Deliver(to_client_, chunk, move_states, false)) return false;
      if (client_->connected() && server_->connected() && to_server_.data.empty() &&
          to_client_.data.empty()) {
        return true;
      }
      if (client_->state() == ClientHsState::kClosed || server_->state() == HsState::kClosed) return false;
    }
    return false;
  }

  bool Deliver(VecSink& from, size_t chunk, bool move_states, bool to_server) {
    const Bytes b = std::move(from.data);
    from.data.clear();
    const size_t step = chunk == 0 ? std::max<size_t>(b.size(), 1) : chunk;
    for (size_t off = 0; off < b.size(); off += step) {
      if (move_states) MoveStates();
      const ByteView piece(b.data() + off, std::min(step, b.size() - off));
      const TlsStatus st = to_server ? server_->Input(piece, to_client_, server_app_)
                                     : client_->Input(piece, to_server_, client_app_);
      if (st == TlsStatus::kFailed) return false;
    }
    return true;
  }

  bool Exchange(size_t n) {
    client_app_.data.clear();
    server_app_.data.clear();
    if (client_->WriteApp(Pattern(n), to_server_) != TlsStatus::kOk) return false;
    if (server_->WriteApp(Pattern(n + 1), to_client_) != TlsStatus::kOk) return false;
    return Deliver(to_server_, 0, false, true) && Deliver(to_client_, 0, false, false) &&
           server_app_.data == Pattern(n) && client_app_.data == Pattern(n + 1);
  }

  TlsClient& client() { return *client_; }
  TlsServer& server() { return *server_; }
  VecSink& to_server() { return to_server_; }
  VecSink& to_client() { return to_client_; }
  int moves() const { return moves_; }

 private:
  const TlsClientConfig& cc_;
  const TlsServerConfig& sc_;
  std::optional<CryptoContext> cctx_, sctx_, cctx2_, sctx2_;
  std::unique_ptr<TlsClient> client_;
  std::unique_ptr<TlsServer> server_;
  VecSink to_server_, to_client_, client_app_, server_app_;
  int moves_ = 0;
};

struct OwnCombo {
  CipherSuite suite;
  NamedGroup group;
};

class OwnServer : public ::testing::TestWithParam<OwnCombo> {};

TEST_P(OwnServer, HandshakeDataAndMovedStates) {
  const OwnCombo& p = GetParam();
  static ServerIdentity ecdsa(KeyType::kP256);
  TlsServerConfig sc;
  sc.credentials = ecdsa.creds;
  sc.suites = {p.suite};
  sc.groups = {p.group};
  const std::string_view names[] = {"h2"};
  sc.alpn_wire = EncodeAlpn(names);
  TlsClientConfig cc = BaseConfig();
  cc.alpn_wire = EncodeAlpn(names);
  for (const bool move : {false, true}) {
    for (const size_t chunk : {size_t{0}, size_t{1}, size_t{7}}) {
      if (!move && chunk != 0) continue;
      OwnPair pair(cc, sc);
      ASSERT_TRUE(pair.Handshake(chunk, move)) << "move " << move << " chunk " << chunk;
      EXPECT_EQ(pair.client().suite(), static_cast<uint16_t>(p.suite));
      EXPECT_EQ(pair.client().group(), static_cast<uint16_t>(p.group));
      EXPECT_EQ(pair.client().retried(), p.group == NamedGroup::kSecp256r1);  // we share X25519 first
      EXPECT_EQ(pair.client().alpn(), "h2");
      EXPECT_EQ(pair.server().sni(), "self.test");
      if (move) {
        EXPECT_GT(pair.moves(), chunk == 0 ? 2 : chunk == 1 ? 500 : 100);
      }
      for (const size_t n : {size_t{1}, size_t{16384}, size_t{1} << 20}) EXPECT_TRUE(pair.Exchange(n)) << n;
      // Both directions of KeyUpdate, then a moved state mid-session.
      ASSERT_EQ(pair.client().KeyUpdate(true, pair.to_server()), TlsStatus::kOk);
      EXPECT_TRUE(pair.Exchange(100));
      pair.MoveStates();
      EXPECT_TRUE(pair.Exchange(100));
      EXPECT_EQ(pair.server().session_state().key_updates_received, 1u);
      EXPECT_EQ(pair.client().session_state().key_updates_received, 1u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    SuitesGroups, OwnServer,
    ::testing::Values(OwnCombo{CipherSuite::kAes128GcmSha256, NamedGroup::kX25519},
                      OwnCombo{CipherSuite::kAes128GcmSha256, NamedGroup::kSecp256r1},
                      OwnCombo{CipherSuite::kAes256GcmSha384, NamedGroup::kX25519},
                      OwnCombo{CipherSuite::kAes256GcmSha384, NamedGroup::kSecp256r1},
                      OwnCombo{CipherSuite::kChacha20Poly1305Sha256, NamedGroup::kX25519},
                      OwnCombo{CipherSuite::kChacha20Poly1305Sha256, NamedGroup::kSecp256r1}));

TEST(TlsClient, OwnServerRsaAndWrongKey) {
  static ServerIdentity rsa(KeyType::kRsa2048);
  // The certificate's key is P-256 but the server signs with another P-256 key: the
  // CertificateVerify cannot verify (decrypt_error).
  static EVP_PKEY* other = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  static ServerIdentity mismatched(KeyType::kP256, other);
  const TlsClientConfig cc = BaseConfig();
  {
    TlsServerConfig sc;
    sc.credentials = rsa.creds;
    OwnPair pair(cc, sc);
    ASSERT_TRUE(pair.Handshake(0, false));
    EXPECT_TRUE(pair.Exchange(1000));
  }
  {
    TlsServerConfig sc;
    sc.credentials = mismatched.creds;
    OwnPair pair(cc, sc);
    EXPECT_FALSE(pair.Handshake(0, false));
    EXPECT_EQ(pair.client().alert_sent(), Alert::kDecryptError);
    // Our alert reaches the server, encrypted under the client handshake key.
    EXPECT_EQ(pair.server().Input(pair.to_server().data, pair.to_client(), pair.to_client()),
              TlsStatus::kFailed);
    EXPECT_EQ(pair.server().alert_received(), Alert::kDecryptError);
  }
}

// Post-handshake messages sealed with our TlsServer's current write key, as a server that
// means harm (or has a bug) would send them.
TEST(TlsClient, PostHandshakeDefects) {
  static ServerIdentity ecdsa(KeyType::kP256);
  TlsServerConfig sc;
  sc.credentials = ecdsa.creds;
  const TlsClientConfig cc = BaseConfig();
  struct Case {
    const char* name;
    ContentType type;
    Bytes content;
    std::optional<Alert> want;  // nullopt: accepted
  };
  const Bytes ticket_body = {0, 0, 0x1c, 0x20, 1, 2, 3, 4, 1, 9, 0, 3, 't', 'k', 't', 0, 0};
  auto msg = [](HsType t, const Bytes& body) {
    return Cat({{static_cast<uint8_t>(t), 0, static_cast<uint8_t>(body.size() >> 8),
                 static_cast<uint8_t>(body.size())},
                body});
  };
  const Case cases[] = {
      {"KeyUpdate value 2", ContentType::kHandshake, msg(HsType::kKeyUpdate, {2}), Alert::kIllegalParameter},
      {"KeyUpdate too long", ContentType::kHandshake, msg(HsType::kKeyUpdate, {0, 0}), Alert::kDecodeError},
      {"NewSessionTicket", ContentType::kHandshake, msg(HsType::kNewSessionTicket, ticket_body), std::nullopt},
      {"NewSessionTicket, empty ticket", ContentType::kHandshake,
       msg(HsType::kNewSessionTicket, {0, 0, 0, 1, 1, 2, 3, 4, 0, 0, 0, 0, 0}), Alert::kDecodeError},
      {"NewSessionTicket, trailing byte", ContentType::kHandshake,
       msg(HsType::kNewSessionTicket, Cat({ticket_body, {0}})), Alert::kDecodeError},
      {"NewSessionTicket, bad early_data", ContentType::kHandshake,
       msg(HsType::kNewSessionTicket,
           Cat({Bytes(ticket_body.begin(), ticket_body.end() - 2), {0, 5, 0, 42, 0, 1, 0}})),
       Alert::kDecodeError},
      {"CertificateRequest after the handshake", ContentType::kHandshake,
       msg(HsType::kCertificateRequest, {1, 7, 0, 0}), Alert::kUnexpectedMessage},
      {"a second Finished", ContentType::kHandshake, msg(HsType::kFinished, Bytes(32, 0)),
       Alert::kUnexpectedMessage},
      {"protected change_cipher_spec", ContentType::kChangeCipherSpec, {1}, Alert::kUnexpectedMessage},
      {"unknown inner type", static_cast<ContentType>(99), {1}, Alert::kUnexpectedMessage},
      {"empty application data", ContentType::kApplicationData, {}, std::nullopt},
  };
  for (const Case& c : cases) {
    OwnPair pair(cc, sc);
    ASSERT_TRUE(pair.Handshake(0, false)) << c.name;
    const TlsServerState& ss = pair.server().session_state();
    std::optional<CryptoContext> ctx = CryptoContext::Create();
    AeadKey key;
    ASSERT_EQ(ctx->Expand(ss.write_key, key), CryptoStatus::kOk);
    Bytes rec(kMaxRecordBytes);
    size_t written = 0;
    ASSERT_EQ(Protect(*ctx, key, ss.write_seq, c.type, c.content, 0, rec, written), RecordStatus::kOk);
    rec.resize(written);
    VecSink out, app;
    const TlsStatus st = pair.client().Input(rec, out, app);
    EXPECT_EQ(st, c.want ? TlsStatus::kFailed : TlsStatus::kOk) << c.name;
    EXPECT_EQ(pair.client().alert_sent(), c.want) << c.name;
    if (!c.want && c.type == ContentType::kHandshake) {
      ASSERT_NE(pair.client().ticket(), nullptr);
      EXPECT_EQ(pair.client().ticket()->lifetime_s, 7200u);
      EXPECT_EQ(pair.client().ticket()->age_add, 0x01020304u);
      EXPECT_EQ(pair.client().ticket()->ticket_len, 3);
    }
  }
}

TEST(ClientMessages, EncryptedExtensionsRules) {
  struct Case {
    const char* name;
    Bytes body;
    bool offered_alpn, offered_sni;
    std::optional<Alert> want;
  };
  const Case cases[] = {
      {"empty", {0, 0}, false, false, std::nullopt},
      {"ALPN", {0, 9, 0, 16, 0, 5, 0, 3, 2, 'h', '2'}, true, false, std::nullopt},
      {"ALPN not offered", {0, 9, 0, 16, 0, 5, 0, 3, 2, 'h', '2'}, false, false, Alert::kUnsupportedExtension},
      {"ALPN with two names", {0, 12, 0, 16, 0, 8, 0, 6, 2, 'h', '2', 2, 'h', '3'}, true, false, Alert::kDecodeError},
      {"SNI ack", {0, 4, 0, 0, 0, 0}, false, true, std::nullopt},
      {"SNI ack not offered", {0, 4, 0, 0, 0, 0}, false, false, Alert::kUnsupportedExtension},
      {"SNI ack with data", {0, 5, 0, 0, 0, 1, 0}, false, true, Alert::kDecodeError},
      {"duplicate", {0, 8, 0, 0, 0, 0, 0, 0, 0, 0}, false, true, Alert::kIllegalParameter},
      {"key_share", {0, 4, 0, 51, 0, 0}, false, false, Alert::kIllegalParameter},
      {"early_data", {0, 4, 0, 42, 0, 0}, false, false, Alert::kUnsupportedExtension},
      {"signature_algorithms", {0, 4, 0, 13, 0, 0}, false, false, Alert::kIllegalParameter},
      {"unknown", {0, 4, 0x12, 0x34, 0, 0}, false, false, Alert::kUnsupportedExtension},
      {"supported_groups", {0, 8, 0, 10, 0, 4, 0, 2, 0, 0x17}, false, false, std::nullopt},
      {"length past the end", {0, 9, 0, 0, 0, 0}, false, true, Alert::kDecodeError},
      {"trailing byte", {0, 0, 0}, false, false, Alert::kDecodeError},
  };
  for (const Case& c : cases) {
    EncryptedExtensionsView ee;
    const Step s = ParseEncryptedExtensions(c.body, c.offered_alpn, c.offered_sni, ee);
    EXPECT_EQ(s.ok, !c.want.has_value()) << c.name;
    if (c.want) {
      EXPECT_EQ(s.alert, *c.want) << c.name;
    }
  }
}

TEST(ClientMessages, CertificateAndRequestRules) {
  struct Case {
    const char* name;
    bool request;  // CertificateRequest, else Certificate
    Bytes body;
    std::optional<Alert> want;
  };
  const Case cases[] = {
      {"one entry", false, {0, 0, 0, 6, 0, 0, 1, 0x30, 0, 0}, std::nullopt},
      {"empty list parses (the client refuses it)", false, {0, 0, 0, 0}, std::nullopt},
      {"empty cert_data", false, {0, 0, 0, 5, 0, 0, 0, 0, 0}, Alert::kDecodeError},
      {"entry extension (unrequested OCSP)", false, {0, 0, 0, 10, 0, 0, 1, 0x30, 0, 4, 0, 5, 0, 0},
       Alert::kUnsupportedExtension},
      {"short list", false, {0, 0, 0, 9, 0, 0, 1, 0x30, 0, 0}, Alert::kDecodeError},
      {"request", true, {0, 0, 8, 0, 13, 0, 4, 0, 2, 4, 3}, std::nullopt},
      {"request without signature_algorithms", true, {0, 0, 4, 0x12, 0x34, 0, 0}, Alert::kMissingExtension},
      {"request, odd signature list", true, {0, 0, 7, 0, 13, 0, 3, 0, 1, 4}, Alert::kDecodeError},
  };
  for (const Case& c : cases) {
    Step s;
    if (c.request) {
      CertificateRequestView cr;
      s = ParseCertificateRequest(c.body, cr);
    } else {
      CertificateView cert;
      s = ParseCertificate(c.body, cert);
    }
    EXPECT_EQ(s.ok, !c.want.has_value()) << c.name;
    if (c.want) {
      EXPECT_EQ(s.alert, *c.want) << c.name;
    }
  }
}

TEST(TlsClient, InjectedRandomness) {
  // X25519 key, client random and session id come from the injected source: two clients
  // with the same source send the same ClientHello.
  std::optional<CryptoContext> ctx = CryptoContext::Create();
  Bytes hellos[2];
  for (Bytes& h : hellos) {
    uint8_t counter = 0;
    TlsClientConfig c = BaseConfig();
    c.random = CounterRandom;
    c.random_ctx = &counter;
    TlsClient client(c, *ctx);
    VecSink out;
    ASSERT_EQ(client.Start(out), TlsStatus::kOk);
    h = out.data;
    EXPECT_EQ(client.session_state().random[0], 0);
    EXPECT_EQ(client.session_state().session_id[0], 32);
  }
  EXPECT_EQ(hellos[0], hellos[1]);
}

TEST(TlsClient, StateIsAPlainValue) {
  static_assert(std::is_trivially_copyable_v<TlsClientState>);
  // For the record (docs/TLS.md): the size a replication record would carry today.
  RecordProperty("state_bytes", static_cast<int>(sizeof(TlsClientState)));
  EXPECT_LT(sizeof(TlsClientState), 40u * 1024);
}

}  // namespace
}  // namespace baton::crypto::tls
