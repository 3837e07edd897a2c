// Robustness of our TlsServer against odd but legal record framing and against malformed
// ClientHellos, with libssl 3.0 as the client over memory BIOs (the test moves the bytes):
//  - application data as 1-byte records and as maximum-size (2^14) records, both ways;
//  - records above the RFC 8446 5.1/5.2 bounds -> record_overflow;
//  - libssl's ClientHello re-framed as one record per byte, and split over two records;
//  - a table of malformed ClientHellos, each with the alert RFC 8446 (or, where it names
//    none, docs/TLS.md) asks for.
// Every case: no crash, the right alert, nothing in the app sink.

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/tls/record.h"
#include "crypto/tls/server.h"

namespace baton::crypto::tls {
namespace {

using Bytes = std::vector<uint8_t>;

struct VecSink final : OutputSink {
  Bytes data;
  size_t appends = 0;
  bool Append(ByteView b) noexcept override {
    data.insert(data.end(), b.begin(), b.end());
    ++appends;
    return true;
  }
};

Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 13 + 5);
  return b;
}

struct Ident {
  EVP_PKEY* key = nullptr;
  Bytes cert;
  std::vector<Credential> creds;
  Ident() {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("baton robustness"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    EXPECT_GT(X509_sign(x, key, EVP_sha256()), 0);
    unsigned char* der = nullptr;
    const int len = i2d_X509(x, &der);
    cert.assign(der, der + len);
    OPENSSL_free(der);
    X509_free(x);
    Credential c;
    c.chain_der = {cert};
    c.key = key;
    creds.push_back(std::move(c));
  }
  ~Ident() { EVP_PKEY_free(key); }
};

Ident& Id() {
  static Ident id;
  return id;
}

TlsServerConfig Config() {
  TlsServerConfig c;
  c.credentials = Id().creds;
  return c;
}

// Splits a byte stream into whole records (header + body); a partial tail is dropped.
std::vector<Bytes> Records(const Bytes& stream) {
  std::vector<Bytes> out;
  size_t off = 0;
  while (off + kRecordHeaderBytes <= stream.size()) {
    const size_t len = size_t{stream[off + 3]} << 8 | stream[off + 4];
    if (off + kRecordHeaderBytes + len > stream.size()) break;
    out.emplace_back(stream.begin() + static_cast<long>(off),
                     stream.begin() + static_cast<long>(off + kRecordHeaderBytes + len));
    off += kRecordHeaderBytes + len;
  }
  return out;
}

Bytes Record(uint8_t type, const Bytes& body, uint16_t version = 0x0303) {
  Bytes r = {type, static_cast<uint8_t>(version >> 8), static_cast<uint8_t>(version),
             static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
  r.insert(r.end(), body.begin(), body.end());
  return r;
}

Bytes PlainAlert(Alert a) { return {21, 3, 3, 0, 2, 2, static_cast<uint8_t>(a)}; }

// A libssl client and our server; the test decides what reaches the server and how.
class Peer {
 public:
  explicit Peer(const TlsServerConfig& config, const char* groups = "X25519:P-256",
                const char* suites = "TLS_AES_128_GCM_SHA256")
      : config_(config), ctx_(CryptoContext::Create()) {
    server_ = std::make_unique<TlsServer>(config_, *ctx_);
    cctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(cctx_, TLS1_3_VERSION);
    EXPECT_EQ(SSL_CTX_set_ciphersuites(cctx_, suites), 1);
    const unsigned char* p = Id().cert.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(Id().cert.size()));
    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx_), x);
    X509_free(x);
    SSL_CTX_set_verify(cctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(cctx_);
    EXPECT_EQ(SSL_set1_groups_list(ssl_, groups), 1);
    to_client_ = BIO_new(BIO_s_mem());
    from_client_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(to_client_, -1);
    SSL_set_bio(ssl_, to_client_, from_client_);
    SSL_set_connect_state(ssl_);
  }
  ~Peer() {
    SSL_free(ssl_);
    SSL_CTX_free(cctx_);
    ERR_clear_error();
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // What the client has written so far, taken out of its BIO (the server sees none of it).
  Bytes TakeClientBytes() {
    Bytes all, buf(1 << 16);
    int n;
    while ((n = BIO_read(from_client_, buf.data(), static_cast<int>(buf.size()))) > 0) {
      all.insert(all.end(), buf.begin(), buf.begin() + n);
    }
    return all;
  }
  TlsStatus ToServer(const Bytes& b) { return server_->Input(b, out_, app_); }
  void ToClient() {
    if (!out_.data.empty()) BIO_write(to_client_, out_.data.data(), static_cast<int>(out_.data.size()));
    out_.data.clear();
  }
  // Runs the handshake, the client's bytes going through `reframe` first.
  bool Handshake(const std::function<Bytes(const Bytes&)>& reframe = nullptr) {
    for (int i = 0; i < 10; ++i) {
      const int r = SSL_do_handshake(ssl_);
      const int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
      Bytes b = TakeClientBytes();
      if (reframe && !b.empty()) b = reframe(b);
      if (!b.empty() && ToServer(b) == TlsStatus::kFailed) return false;
      ToClient();
      if (r == 1 && server_->connected()) return true;
      if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ) {
        ADD_FAILURE() << "client: SSL_get_error " << err << ", "
                      << ERR_error_string(ERR_peek_error(), nullptr);
        return false;
      }
    }
    return false;
  }

