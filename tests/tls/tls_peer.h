#pragma once

// Test harness shared by credentials_test, resumption_test and extensions_test: keys and
// certificates made with libcrypto, PEM text and files, and a libssl client joined in
// memory to our TlsServer (two memory BIOs; the test moves the bytes).

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/tls/server.h"

namespace baton::crypto::tls::peer {

using Bytes = std::vector<uint8_t>;

struct VecSink final : OutputSink {
  Bytes data;
  bool Append(ByteView b) noexcept override {
    data.insert(data.end(), b.begin(), b.end());
    return true;
  }
};

inline Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

// Wall clock in Unix ms: what libssl's ticket age is measured against.
inline uint64_t WallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

enum class KeyKind { kP256, kP384, kP521, kRsa1024, kRsa2048, kEd25519, kEd448 };

inline EVP_PKEY* NewKey(KeyKind kind) {
  switch (kind) {
    case KeyKind::kP256: return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    case KeyKind::kP384: return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
    case KeyKind::kP521: return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
    case KeyKind::kRsa1024: return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024});
    case KeyKind::kRsa2048: return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    case KeyKind::kEd25519: return EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    case KeyKind::kEd448: return EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448");
  }
  return nullptr;
}

// A key made once per kind for the whole test binary (RSA key generation is slow).
inline EVP_PKEY* CachedKey(KeyKind kind) {
  static EVP_PKEY* keys[7] = {};
  EVP_PKEY*& k = keys[static_cast<int>(kind)];
  if (k == nullptr) k = NewKey(kind);
  return k;
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// Makes a certificate for `pub`, signed by `issuer_key` (self-signed when `issuer` is
// null). `dns` become subjectAltName dNSNames (none: no SAN extension at all).
inline X509Ptr MakeCert(EVP_PKEY* pub, const std::string& cn, const std::vector<std::string>& dns,
                        X509* issuer, EVP_PKEY* issuer_key, bool is_ca, long serial = 1) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(x, pub);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    EXPECT_NE(e, nullptr) << value;
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  };
  add(NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add(NID_subject_key_identifier, "hash");
  if (issuer != nullptr || is_ca) add(NID_authority_key_identifier, "keyid:always");
  if (is_ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
  if (!dns.empty()) {
    std::string san;
    for (const std::string& d : dns) san += (san.empty() ? "DNS:" : ",DNS:") + d;
    add(NID_subject_alt_name, san);
  }
  EXPECT_GT(X509_sign(x, issuer_key, EVP_sha256()), 0);
  return X509Ptr(x);
}

inline Bytes Der(X509* x) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

inline std::string CertPem(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  std::string s(p, static_cast<size_t>(n));
  BIO_free(b);
  return s;
}

inline std::string KeyPem(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  std::string s(p, static_cast<size_t>(n));
  BIO_free(b);
  return s;
}

// A root CA (P-256) that issues leaf certificates, and optionally an intermediate.
struct TestCa {
  EVP_PKEY* key = nullptr;
  X509Ptr cert;
  TestCa() {
    key = NewKey(KeyKind::kP256);
    cert = MakeCert(key, "baton test root", {}, nullptr, key, true);
  }
  ~TestCa() { EVP_PKEY_free(key); }
};

inline TestCa& Ca() {
  static TestCa ca;
  return ca;
}

// A temporary directory, removed (with its files) at the end of the test binary's use.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/baton-tls-test-XXXXXX";
    const char* d = mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    path_ = d != nullptr ? d : "/tmp";
  }
  ~TempDir() {
    for (const std::string& f : files_) std::remove(f.c_str());
    rmdir(path_.c_str());
  }
  std::string Write(const std::string& name, const std::string& content) {
    const std::string p = path_ + "/" + name;
    std::FILE* f = std::fopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (f != nullptr) {
      std::fwrite(content.data(), 1, content.size(), f);
      std::fclose(f);
    }
    files_.push_back(p);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

// A leaf credential issued by Ca(), loaded back through the PEM loader.
inline Credential IssuedCredential(KeyKind kind, const std::vector<std::string>& dns,
                                   long serial = 2) {
  EVP_PKEY* k = CachedKey(kind);
  X509Ptr leaf = MakeCert(k, dns.empty() ? "no-san" : dns[0], dns, Ca().cert.get(), Ca().key,
                          false, serial);
  std::string error;
  std::optional<Credential> c = ParseCredential(CertPem(leaf.get()), KeyPem(k), error);
  EXPECT_TRUE(c.has_value()) << error;
  return c.value_or(Credential{});
}

// ---------------------------------------------------------------------------------------
// libssl client

struct ClientOptions {
  const char* suites = "TLS_AES_128_GCM_SHA256";
  const char* groups = "X25519";
  const char* sigalgs = nullptr;  // nullptr: libssl's default list
  const char* sni = nullptr;
  const char* verify_host = nullptr;  // checked against the leaf by libssl
  Bytes alpn;                         // wire form
  std::optional<uint16_t> record_size_limit;  // sent as a custom extension (RFC 8449)
  bool compat_mode = true;            // middlebox compatibility: non-empty session id
};

// A client SSL_CTX that trusts Ca() and keeps every session (ticket) it is given.
class ClientCtx {
 public:
  explicit ClientCtx(const ClientOptions& opt = {}) : opt_(opt) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    EXPECT_EQ(SSL_CTX_set_ciphersuites(ctx_, opt.suites), 1);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), Ca().cert.get());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!opt.compat_mode) SSL_CTX_clear_options(ctx_, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_set_app_data(ctx_, this);
    SSL_CTX_sess_set_new_cb(ctx_, [](SSL* ssl, SSL_SESSION* sess) -> int {
      auto* self = static_cast<ClientCtx*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
      self->sessions_.push_back(sess);
      return 1;  // we keep the reference
    });
    if (opt.record_size_limit) {
      EXPECT_EQ(SSL_CTX_add_custom_ext(
                    ctx_, 28, SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS,
                    &AddLimit, &FreeLimit, this, &ParseLimit, this),
                1);
    }
  }
  ~ClientCtx() {
    for (SSL_SESSION* s : sessions_) SSL_SESSION_free(s);
    SSL_CTX_free(ctx_);
  }
  ClientCtx(const ClientCtx&) = delete;
  ClientCtx& operator=(const ClientCtx&) = delete;

  SSL_CTX* get() { return ctx_; }
  const ClientOptions& options() const { return opt_; }
  std::vector<SSL_SESSION*>& sessions() { return sessions_; }
  // The record_size_limit the server put in EncryptedExtensions, if any.
  std::optional<uint16_t> server_limit;

 private:
  static int AddLimit(SSL*, unsigned int, unsigned int, const unsigned char** out, size_t* outlen,
                      X509*, size_t, int*, void* arg) {
    auto* self = static_cast<ClientCtx*>(arg);
    auto* buf = static_cast<unsigned char*>(OPENSSL_malloc(2));
    buf[0] = static_cast<unsigned char>(*self->opt_.record_size_limit >> 8);
    buf[1] = static_cast<unsigned char>(*self->opt_.record_size_limit);
    *out = buf;
    *outlen = 2;
    return 1;
  }
  static void FreeLimit(SSL*, unsigned int, unsigned int, const unsigned char* out, void*) {
    OPENSSL_free(const_cast<unsigned char*>(out));
  }
  static int ParseLimit(SSL*, unsigned int, unsigned int, const unsigned char* in, size_t inlen,
                        X509*, size_t, int*, void* arg) {
    if (inlen != 2) return 0;
    static_cast<ClientCtx*>(arg)->server_limit = static_cast<uint16_t>(in[0] << 8 | in[1]);
    return 1;
  }

  ClientOptions opt_;
  SSL_CTX* ctx_ = nullptr;
  std::vector<SSL_SESSION*> sessions_;
};