  TlsServer& server() { return *server_; }
  CryptoContext& ctx() { return *ctx_; }
  SSL* ssl() { return ssl_; }
  VecSink& out() { return out_; }
  VecSink& app() { return app_; }

 private:
  const TlsServerConfig& config_;
  std::optional<CryptoContext> ctx_;
  std::unique_ptr<TlsServer> server_;
  SSL_CTX* cctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* to_client_ = nullptr;
  BIO* from_client_ = nullptr;
  VecSink out_, app_;
};

// The alert the server sent last, opened with its write key when protected.
std::optional<std::pair<uint8_t, uint8_t>> LastAlert(Peer& p, const Bytes& out) {
  std::vector<Bytes> recs = Records(out);
  if (recs.empty()) return std::nullopt;
  Bytes& r = recs.back();
  if (r[0] == 21 && r.size() == 7) return std::make_pair(r[5], r[6]);
  const TlsServerState& st = p.server().session_state();
  if (r[0] != 23 || st.write_seq == 0) return std::nullopt;
  AeadKey key;
  if (p.ctx().Expand(st.write_key, key) != CryptoStatus::kOk) return std::nullopt;
  ContentType type;
  MutByteView content;
  if (Unprotect(p.ctx(), key, st.write_seq - 1, {r.data(), r.size()}, type, content) !=
          RecordStatus::kOk ||
      type != ContentType::kAlert || content.size() != 2) {
    return std::nullopt;
  }
  return std::make_pair(content[0], content[1]);
}

// ---------------------------------------------------------------------------------------
// Application data framing

TEST(Robustness, OneByteRecordsBothWays) {
  const TlsServerConfig config = Config();
  Peer p(config);
  ASSERT_TRUE(p.Handshake());
  const Bytes msg = Pattern(300);
  // Client -> server: one SSL_write per byte, so one record per byte.
  for (const uint8_t b : msg) ASSERT_EQ(SSL_write(p.ssl(), &b, 1), 1);
  const Bytes wire = p.TakeClientBytes();
  const std::vector<Bytes> recs = Records(wire);
  ASSERT_EQ(recs.size(), msg.size());
  for (const Bytes& r : recs) EXPECT_EQ(r.size(), kRecordHeaderBytes + 1 + kProtectOverheadBytes);
  ASSERT_EQ(p.ToServer(wire), TlsStatus::kOk);
  EXPECT_EQ(p.app().data, msg);
  // Fed one byte at a time as well (a record split over six Input calls).
  const Bytes more = Pattern(40);
  for (const uint8_t b : more) ASSERT_EQ(SSL_write(p.ssl(), &b, 1), 1);
  p.app().data.clear();
  for (const uint8_t b : p.TakeClientBytes()) ASSERT_EQ(p.ToServer({b}), TlsStatus::kOk);
  EXPECT_EQ(p.app().data, more);

  // Server -> client: one WriteApp per byte.
  p.out().data.clear();
  for (const uint8_t b : msg) ASSERT_EQ(p.server().WriteApp({&b, 1}, p.out()), TlsStatus::kOk);
  const std::vector<Bytes> sent = Records(p.out().data);
  ASSERT_EQ(sent.size(), msg.size());
  for (const Bytes& r : sent) EXPECT_EQ(r.size(), kRecordHeaderBytes + 1 + kProtectOverheadBytes);
  p.ToClient();
  Bytes got(msg.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(SSL_read(p.ssl(), &got[i], 1), 1) << i;
  EXPECT_EQ(got, msg);
  EXPECT_FALSE(p.server().alert_sent().has_value());
}

TEST(Robustness, MaximumSizeRecordsBothWays) {
  const TlsServerConfig config = Config();
  Peer p(config);
  ASSERT_TRUE(p.Handshake());
  const size_t full = kRecordHeaderBytes + kMaxPlaintextBytes + kProtectOverheadBytes;
  // Client -> server: libssl's max_send_fragment is 2^14, so 3 * 2^14 is three full records.
  const Bytes msg = Pattern(3 * kMaxPlaintextBytes);
  ASSERT_EQ(SSL_write(p.ssl(), msg.data(), static_cast<int>(msg.size())),
            static_cast<int>(msg.size()));
  const Bytes wire = p.TakeClientBytes();
  const std::vector<Bytes> recs = Records(wire);
  ASSERT_EQ(recs.size(), 3u);
  for (const Bytes& r : recs) EXPECT_EQ(r.size(), full);
  ASSERT_EQ(p.ToServer(wire), TlsStatus::kOk);
  EXPECT_EQ(p.app().data, msg);

  // Server -> client: WriteApp cuts at 2^14.
  p.out().data.clear();
  const Bytes back = Pattern(2 * kMaxPlaintextBytes + 1);
  ASSERT_EQ(p.server().WriteApp(back, p.out()), TlsStatus::kOk);
  const std::vector<Bytes> sent = Records(p.out().data);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].size(), full);
  EXPECT_EQ(sent[1].size(), full);
  EXPECT_EQ(sent[2].size(), kRecordHeaderBytes + 1 + kProtectOverheadBytes);
  p.ToClient();
  Bytes got(back.size());
  size_t off = 0;
  while (off < got.size()) {
    const int n = SSL_read(p.ssl(), got.data() + off, static_cast<int>(got.size() - off));
    ASSERT_GT(n, 0);
    off += static_cast<size_t>(n);
  }
  EXPECT_EQ(got, back);
}

// Seals `content` + `padding` zero bytes with the key the server reads with (taken from its
// state), at its current read sequence number.
Bytes SealForServer(Peer& p, ContentType type, const Bytes& content, size_t padding) {
  const TlsServerState& st = p.server().session_state();
  AeadKey key;
  EXPECT_EQ(p.ctx().Expand(st.read_key, key), CryptoStatus::kOk);
  Bytes out(kMaxRecordBytes + 512);
  size_t written = 0;
  EXPECT_EQ(Protect(p.ctx(), key, st.read_seq, type, content, padding, {out.data(), out.size()},
                    written),
            RecordStatus::kOk);
  out.resize(written);
  return out;
}

TEST(Robustness, SealedInnerPlaintextBounds) {
  const TlsServerConfig config = Config();
  {
    // 2^14 bytes + the content type = 2^14+1, the largest TLSInnerPlaintext: accepted.
    Peer p(config);
    ASSERT_TRUE(p.Handshake());
    const Bytes msg = Pattern(kMaxPlaintextBytes);
    ASSERT_EQ(p.ToServer(SealForServer(p, ContentType::kApplicationData, msg, 0)), TlsStatus::kOk);
    EXPECT_EQ(p.app().data, msg);
  }
  {
    // One byte of padding more: RFC 8446 5.2 "The length MUST NOT exceed 2^14 + 1 octets.
    // An endpoint that receives a record that exceeds this length MUST terminate the
    // connection with a "record_overflow" alert."
    Peer p(config);
    ASSERT_TRUE(p.Handshake());
    p.out().data.clear();
    EXPECT_EQ(p.ToServer(SealForServer(p, ContentType::kApplicationData, Pattern(kMaxPlaintextBytes), 1)),
              TlsStatus::kFailed);
    EXPECT_EQ(p.server().alert_sent(), Alert::kRecordOverflow);
    EXPECT_EQ(LastAlert(p, p.out().data), std::make_pair(uint8_t{2}, uint8_t{22}));
    EXPECT_TRUE(p.app().data.empty());
  }
}