// One libssl client and our server, joined by the test.
class Pair {
 public:
  Pair(const TlsServerConfig& config, ClientCtx& cctx, SSL_SESSION* resume = nullptr,
       uint64_t now_ms = WallMs())
      : config_(&config), ctx_(CryptoContext::Create()), now_ms_(now_ms) {
    server_ = std::make_unique<TlsServer>(config, *ctx_);
    server_->set_now_ms(now_ms_);
    const ClientOptions& opt = cctx.options();
    ssl_ = SSL_new(cctx.get());
    EXPECT_EQ(SSL_set1_groups_list(ssl_, opt.groups), 1);
    if (opt.sigalgs != nullptr) {
      EXPECT_EQ(SSL_set1_sigalgs_list(ssl_, opt.sigalgs), 1);
    }
    if (opt.sni != nullptr) SSL_set_tlsext_host_name(ssl_, opt.sni);
    if (opt.verify_host != nullptr) {
      EXPECT_EQ(SSL_set1_host(ssl_, opt.verify_host), 1);
    }
    if (!opt.alpn.empty()) {
      EXPECT_EQ(SSL_set_alpn_protos(ssl_, opt.alpn.data(), static_cast<unsigned>(opt.alpn.size())),
                0);
    }
    if (resume != nullptr) {
      EXPECT_EQ(SSL_set_session(ssl_, resume), 1);
    }
    to_client_ = BIO_new(BIO_s_mem());
    from_client_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(to_client_, -1);
    BIO_set_mem_eof_return(from_client_, -1);
    SSL_set_bio(ssl_, to_client_, from_client_);
    SSL_set_connect_state(ssl_);
  }
  ~Pair() {
    // Without this, SSL_free marks the client's current session not resumable (OpenSSL's
    // ssl_clear_bad_session), and the tests keep using those sessions.
    SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl_);
    ERR_clear_error();
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  // Everything the client wrote so far (not yet given to the server).
  Bytes TakeFromClient() {
    Bytes all;
    Bytes buf(1 << 16);
    while (true) {
      const int n = BIO_read(from_client_, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      all.insert(all.end(), buf.begin(), buf.begin() + n);
    }
    return all;
  }
  TlsStatus Feed(const Bytes& in) {
    const TlsStatus st = server_->Input(in, out_, app_);
    to_client_log_.insert(to_client_log_.end(), out_.data.begin(), out_.data.end());
    FlushToClient();
    return st;
  }
  TlsStatus Pump() {
    const Bytes in = TakeFromClient();
    if (in.empty()) {
      FlushToClient();
      return server_->state() == HsState::kClosed ? TlsStatus::kFailed : TlsStatus::kOk;
    }
    return Feed(in);
  }
  void FlushToClient() {
    if (!out_.data.empty()) {
      BIO_write(to_client_, out_.data.data(), static_cast<int>(out_.data.size()));
      out_.data.clear();
    }
  }

  bool Handshake() {
    for (int i = 0; i < 20; ++i) {
      const int r = SSL_do_handshake(ssl_);
      last_error_ = r == 1 ? 0 : SSL_get_error(ssl_, r);
      if (last_error_ == SSL_ERROR_SSL) {
        ERR_error_string_n(ERR_peek_error(), client_error_, sizeof(client_error_));
      }
      (void)Pump();
      if (r == 1 && server_->connected()) {
        ReadTickets();
        return true;
      }
      if ((r != 1 && last_error_ != SSL_ERROR_WANT_READ) || server_->state() == HsState::kClosed) {
        failure_ = Describe();
        return false;
      }
    }
    failure_ = "no progress; " + Describe();
    return false;
  }
  // Lets the client read what the server sent after the handshake (NewSessionTickets).
  void ReadTickets() {
    uint8_t b;
    (void)SSL_peek(ssl_, &b, 1);
    ERR_clear_error();
  }
  std::string Describe() const {
    std::string d = "server state " + std::to_string(static_cast<int>(server_->state()));
    if (server_->alert_sent()) {
      d += ", sent alert " + std::to_string(static_cast<int>(*server_->alert_sent()));
    }
    if (server_->alert_received()) {
      d += ", received alert " + std::to_string(static_cast<int>(*server_->alert_received()));
    }
    return d + ", client: SSL_get_error " + std::to_string(last_error_) + ", verify " +
           std::to_string(SSL_get_verify_result(ssl_)) + ", " + client_error_ + ", " +
           SSL_state_string_long(ssl_);
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
    to_client_log_.insert(to_client_log_.end(), out_.data.begin(), out_.data.end());
    FlushToClient();
    Bytes got(data.size());
    size_t off = 0;
    while (off < data.size()) {
      const int n = SSL_read(ssl_, got.data() + off, static_cast<int>(data.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    (void)Pump();
    return got == data;
  }

  TlsServer& server() { return *server_; }
  // Continues the session in a new TlsServer from a memcpy of the state (another core).
  void MoveServer() {
    auto image = std::make_unique<TlsServerState>();
    std::memcpy(static_cast<void*>(image.get()), &server_->session_state(), sizeof(*image));
    server_ = std::make_unique<TlsServer>(*config_, *ctx_, *image);
    server_->set_now_ms(now_ms_);
  }
  // Replaces the server by a new one that knows nothing of this session (stateless
  // retry: only the HelloRetryRequest cookie carries state), optionally with another
  // config and clock.
  void FreshServer(const TlsServerConfig* config = nullptr, std::optional<uint64_t> now = {}) {
    if (config != nullptr) config_ = config;
    if (now) now_ms_ = *now;
    server_ = std::make_unique<TlsServer>(*config_, *ctx_);
    server_->set_now_ms(now_ms_);
  }
  SSL* ssl() { return ssl_; }
  CryptoContext& ctx() { return *ctx_; }
  // Every byte the server sent to the client.
  const Bytes& to_client_log() const { return to_client_log_; }

 private:
  const TlsServerConfig* config_;
  std::optional<CryptoContext> ctx_;
  uint64_t now_ms_;
  std::unique_ptr<TlsServer> server_;
  SSL* ssl_ = nullptr;
  BIO* to_client_ = nullptr;
  BIO* from_client_ = nullptr;
  VecSink out_, app_;
  Bytes to_client_log_;
  std::string failure_;
  int last_error_ = 0;
  char client_error_[256] = {};
};

// Record headers of a byte stream: (type, length) pairs.
inline std::vector<std::pair<uint8_t, uint16_t>> Records(const Bytes& stream) {
  std::vector<std::pair<uint8_t, uint16_t>> out;
  size_t off = 0;
  while (off + 5 <= stream.size()) {
    const uint16_t len = static_cast<uint16_t>(stream[off + 3] << 8 | stream[off + 4]);
    out.emplace_back(stream[off], len);
    off += 5 + len;
  }
  return out;
}

}  // namespace baton::crypto::tls::peer