TEST(Robustness, CiphertextRecordAboveLimitIsRecordOverflow) {
  const TlsServerConfig config = Config();
  for (const size_t len : {kMaxCiphertextBytes + 1, size_t{0xffff}}) {
    Peer p(config);
    ASSERT_TRUE(p.Handshake());
    p.out().data.clear();
    // RFC 8446 5.2: "The length MUST NOT exceed 2^14 + 256 bytes. An endpoint that receives
    // a record that exceeds this length MUST terminate the connection with a
    // "record_overflow" alert." The header alone is enough to tell.
    const Bytes header = {23, 3, 3, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
    EXPECT_EQ(p.ToServer(header), TlsStatus::kFailed) << len;
    EXPECT_EQ(p.server().alert_sent(), Alert::kRecordOverflow) << len;
    EXPECT_EQ(LastAlert(p, p.out().data), std::make_pair(uint8_t{2}, uint8_t{22})) << len;
    EXPECT_TRUE(p.app().data.empty());
  }
  // Exactly 2^14+256 is a legal length: garbage of that size fails the tag instead.
  Peer p(config);
  ASSERT_TRUE(p.Handshake());
  EXPECT_EQ(p.ToServer(Record(23, Bytes(kMaxCiphertextBytes, 0x5a))), TlsStatus::kFailed);
  EXPECT_EQ(p.server().alert_sent(), Alert::kBadRecordMac);
  EXPECT_TRUE(p.app().data.empty());
}

TEST(Robustness, PlaintextRecordAboveLimitIsRecordOverflow) {
  const TlsServerConfig config = Config();
  // RFC 8446 5.1: "The length MUST NOT exceed 2^14 bytes. An endpoint that receives a
  // record that exceeds this length MUST terminate the connection with a
  // "record_overflow" alert." Before the handshake: a plaintext alert.
  for (const uint8_t type : {uint8_t{22}, uint8_t{21}, uint8_t{20}}) {
    auto ctx = CryptoContext::Create();
    TlsServer s(config, *ctx);
    VecSink out, app;
    const Bytes rec = Record(type, Bytes(kMaxPlaintextBytes + 1, 1), 0x0301);
    EXPECT_EQ(s.Input(rec, out, app), TlsStatus::kFailed) << int{type};
    EXPECT_EQ(s.alert_sent(), Alert::kRecordOverflow) << int{type};
    EXPECT_EQ(out.data, PlainAlert(Alert::kRecordOverflow)) << int{type};
    EXPECT_TRUE(app.data.empty());
  }
  // After the handshake too (a plaintext handshake record is refused either way).
  Peer p(config);
  ASSERT_TRUE(p.Handshake());
  p.out().data.clear();
  EXPECT_EQ(p.ToServer(Record(22, Bytes(kMaxPlaintextBytes + 1, 1))), TlsStatus::kFailed);
  EXPECT_EQ(p.server().alert_sent(), Alert::kRecordOverflow);
  EXPECT_EQ(LastAlert(p, p.out().data), std::make_pair(uint8_t{2}, uint8_t{22}));
}

// ---------------------------------------------------------------------------------------
// ClientHello framing

// The handshake bytes of a plaintext flight (CCS records dropped), re-framed by `cut`:
// record sizes in turn (the last repeats).
Bytes Reframe(const Bytes& flight, const std::vector<size_t>& cuts) {
  Bytes hs, out;
  for (const Bytes& r : Records(flight)) {
    if (r[0] != 22) return flight;  // already protected: leave as is
    hs.insert(hs.end(), r.begin() + kRecordHeaderBytes, r.end());
  }
  size_t off = 0, i = 0;
  while (off < hs.size()) {
    const size_t n = std::min(cuts[std::min(i++, cuts.size() - 1)], hs.size() - off);
    const Bytes piece(hs.begin() + static_cast<long>(off), hs.begin() + static_cast<long>(off + n));
    const Bytes rec = Record(22, piece, 0x0301);
    out.insert(out.end(), rec.begin(), rec.end());
    off += n;
  }
  return out;
}

TEST(Robustness, ClientHelloOneRecordPerByte) {
  const TlsServerConfig config = Config();
  Peer p(config);
  size_t records = 0;
  ASSERT_TRUE(p.Handshake([&](const Bytes& b) {
    const Bytes r = Reframe(b, {1});
    if (r != b) records = Records(r).size();
    return r;
  }));
  EXPECT_GE(records, 150u);  // one per byte of a ClientHello of about 200 bytes
  EXPECT_TRUE(p.app().data.empty());
  const Bytes msg = Pattern(1000);
  ASSERT_EQ(SSL_write(p.ssl(), msg.data(), static_cast<int>(msg.size())), 1000);
  ASSERT_EQ(p.ToServer(p.TakeClientBytes()), TlsStatus::kOk);
  EXPECT_EQ(p.app().data, msg);
}

TEST(Robustness, ClientHelloOverTwoRecordsOfDifferentSizes) {
  const TlsServerConfig config = Config();
  // Cuts inside the handshake header, at its end, inside random, and further on.
  for (const size_t first : {size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{38}, size_t{100},
                             size_t{150}}) {
    Peer p(config);
    size_t records = 0;
    ASSERT_TRUE(p.Handshake([&](const Bytes& b) {
      const Bytes r = Reframe(b, {first, 100000});
      if (r != b) records = Records(r).size();
      return r;
    })) << first;
    EXPECT_EQ(records, 2u) << first;
  }
  // The other way round: most of it first, the last byte alone.
  Peer p(config);
  ASSERT_TRUE(p.Handshake([&](const Bytes& b) {
    size_t total = 0;
    for (const Bytes& r : Records(b)) total += r.size() - kRecordHeaderBytes;
    return Reframe(b, {total - 1, 1});
  }));
}

// ---------------------------------------------------------------------------------------
// Malformed ClientHellos

struct Ext {
  uint16_t type;
  Bytes data;
  int len = -1;  // override of the extension's length field; -1 = the true length
};

// A ClientHello taken apart, to be edited and put back together.
struct Hello {
  uint16_t legacy_version = 0x0303;
  Bytes random, session_id, suites, compression;
  std::vector<Ext> exts;
  bool has_ext_block = true;
  // Length overrides for the broken-length cases; -1 = the true length.
  int session_id_len = -1, suites_len = -1, compression_len = -1, exts_len = -1;
  int hs_len_delta = 0;  // added to the handshake length
  Bytes trailing;        // after the extension block, inside the message

  static Hello Parse(const Bytes& record) {
    Hello h;
    size_t o = 9;
    h.legacy_version = static_cast<uint16_t>(record[o] << 8 | record[o + 1]);
    o += 2;
    h.random.assign(record.begin() + static_cast<long>(o), record.begin() + static_cast<long>(o + 32));
    o += 32;
    auto take = [&](size_t n) {
      Bytes b(record.begin() + static_cast<long>(o), record.begin() + static_cast<long>(o + n));
      o += n;
      return b;
    };
    const size_t sid = record[o++];
    h.session_id = take(sid);
    const size_t suites = size_t{record[o]} << 8 | record[o + 1];
    o += 2;
    h.suites = take(suites);
    const size_t comp = record[o++];
    h.compression = take(comp);
    const size_t end = o + 2 + (size_t{record[o]} << 8 | record[o + 1]);
    o += 2;
    while (o < end) {
      const uint16_t type = static_cast<uint16_t>(record[o] << 8 | record[o + 1]);
      const size_t len = size_t{record[o + 2]} << 8 | record[o + 3];
      o += 4;
      h.exts.push_back({type, take(len)});
    }
    return h;
  }

  size_t ExtBlockBytes() const {
    size_t n = 0;
    for (const Ext& x : exts) n += 4 + x.data.size();
    return n;
  }
  Ext* Find(uint16_t type) {
    for (Ext& e : exts) {
      if (e.type == type) return &e;
    }
    return nullptr;
  }
  void Remove(uint16_t type) {
    exts.erase(std::remove_if(exts.begin(), exts.end(), [&](const Ext& e) { return e.type == type; }),
               exts.end());
  }

  Bytes Body() const {
    Bytes b = {static_cast<uint8_t>(legacy_version >> 8), static_cast<uint8_t>(legacy_version)};
    auto put16 = [&](size_t v) {
      b.push_back(static_cast<uint8_t>(v >> 8));
      b.push_back(static_cast<uint8_t>(v));
    };
    b.insert(b.end(), random.begin(), random.end());
    b.push_back(static_cast<uint8_t>(session_id_len >= 0 ? session_id_len : static_cast<int>(session_id.size())));
    b.insert(b.end(), session_id.begin(), session_id.end());
    put16(suites_len >= 0 ? static_cast<size_t>(suites_len) : suites.size());
    b.insert(b.end(), suites.begin(), suites.end());
    b.push_back(static_cast<uint8_t>(compression_len >= 0 ? compression_len
                                                          : static_cast<int>(compression.size())));
    b.insert(b.end(), compression.begin(), compression.end());
    if (has_ext_block) {
      Bytes e;
      for (const Ext& x : exts) {
        e.push_back(static_cast<uint8_t>(x.type >> 8));
        e.push_back(static_cast<uint8_t>(x.type));
        const size_t len = x.len >= 0 ? static_cast<size_t>(x.len) : x.data.size();
        e.push_back(static_cast<uint8_t>(len >> 8));
        e.push_back(static_cast<uint8_t>(len));
        e.insert(e.end(), x.data.begin(), x.data.end());
      }
      put16(exts_len >= 0 ? static_cast<size_t>(exts_len) : e.size());
      b.insert(b.end(), e.begin(), e.end());
    }
    b.insert(b.end(), trailing.begin(), trailing.end());
    return b;
  }
  // One record holding the handshake message (plus whatever the length edit left over).
  Bytes Flight() const {
    const Bytes body = Body();
    const size_t len = static_cast<size_t>(static_cast<long>(body.size()) + hs_len_delta);
    Bytes msg = {1, static_cast<uint8_t>(len >> 16), static_cast<uint8_t>(len >> 8),
                 static_cast<uint8_t>(len)};
    msg.insert(msg.end(), body.begin(), body.end());
    return Record(22, msg, 0x0301);
  }
};

// Wire helpers for extension bodies.
Bytes U16(uint16_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes Vec16(const Bytes& b) { return Cat({U16(static_cast<uint16_t>(b.size())), b}); }
Bytes Vec8(const Bytes& b) { return Cat({{static_cast<uint8_t>(b.size())}, b}); }
Bytes Share(uint16_t group, const Bytes& key) { return Cat({U16(group), Vec16(key)}); }

constexpr uint16_t kSni = 0, kGroups = 10, kSigAlgs = 13, kAlpn = 16, kPsk = 41, kEarly = 42,
                   kVersions = 43, kKeyShare = 51;

// libssl's ClientHello (TLS 1.3 only; X25519 and P-256 shares, AES-128-GCM), captured
// from its first flight.
Hello BaseHello() {
  const TlsServerConfig config = Config();
  Peer p(config, "X25519:P-256");
  (void)SSL_do_handshake(p.ssl());
  const std::vector<Bytes> recs = Records(p.TakeClientBytes());
  EXPECT_EQ(recs.size(), 1u);
  Hello h = Hello::Parse(recs.at(0));
  // One X25519 share (libssl shares its first group only); the cases rely on it.
  const Ext* ks = h.Find(kKeyShare);
  EXPECT_TRUE(ks != nullptr && ks->data.size() == 38 && ks->data[3] == 0x1d);
  return h;
}

Bytes X25519Key(const Hello& h) {
  for (const Ext& e : h.exts) {
    if (e.type == kKeyShare) return Bytes(e.data.begin() + 6, e.data.begin() + 38);
  }
  return {};
}

struct MalformedCase {
  const char* name;
  std::function<Bytes(Hello)> make;  // the flight the server gets
  std::optional<Alert> alert;        // nullopt: no alert (the handshake goes on)
  const char* why;                   // where the alert comes from
  const char* skip = nullptr;        // a known divergence, reported; the case is skipped
};

Bytes Edited(Hello h, const std::function<void(Hello&)>& edit) {
  edit(h);
  return h.Flight();
}

std::vector<MalformedCase> Cases() {
  using A = Alert;
  auto ed = [](std::function<void(Hello&)> f) {
    return [f](Hello h) { return Edited(std::move(h), f); };
  };
  auto ext = [](uint16_t type, Bytes data) {
    return [type, data](Hello& h) {
      if (Ext* e = h.Find(type)) e->data = data;
      else h.exts.push_back({type, data});
    };
  };
  return {
      // Lengths at each level.
      {"handshake length one short", ed([](Hello& h) { h.hs_len_delta = -1; }), A::kDecodeError,
       "RFC 8446 6.2 decode_error: the message length is incorrect"},
      {"handshake length one long (trailing byte)",
       ed([](Hello& h) { h.trailing = {0}; }), A::kDecodeError, "RFC 8446 6.2 decode_error"},
      {"handshake length above 2^14", [](Hello) { return Record(22, {1, 0, 0x40, 0x01}, 0x0301); },
       A::kDecodeError, "docs/TLS.md: reassembly bound 16 KiB, decode_error above"},
      {"session id length 33", ed([](Hello& h) { h.session_id.push_back(0x33); }), A::kDecodeError,
       "RFC 8446 4.1.2 legacy_session_id<0..32>; 6.2 decode_error"},
      {"session id length past the end", ed([](Hello& h) {
         // 255 claimed; what follows is far shorter.
         h.session_id_len = 255;
         h.suites.clear();
         h.compression.clear();
         h.exts.clear();
         h.has_ext_block = false;
       }),
       A::kDecodeError, "RFC 8446 6.2 decode_error"},
      {"cipher_suites odd length", ed([](Hello& h) { h.suites.push_back(0x13); }), A::kDecodeError,
       "RFC 8446 4.1.2 CipherSuite cipher_suites<2..2^16-2>"},
      {"cipher_suites empty", ed([](Hello& h) { h.suites.clear(); }), A::kDecodeError,
       "RFC 8446 4.1.2 cipher_suites<2..2^16-2>"},
      {"cipher_suites length past the end", ed([](Hello& h) { h.suites_len = 0xfffe; }),
       A::kDecodeError, "RFC 8446 6.2 decode_error"},
      {"compression methods empty", ed([](Hello& h) { h.compression.clear(); }), A::kDecodeError,
       "RFC 8446 4.1.2 legacy_compression_methods<1..2^8-1>"},
      {"compression length past the end", ed([](Hello& h) {
         h.compression_len = 255;
         h.exts.clear();
         h.has_ext_block = false;
       }),
       A::kDecodeError, "RFC 8446 6.2 decode_error"},
      {"extensions length one long", ed([](Hello& h) { h.exts_len = static_cast<int>(h.ExtBlockBytes() + 1); }),
       A::kDecodeError, "RFC 8446 6.2 decode_error"},
      {"extensions length one short", ed([](Hello& h) { h.exts_len = static_cast<int>(h.ExtBlockBytes() - 1); }),
       A::kDecodeError, "RFC 8446 6.2 decode_error"},
      {"last extension length past the block", ed([](Hello& h) {
         h.exts.push_back({0x7a7a, {1, 2, 3}, 4});
       }),
       A::kDecodeError, "RFC 8446 6.2 decode_error"},
      {"supported_versions length one long (eats the next header)", ed([](Hello& h) {
         Ext* e = h.Find(kVersions);
         e->len = static_cast<int>(e->data.size() + 1);
       }),
       A::kDecodeError, "RFC 8446 6.2 decode_error"},
      {"unknown extension is ignored", ed([](Hello& h) { h.exts.push_back({0x7a7a, {1, 2, 3}}); }),
       std::nullopt, "RFC 8446 4.2: unknown extensions are ignored"},
      // Extension contents.
      {"supported_versions truncated", ed(ext(kVersions, {4, 3, 4})), A::kDecodeError,
       "RFC 8446 4.2.1 versions<2..254>; 6.2 decode_error"},
      {"supported_versions odd list", ed(ext(kVersions, {3, 3, 4, 3})), A::kDecodeError,
       "RFC 8446 4.2.1 ProtocolVersion list"},
      {"supported_versions unknown version only", ed(ext(kVersions, {2, 0x7f, 0x1c})),
       A::kProtocolVersion,
       "RFC 8446 4.2.1: no acceptable version in supported_versions -> protocol_version"},
      {"supported_versions TLS 1.2 only", ed(ext(kVersions, {2, 3, 3})), A::kProtocolVersion,
       "RFC 8446 4.2.1; TLS 1.2 is not offered by this server (docs/TLS.md)"},
      {"key_share list length past the extension", ed([](Hello& h) {
         Ext* e = h.Find(kKeyShare);
         e->data[1] = static_cast<uint8_t>(e->data[1] + 2);
       }),
       A::kDecodeError, "RFC 8446 6.2 decode_error"},
      {"key_share entry with an empty key", ed(ext(kKeyShare, Vec16(Share(0x1d, {})))),
       A::kDecodeError, "RFC 8446 4.2.8 opaque key_exchange<1..2^16-1>"},
      {"key_share empty (asks for HelloRetryRequest)", ed(ext(kKeyShare, Vec16({}))), std::nullopt,
       "RFC 8446 4.2.8: client_shares \"MAY be empty\"; we answer with HelloRetryRequest"},
      {"key_share empty and no common group", ed([](Hello& h) {
         h.Find(kKeyShare)->data = Vec16({});
         h.Find(kGroups)->data = Vec16(U16(0x0019));  // secp521r1 only
       }),
       A::kHandshakeFailure, "RFC 8446 4.1.1: no common group -> handshake_failure"},
      {"key_share duplicate group", ed([](Hello& h) {
         const Bytes k = X25519Key(h);
         h.Find(kKeyShare)->data = Vec16(Cat({Share(0x1d, k), Share(0x1d, k)}));
       }),
       A::kIllegalParameter,
       "RFC 8446 4.2.8 \"MUST NOT offer multiple KeyShareEntry values for the same group\"; "
       "alert per docs/TLS.md (illegal_parameter)"},
      {"key_share X25519 key of 31 bytes", ed([](Hello& h) {
         Bytes k = X25519Key(h);
         k.pop_back();
         h.Find(kKeyShare)->data = Vec16(Share(0x1d, k));
       }),
       A::kIllegalParameter, "RFC 8446 4.2.8.2 (32-byte X25519 keys); alert per key_exchange.h"},
      {"key_share X25519 all-zero key", ed(ext(kKeyShare, Vec16(Share(0x1d, Bytes(32, 0))))),
       A::kIllegalParameter,
       "RFC 8446 7.4.2: all-zero shared secret MUST abort; alert per key_exchange.h"},
      {"key_share P-256 compressed point", ed([](Hello& h) {
         Bytes k(33, 0x11);
         k[0] = 2;
         h.Find(kKeyShare)->data = Vec16(Share(0x17, k));
       }),
       A::kIllegalParameter, "RFC 8446 4.2.8.2: uncompressed points only"},
      {"key_share P-256 point not on the curve", ed([](Hello& h) {
         Bytes k(65, 0x11);
         k[0] = 4;
         h.Find(kKeyShare)->data = Vec16(Share(0x17, k));
       }),
       A::kIllegalParameter, "RFC 8446 4.2.8.2: peers MUST validate the point"},
      {"supported_groups odd list", ed(ext(kGroups, {0, 3, 0, 0x1d, 0})), A::kDecodeError,
       "RFC 8446 4.2.7 NamedGroup named_group_list<2..2^16-1>"},
      {"signature_algorithms empty list", ed(ext(kSigAlgs, {0, 0})), A::kDecodeError,
       "RFC 8446 4.2.3 supported_signature_algorithms<2..2^16-2>"},
      {"signature_algorithms without ECDSA P-256", ed(ext(kSigAlgs, Vec16(U16(0x0804)))),
       A::kHandshakeFailure, "RFC 8446 4.4.2.2 / 4.1.1: no scheme we can sign with"},
      {"server_name list empty", ed(ext(kSni, {0, 0})), A::kDecodeError,
       "RFC 6066 3 server_name_list<1..2^16-1>"},
      {"server_name truncated", ed(ext(kSni, {0, 10, 0, 0, 8, 'a', 'b'})), A::kDecodeError,
       "RFC 8446 6.2 decode_error"},
      {"server_name two host names", ed(ext(kSni, Vec16(Cat({{0}, Vec16({'a'}), {0}, Vec16({'b'})})))),
       A::kIllegalParameter, "RFC 6066 3: one name per name_type; alert per messages.cc"},
      {"ALPN with an empty protocol name", ed(ext(kAlpn, Vec16({2, 'h', '2', 0}))), A::kDecodeError,
       "RFC 7301 3.1 ProtocolName<1..2^8-1>"},
      {"early_data with a body", ed(ext(kEarly, {0})), A::kDecodeError,
       "RFC 8446 4.2.10: empty extension_data in a ClientHello"},
      {"pre_shared_key not last", ed([](Hello& h) {
         h.exts.insert(h.exts.begin(), Ext{kPsk, Cat({Vec16(Cat({Vec16({1, 2, 3}), {0, 0, 0, 0}})),
                                                      Vec16(Vec8(Bytes(32, 7)))})});
       }),
       A::kIllegalParameter, "RFC 8446 4.2.11: pre_shared_key MUST be last -> illegal_parameter"},
      {"duplicate extension", ed([](Hello& h) { h.exts.push_back(*h.Find(kGroups)); }),
       A::kIllegalParameter, "RFC 8446 4.2 (no alert named); docs/TLS.md: illegal_parameter"},
      {"no supported_groups", ed([](Hello& h) { h.Remove(kGroups); }), A::kMissingExtension,
       "RFC 8446 9.2: missing_extension"},
      {"no signature_algorithms", ed([](Hello& h) { h.Remove(kSigAlgs); }), A::kMissingExtension,
       "RFC 8446 9.2: missing_extension"},
      {"no key_share", ed([](Hello& h) { h.Remove(kKeyShare); }), A::kMissingExtension,
       "RFC 8446 9.2: missing_extension"},
      {"no supported_versions", ed([](Hello& h) { h.Remove(kVersions); }), A::kProtocolVersion,
       "RFC 8446 4.2.1 / docs/TLS.md: a TLS 1.2 ClientHello; TLS 1.2 is not built"},
      // Legacy fields.
      {"compression method not null", ed([](Hello& h) { h.compression = {1}; }),
       A::kIllegalParameter, "RFC 8446 4.1.2: other than {0} MUST be illegal_parameter"},
      {"compression methods {0, 1}", ed([](Hello& h) { h.compression = {0, 1}; }),
       A::kIllegalParameter, "RFC 8446 4.1.2: exactly one byte, 0"},
      {"no common cipher suite", ed([](Hello& h) { h.suites = Cat({U16(0x1304), U16(0x00ff)}); }),
       A::kHandshakeFailure, "RFC 8446 4.1.1: handshake_failure"},
      {"legacy_version 0x0300", ed([](Hello& h) { h.legacy_version = 0x0300; }),
       A::kProtocolVersion,
       "RFC 8446 D.5: legacy_version 0x0300 \"MUST abort the handshake with a protocol_version "
       "alert\""},
      // Records around the ClientHello.
      {"zero-length handshake record", [](Hello) { return Record(22, {}, 0x0301); },
       A::kUnexpectedMessage, "RFC 8446 5.1 (no alert named); docs/TLS.md: unexpected_message"},
      {"Finished instead of ClientHello",
       [](Hello) { return Record(22, Cat({{20, 0, 0, 32}, Bytes(32, 1)}), 0x0301); },
       A::kUnexpectedMessage, "RFC 8446 6.2 unexpected_message"},
      {"application_data before the ClientHello", [](Hello) { return Record(23, Bytes(40, 1)); },
       A::kUnexpectedMessage, "RFC 8446 5: unexpected_message"},
      {"ClientHello then an alert in the middle of the message", [](Hello h) {
         const Bytes f = h.Flight();
         Bytes out = Record(22, Bytes(f.begin() + 5, f.begin() + 50), 0x0301);
         const Bytes a = Record(21, {1, 0});
         out.insert(out.end(), a.begin(), a.end());
         return out;
       },
       A::kUnexpectedMessage, "RFC 8446 5.1: handshake messages not interleaved"},
  };
}

class MalformedClientHello : public ::testing::TestWithParam<size_t> {};

TEST_P(MalformedClientHello, GetsTheRightAlert) {
  static const std::vector<MalformedCase> cases = Cases();
  static const Hello base = BaseHello();
  const MalformedCase& c = cases.at(GetParam());
  SCOPED_TRACE(std::string(c.name) + " (" + c.why + ")");
  if (c.skip != nullptr) GTEST_SKIP() << c.skip;
  const Bytes flight = c.make(base);
  const TlsServerConfig config = Config();
  auto ctx = CryptoContext::Create();
  TlsServer s(config, *ctx);
  VecSink out, app;
  const TlsStatus st = s.Input(flight, out, app);
  EXPECT_TRUE(app.data.empty());
  if (!c.alert) {
    EXPECT_NE(st, TlsStatus::kFailed);
    EXPECT_FALSE(s.alert_sent().has_value()) << int(*s.alert_sent());
    EXPECT_FALSE(out.data.empty());  // ServerHello or HelloRetryRequest
    return;
  }
  EXPECT_EQ(st, TlsStatus::kFailed);
  ASSERT_TRUE(s.alert_sent().has_value()) << "state " << int(s.state());
  EXPECT_EQ(int(*s.alert_sent()), int(*c.alert));
  // Nothing but the plaintext fatal alert: we had no keys yet.
  EXPECT_EQ(out.data, PlainAlert(*c.alert));
  EXPECT_EQ(s.state(), HsState::kClosed);
}

std::string CaseName(const ::testing::TestParamInfo<size_t>& info) {
  static const std::vector<MalformedCase> cases = Cases();
  std::string n;
  for (const char ch : std::string(cases.at(info.param).name)) {
    n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedClientHello, ::testing::Range(size_t{0}, Cases().size()),
                         CaseName);

// The unmodified base ClientHello goes through, so every case above differs from a
// working one by its edit only.
TEST(Robustness, BaseClientHelloIsAccepted) {
  const Hello base = BaseHello();
  const Bytes flight = base.Flight();
  const TlsServerConfig config = Config();
  auto ctx = CryptoContext::Create();
  TlsServer s(config, *ctx);
  VecSink out, app;
  EXPECT_EQ(s.Input(flight, out, app), TlsStatus::kOk);
  EXPECT_EQ(s.state(), HsState::kExpectClientFinished);
  EXPECT_FALSE(s.alert_sent().has_value());
}

}  // namespace
}  // namespace baton::crypto::tls
