// TLS termination in the ProxyEngine, in memory: OpenSSL's libssl as the client on top of
// the bed's TCP endpoints, our TLS server in the engine, plaintext to our backends.
// Certificates are made by the test and loaded from PEM files, as the data plane does.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/proxy/proxy_bed.h"

namespace baton::dp::proxytest {
namespace {

constexpr uint16_t kPortTls = 443;
constexpr uint16_t kApiPool = 2;  // added by TlsBed: backend 2 only

// ---- Certificates ---------------------------------------------------------------------

struct TestCert {
  std::string dir, cert_file, key_file;
  X509* cert = nullptr;  // for the client's trust store
};

// A self-signed P-256 certificate for `names` (subjectAltName DNS), written as PEM files.
TestCert MakeCertFiles(const std::vector<std::string>& names) {
  TestCert t;
  char tmpl[] = "/tmp/baton-tls-XXXXXX";
  t.dir = mkdtemp(tmpl);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(names[0].c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(x, name);
  std::string san;
  for (const std::string& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, key, EVP_sha256());
  t.cert_file = t.dir + "/cert.pem";
  t.key_file = t.dir + "/key.pem";
  FILE* f = std::fopen(t.cert_file.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(t.key_file.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  EVP_PKEY_free(key);
  t.cert = x;
  return t;
}

// Made once per test binary; its folder goes when the binary exits.
const TestCert& SiteCert() {
  struct Owned {
    TestCert c = MakeCertFiles({"www.example.com", "api.example.com"});
    ~Owned() {
      std::filesystem::remove_all(c.dir);
      X509_free(c.cert);
    }
  };
  static const Owned owned;
  return owned.c;
}

// The bed with a TLS listener on VIP:443 (pool "web"), an "api" pool holding backend 2
// only, and routes: SNI api.example.com -> api; ALPN h2 -> web-lc.
BedOptions TlsBed(BedOptions o = {}) {
  o.tcp.buffer_bytes = 64 * kKiB;
  o.edit_config = [](ConfigSnapshot& c) {
    PoolConfig api;
    api.name = "api";
    api.backends.push_back({IpAddr::V4(kBackendIps[2]), kBackendPort, 1});
    c.pools.push_back(api);
    ListenerConfig l{"https", IpAddr::V4(kVip), kPortTls, ListenerMode::kTls, 0, false};
    l.tls.certificates.push_back({SiteCert().cert_file, SiteCert().key_file, 1});
    l.tls.alpn = {"h2", "http/1.1"};
    l.tls.handshake_timeout_ms = 2000;
    l.tls.routes.push_back({"api.example.com", "", kApiPool});
    l.tls.routes.push_back({"", "h2", 1});
    c.listeners.push_back(l);
  };
  return o;
}

// The TLS listener TlsBed adds (for a reload that brings it back).
ListenerConfig TlsBedListenerForTest() {
  ConfigSnapshot c = BedConfig(SmallTcp());
  TlsBed().edit_config(c);
  return c.listeners.back();
}

// ---- libssl as the client --------------------------------------------------------------

// Drives an SSL object over a bed connection: ciphertext from Conn::in, to Conn::out.
struct SslClient {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  size_t fed = 0;                   // bytes of Conn::in given to libssl
  std::vector<uint8_t> plain_out;   // to send once the handshake is done
  size_t plain_sent = 0;
  std::vector<uint8_t> plain_in;
  bool close_after_send = false;    // close_notify once plain_out is sent
  bool shutdown_sent = false;
  bool got_close_notify = false;
  int error = 0;                    // SSL_get_error of a failure other than want-read

  // `trust`: the certificates the client accepts (default: the site certificate).
  explicit SslClient(const std::string& sni, const std::string& alpn = "", std::vector<X509*> trust = {}) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    if (trust.empty()) trust.push_back(SiteCert().cert);
    for (X509* t : trust) X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), t);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    ssl = SSL_new(ctx);
    SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    if (!sni.empty()) {
      SSL_set_tlsext_host_name(ssl, sni.c_str());
      SSL_set1_host(ssl, sni.c_str());
    }
    if (!alpn.empty()) {
      std::vector<uint8_t> wire{uint8_t(alpn.size())};
      wire.insert(wire.end(), alpn.begin(), alpn.end());
      SSL_set_alpn_protos(ssl, wire.data(), unsigned(wire.size()));
    }
    SSL_set_connect_state(ssl);
  }
  ~SslClient() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  SslClient(const SslClient&) = delete;
  SslClient& operator=(const SslClient&) = delete;

  bool Connected() const { return SSL_is_init_finished(ssl) != 0; }
  std::string Alpn() const {
    const unsigned char* p = nullptr;
    unsigned n = 0;
    SSL_get0_alpn_selected(ssl, &p, &n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }

  void Attach(Conn& c) {
    c.app = [this](Conn& self) { Run(self); };
  }

  void Run(Conn& c) {
    if (c.in.size() > fed) {
      BIO_write(SSL_get_rbio(ssl), c.in.data() + fed, int(c.in.size() - fed));
      fed = c.in.size();
    }
    if (!Connected()) Check(SSL_do_handshake(ssl));
    if (Connected()) {
      std::array<uint8_t, 16384> buf;
      for (;;) {
        const int n = SSL_read(ssl, buf.data(), int(buf.size()));
        if (n <= 0) {
          if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN) got_close_notify = true;
          else Check(n);
          break;
        }
        plain_in.insert(plain_in.end(), buf.begin(), buf.begin() + n);
      }
      // Bounded so the TCP send ring (not libssl's memory BIO) holds the backlog.
      while (plain_sent < plain_out.size() && c.out.size() - c.queued < 64 * kKiB) {
        const int n = SSL_write(ssl, plain_out.data() + plain_sent, int(std::min<size_t>(plain_out.size() - plain_sent, 16384)));
        if (n <= 0) {
          Check(n);
          break;
        }
        plain_sent += size_t(n);
      }
      if (close_after_send && plain_sent == plain_out.size() && !shutdown_sent) {
        SSL_shutdown(ssl);
        shutdown_sent = true;
      }
    }
    std::array<uint8_t, 16384> out;
    for (int n; (n = BIO_read(SSL_get_wbio(ssl), out.data(), int(out.size()))) > 0;)
      c.out.insert(c.out.end(), out.begin(), out.begin() + n);
  }

 private:
  void Check(int rc) {
    const int e = SSL_get_error(ssl, rc);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_NONE && error == 0) error = e;
  }
};

// A backend that sends back everything it gets.
void EchoBackend(Conn& c) {
  c.app = [](Conn& self) {
    if (self.in.size() > self.out.size())
      self.out.insert(self.out.end(), self.in.begin() + std::ptrdiff_t(self.out.size()), self.in.end());
  };
}

// `n` libssl clients on the TLS listener, each sending PatternBytes(first_stream + i,
// bytes) to echoing backends.
struct EchoClients {
  std::vector<std::unique_ptr<SslClient>> tls;
  std::vector<Conn*> clients;
  EchoClients(ProxyBed& bed, int n, uint32_t first_stream, size_t bytes) {
    bed.on_backend_accept = EchoBackend;
    for (int i = 0; i < n; ++i) {
      tls.push_back(std::make_unique<SslClient>("www.example.com"));
      clients.push_back(&bed.Connect(kPortTls));
      tls.back()->Attach(*clients.back());
      tls.back()->plain_out = PatternBytes(first_stream + uint32_t(i), bytes);
    }
  }
  bool AllBack() const {
    for (const auto& t : tls)
      if (t->plain_in.size() < t->plain_out.size()) return false;
    return true;
  }
};

std::string Describe(ProxyBed& bed) {
  std::string s = "t=" + std::to_string(bed.now_us / 1000) + "ms sessions=" +
                  std::to_string(bed.Engine().ActiveSessions()) + " drops: " + bed.UnexpectedDrops() +
                  " tcp drops: " + bed.UnexpectedTcpDrops() + " tls handshakes " +
                  std::to_string(bed.Counted(Counter::kTlsHandshakes)) + " failures " +
                  std::to_string(bed.Counted(Counter::kTlsHandshakeFailures)) + "/" +
                  std::to_string(bed.Counted(Counter::kTlsSessionFailures)) + "\n";
  for (const auto& c : bed.Clients())
    s += "  " + c->name + " " + std::string(tcp::kTcpStateText[tcp::TcpIdx(c->State())]) +
         " in=" + std::to_string(c->in.size()) + " acked=" + std::to_string(c->Acked()) + "/" +
         std::to_string(c->out.size()) + "\n";
  for (Conn* c : bed.BackendConns())
    s += "  " + c->name + " " + std::string(tcp::kTcpStateText[tcp::TcpIdx(c->State())]) +
         " in=" + std::to_string(c->in.size()) + " acked=" + std::to_string(c->Acked()) + "/" +
         std::to_string(c->out.size()) + "\n";
  return s;
}

// Lengths of the TLS records in a byte stream (whole ones).
std::vector<size_t> RecordLengths(const std::vector<uint8_t>& s) {
  std::vector<size_t> out;
  for (size_t at = 0; at + 5 <= s.size();) {
    const size_t len = size_t(s[at + 3]) << 8 | s[at + 4];
    if (at + 5 + len > s.size()) break;
    out.push_back(len);
    at += 5 + len;
  }
  return out;
}

// ---- Cases ------------------------------------------------------------------------------

TEST(TlsProxy, CertificatesLoad) {
  ProxyBed bed(TlsBed());
  EXPECT_TRUE(bed.tls_errors.empty()) << bed.tls_errors.front();
}

// Upload and download through the TLS session, both closes passed on as close_notify/FIN.
TEST(TlsProxy, UploadDownloadAndCloseNotifyBothWays) {
  ProxyBed bed(TlsBed());
  SslClient tls("www.example.com", "http/1.1");
  Conn& client = bed.Connect(kPortTls);
  tls.Attach(client);
  const std::vector<uint8_t> up = PatternBytes(1, 200 * kKiB), down = PatternBytes(2, 1024 * kKiB);
  tls.plain_out = up;
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() >= up.size(); }))
      << Describe(bed);
  EXPECT_EQ(tls.error, 0);
  EXPECT_EQ(tls.Alpn(), "http/1.1");
  Conn& backend = *bed.LastBackendConn();
  EXPECT_EQ(backend.in, up);
  EXPECT_EQ(backend.backend, 0);  // pool "web", round robin from the first
  backend.out = down;
  ASSERT_TRUE(bed.RunUntil([&] { return tls.plain_in.size() >= down.size(); }, 60 * kSec)) << Describe(bed);
  EXPECT_EQ(tls.plain_in, down);

  // The client's close_notify reaches the backend as a FIN; the backend's FIN comes
  // back as close_notify and a FIN.
  tls.close_after_send = true;
  backend.app = [](Conn& self) {
    if (self.PeerFin()) self.close_after_send = true;
  };
  ASSERT_TRUE(bed.RunUntil([&] { return tls.got_close_notify && client.PeerFin(); }, 30 * kSec)) << Describe(bed);
  client.close_after_send = true;
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 60 * kSec)) << Describe(bed);
  EXPECT_FALSE(client.Reset() || backend.Reset());
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakes), 1u);
  EXPECT_EQ(bed.Counted(Counter::kTlsCloseNotifies), 1u);
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakeFailures) + bed.Counted(Counter::kTlsSessionFailures), 0u);
  EXPECT_EQ(bed.Counted(Counter::kBytesClientToBackend), up.size());
  EXPECT_EQ(bed.Counted(Counter::kBytesBackendToClient), down.size());
  EXPECT_EQ(bed.UnexpectedDrops(), "");
}

// A burst starts with records that fit one segment, then grows to full records.
TEST(TlsProxy, SmallRecordsAtBurstStartThenFull) {
  ProxyBed bed(TlsBed());
  SslClient tls("www.example.com");
  Conn& client = bed.Connect(kPortTls);
  tls.Attach(client);
  tls.plain_out = {'G', 'E', 'T'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() == 3; }))
      << Describe(bed);
  const size_t handshake_bytes = client.in.size();
  bed.LastBackendConn()->out = PatternBytes(3, 256 * kKiB);
  ASSERT_TRUE(bed.RunUntil([&] { return tls.plain_in.size() == 256 * kKiB; }, 60 * kSec)) << Describe(bed);
  const std::vector<uint8_t> app(client.in.begin() + std::ptrdiff_t(handshake_bytes), client.in.end());
  const std::vector<size_t> lens = RecordLengths(app);
  ASSERT_GT(lens.size(), 10u);
  // Which records are small depends on ACK timing; the first always is, and the bulk
  // of the stream goes in full records.
  EXPECT_LE(lens.front(), client.rec.snd_mss_bytes);
  size_t full = 0;
  std::string all;
  for (size_t n : lens) {
    full += n == 16384 + 17 ? 1 : 0;
    all += std::to_string(n) + " ";
  }
  SCOPED_TRACE(all);
  EXPECT_GE(full, 10u);
}

TEST(TlsProxy, SniRoutesToAnotherPool) {
  ProxyBed bed(TlsBed());
  SslClient tls("api.example.com");
  Conn& client = bed.Connect(kPortTls);
  tls.Attach(client);
  tls.plain_out = {'h', 'i'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() == 2; }))
      << Describe(bed);
  EXPECT_EQ(bed.LastBackendConn()->backend, 2);
  EXPECT_EQ(tls.error, 0);
}

TEST(TlsProxy, AlpnRoutesToAnotherPool) {
  ProxyBed bed(TlsBed());
  // Pool 1 (least connections) starts with backend 0 too; occupy it first so the pick
  // tells the pools apart: a session on pool 0 makes pool 1's least-loaded choice differ.
  SslClient tls("www.example.com", "h2");
  Conn& client = bed.Connect(kPortTls);
  tls.Attach(client);
  tls.plain_out = {'h', '2'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() == 2; }))
      << Describe(bed);
  EXPECT_EQ(tls.Alpn(), "h2");
  EXPECT_EQ(bed.PoolActive(1, bed.LastBackendConn()->backend), 1u);
  EXPECT_EQ(bed.PoolActive(0, bed.LastBackendConn()->backend), 0u);
}

// Not TLS at all: an alert, our FIN, no backend connection.
TEST(TlsProxy, PlainHttpGetsAnAlertAndNoBackend) {
  ProxyBed bed(TlsBed());
  Conn& client = bed.Connect(kPortTls);
  const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  client.out.assign(get.begin(), get.end());
  ASSERT_TRUE(bed.RunUntil([&] { return client.PeerFin(); }, 10 * kSec)) << Describe(bed);
  ASSERT_GE(client.in.size(), 7u);
  EXPECT_EQ(client.in[0], 21);  // an alert record
  EXPECT_EQ(client.in[5], 2);   // fatal
  EXPECT_EQ(bed.BackendConns().size(), 0u);
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakeFailures), 1u);
  client.close_after_send = true;
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 30 * kSec)) << Describe(bed);
}

// A client that connects and says nothing is reset when the handshake time is up.
TEST(TlsProxy, SilentClientTimesOut) {
  ProxyBed bed(TlsBed());
  Conn& client = bed.Connect(kPortTls);
  ASSERT_TRUE(bed.RunUntil([&] { return client.Connected(); })) << Describe(bed);
  bed.RunFor(1500 * kMs);
  EXPECT_FALSE(client.Reset());
  ASSERT_TRUE(bed.RunUntil([&] { return client.Reset(); }, 2 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakeTimeouts), 1u);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Engine().ActiveSessions() == 0; }, 5 * kSec)) << Describe(bed);
}

// The client leaves (FIN) half way through its ClientHello: we close too, no backend.
TEST(TlsProxy, ClientFinDuringHandshake) {
  ProxyBed bed(TlsBed());
  Conn& client = bed.Connect(kPortTls);
  client.SendAndClose({22, 3, 1, 0, 200, 1, 0});  // a record header promising 200 bytes
  ASSERT_TRUE(bed.RunUntil([&] { return client.Finished() && bed.Engine().ActiveSessions() == 0; }, 30 * kSec))
      << Describe(bed);
  EXPECT_EQ(bed.BackendConns().size(), 0u);
  EXPECT_FALSE(client.Reset());
}

// A bad certificate file: the listener is left out and the error names the config line.
TEST(TlsProxy, BadCertificateFileIsReported) {
  BedOptions o;
  o.edit_config = [](ConfigSnapshot& c) {
    c.source = "t.toml";
    ListenerConfig l{"https", IpAddr::V4(kVip), kPortTls, ListenerMode::kTls, 0, false};
    l.tls.certificates.push_back({"/nonexistent/cert.pem", SiteCert().key_file, 7});
    c.listeners.push_back(l);
  };
  ProxyBed bed(o);
  ASSERT_EQ(bed.tls_errors.size(), 1u);
  EXPECT_EQ(bed.tls_errors[0].rfind("t.toml:7: listener[3].tls.certificates[0]: ", 0), 0u) << bed.tls_errors[0];
}

// Many sessions over a lossy, reordering client link: every byte arrives once, in order.
TEST(TlsProxy, LossySoak) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    BedOptions o = TlsBed();
    o.seed = seed;
    o.front.loss = 0.02;
    o.front.delay_us = 2000;
    o.front.jitter_us = 1000;
    ProxyBed bed(o);
    constexpr int kClients = 4;
    EchoClients echo(bed, kClients, 10, 128 * kKiB);
    ASSERT_TRUE(bed.RunUntil([&] { return echo.AllBack(); }, 120 * kSec)) << "seed " << seed << "\n" << Describe(bed);
    for (auto& t : echo.tls) {
      EXPECT_EQ(t->plain_in, t->plain_out) << "seed " << seed;
      EXPECT_EQ(t->error, 0);
    }
    EXPECT_EQ(bed.Counted(Counter::kTlsHandshakes), uint64_t(kClients));
  }
}

// ---- Latency histograms (docs/API.md, "Latency") -----------------------------------------

// On the fake clock, 1 ms each way on the front link and 100 us on the back: the TLS
// 1.3 handshake (client's TCP connection established -> its Finished read) is one
// round trip, about 2 ms; one request-response (the backend answers 5 ms after the
// request arrived) about 0.1 + 5 + 0.1 ms. One observation each.
TEST(TlsProxy, HandshakeAndRequestAreOneObservationEach) {
  BedOptions o = TlsBed();
  o.prelearn_neighbors = true;  // no ARP in the measured intervals
  o.front.delay_us = 1000;
  ProxyBed bed(o);
  SslClient tls("www.example.com", "http/1.1");
  Conn& client = bed.Connect(kPortTls);
  tls.Attach(client);
  const std::string ask = "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
  tls.plain_out.assign(ask.begin(), ask.end());
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() == ask.size(); }))
      << Describe(bed);
  const LatencyHistogram& hs = bed.Counters().latency[Idx(Latency::kTlsHandshake)];
  ASSERT_EQ(hs.Count(), 1u);
  EXPECT_GE(hs.sum_us, 2'000u);
  EXPECT_LE(hs.sum_us, 3'000u);
  const LatencyHistogram& request = bed.Counters().latency[Idx(Latency::kRequest)];
  EXPECT_EQ(request.Count(), 0u);

  bed.RunFor(5 * kMs);
  Conn& backend = *bed.LastBackendConn();
  backend.out = PatternBytes(60, 100 * kKiB);  // several records, several pumps
  ASSERT_TRUE(bed.RunUntil([&] { return tls.plain_in.size() == backend.out.size(); })) << Describe(bed);
  ASSERT_EQ(request.Count(), 1u);
  EXPECT_GE(request.sum_us, 5'200u);
  EXPECT_LE(request.sum_us, 6'500u);
  EXPECT_EQ(hs.Count(), 1u);
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakes), 1u);
  EXPECT_EQ(tls.error, 0);
}

}  // namespace
}  // namespace baton::dp::proxytest

namespace baton::dp::proxytest {
namespace {

// ---- Sessions moving between workers (tests/proxy/flow_move_test.cc for plain TCP) ----

// Two workers, eight TLS echo sessions with libssl clients, loss on the front link. In
// the middle, `move` runs (a halt and take-over, or a rebalance); every client must get
// back exactly what it sent, with no alert and no reset, through the same TLS session.
void TlsSessionsMove(const std::function<void(ProxyBed&)>& move) {
  BedOptions o = TlsBed();
  o.workers = 2;
  o.prelearn_neighbors = true;
  o.tcp.syn_backlog = 64;
  o.front.loss = 0.01;
  o.front.delay_us = 1000;
  ProxyBed bed(o);
  constexpr int kClients = 8;
  EchoClients echo(bed, kClients, 40, 256 * kKiB);
  ASSERT_TRUE(bed.RunUntil([&] {
    size_t total = 0;
    for (auto& t : echo.tls) total += t->plain_in.size();
    return total >= kClients * 96 * kKiB;
  }, 60 * kSec)) << Describe(bed);
  ASSERT_GT(bed.Engine(0).ActiveSessions(), 0u);
  ASSERT_GT(bed.Engine(1).ActiveSessions(), 0u);
  move(bed);
  ASSERT_TRUE(bed.RunUntil([&] { return echo.AllBack(); }, 120 * kSec)) << Describe(bed);
  for (size_t i = 0; i < kClients; ++i) {
    EXPECT_EQ(echo.tls[i]->plain_in, echo.tls[i]->plain_out) << "client " << i;
    EXPECT_EQ(echo.tls[i]->error, 0) << "client " << i;
    EXPECT_FALSE(echo.clients[i]->Reset()) << "client " << i;
  }
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakes), uint64_t(kClients));  // no new handshake
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakeFailures) + bed.Counted(Counter::kTlsSessionFailures), 0u);
  EXPECT_EQ(bed.UnexpectedDrops(), "");
}

TEST(TlsProxy, HaltedWorkersTlsSessionsContinueOnTheOther) {
  TlsSessionsMove([](ProxyBed& bed) {
    const uint32_t owned = bed.Engine(1).ActiveSessions();
    bed.Halt(1);
    bed.RunFor(20 * kMs);
    EXPECT_EQ(bed.TakeOver(1, 0), owned);
    EXPECT_EQ(bed.Counted(Counter::kSessionsAdopted), owned);
  });
}

TEST(TlsProxy, RebalancedTlsSessionsContinueOnTheOther) {
  TlsSessionsMove([](ProxyBed& bed) {
    const uint32_t owned = bed.Engine(0).ActiveSessions();
    EXPECT_EQ(bed.Rebalance(0, 1, 1.0), owned);
    EXPECT_EQ(bed.Engine(0).ActiveSessions(), 0u);
  });
}

// ---- Live reload (ProxyEngine::Reconfigure; docs/CONFIG.md "Live reload") ------------

// A certificate of the test's own in its own folder, so the test may overwrite the files.
struct OwnedCert {
  TestCert c;
  explicit OwnedCert(const std::vector<std::string>& names) : c(MakeCertFiles(names)) {}
  ~OwnedCert() {
    std::filesystem::remove_all(c.dir);
    X509_free(c.cert);
  }
};

// Copies `from`'s PEM files over `to`'s: what an operator's cert renewal does.
void ReplaceFiles(const TestCert& from, const TestCert& to) {
  std::filesystem::copy_file(from.cert_file, to.cert_file, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(from.key_file, to.key_file, std::filesystem::copy_options::overwrite_existing);
}

X509* PeerCert(const SslClient& t) { return SSL_get0_peer_certificate(t.ssl); }

// A handshake in flight when the certificates are reloaded finishes with the old one;
// the next handshake gets the new one.
TEST(TlsProxyReload, HandshakeInFlightFinishesAcrossCertificateReload) {
  // Distinct subjects: the client trusts both, and looks trust anchors up by subject.
  OwnedCert old_cert({"old.example.com", "www.example.com"}), new_cert({"new.example.com", "www.example.com"});
  const std::string cert_file = old_cert.c.cert_file, key_file = old_cert.c.key_file;
  BedOptions o = TlsBed();
  o.edit_config = [inner = o.edit_config, cert_file, key_file](ConfigSnapshot& c) {
    inner(c);
    c.listeners.back().tls.certificates = {{cert_file, key_file, 1}};
  };
  ProxyBed bed(o);
  ASSERT_TRUE(bed.tls_errors.empty()) << bed.tls_errors.front();
  // The client's first copy of the old certificate, before the files change.
  X509* old_x509 = X509_dup(old_cert.c.cert);
  SslClient first("www.example.com", "", {old_x509, new_cert.c.cert});
  Conn& c1 = bed.Connect(kPortTls);
  first.Attach(c1);
  first.plain_out = {'o', 'n', 'e'};
  // Our flight has reached the client; its Finished is on the wire, not yet with us.
  ASSERT_TRUE(bed.RunUntil([&] { return !c1.in.empty(); })) << Describe(bed);
  ASSERT_EQ(bed.Counted(Counter::kTlsHandshakes), 0u);
  ReplaceFiles(new_cert.c, old_cert.c);
  ASSERT_EQ(bed.Reload(nullptr), std::vector<std::string>{});
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() == 3; }))
      << Describe(bed);
  EXPECT_EQ(first.error, 0);
  EXPECT_EQ(X509_cmp(PeerCert(first), old_x509), 0);
  bed.LastBackendConn()->out = {'1'};
  ASSERT_TRUE(bed.RunUntil([&] { return first.plain_in.size() == 1; })) << Describe(bed);

  SslClient second("www.example.com", "", {old_x509, new_cert.c.cert});
  Conn& c2 = bed.Connect(kPortTls);
  second.Attach(c2);
  second.plain_out = {'t', 'w', 'o'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() != nullptr && bed.BackendConns().size() == 2 &&
                                        bed.LastBackendConn()->in.size() == 3; }))
      << Describe(bed);
  EXPECT_EQ(X509_cmp(PeerCert(second), new_cert.c.cert), 0);
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakes), 2u);
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakeFailures), 0u);
  EXPECT_EQ(bed.UnexpectedDrops(), "");
  X509_free(old_x509);
}

// A certificate reload that cannot read a file changes nothing.
TEST(TlsProxyReload, BadCertificateReloadChangesNothing) {
  ProxyBed bed(TlsBed());
  const TlsListeners* before = &bed.LiveTls();
  const std::vector<std::string> errors = bed.Reload([](ConfigSnapshot& c) {
    c.source = "t.toml";
    c.listeners.back().tls.certificates[0].cert_file = "/nonexistent/cert.pem";
    c.listeners.back().tls.certificates[0].line = 9;
  });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("t.toml:9: listener[3].tls.certificates[0]: ", 0), 0u) << errors[0];
  EXPECT_EQ(&bed.LiveTls(), before);
}

// A plain TCP session whose backend the reload removes carries on, counted nowhere;
// the backends that stay keep their counters; new sessions see the new pool.
TEST(TlsProxyReload, SessionKeepsItsBackendWhenTheReloadRemovesIt) {
  ProxyBed bed(TlsBed());
  Conn& client = bed.Connect(kPortRoundRobin);
  client.out = {'a'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() == 1; }))
      << Describe(bed);
  Conn& backend = *bed.LastBackendConn();
  ASSERT_EQ(backend.backend, 0);  // round robin starts at the first
  Conn& other = bed.Connect(kPortRoundRobin);
  other.out = {'b'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.BackendConns().size() == 2 && bed.LastBackendConn()->in.size() == 1; }))
      << Describe(bed);
  ASSERT_EQ(bed.LastBackendConn()->backend, 1);
  ASSERT_EQ(bed.PoolActive(0, 0), 1u);
  ASSERT_EQ(bed.PoolActive(0, 1), 1u);

  // Pool "web" loses backend 0 and gets its backends in another order; pool "web-lc" goes.
  ASSERT_EQ(bed.Reload([](ConfigSnapshot& c) {
    c.pools[0].backends = {c.pools[0].backends[2], c.pools[0].backends[1]};
    c.pools[0].backends[0].weight = 3;
    c.pools.erase(c.pools.begin() + 1);
    c.listeners.erase(c.listeners.begin() + 2);  // "http-lc" used "web-lc"
    for (ListenerConfig& l : c.listeners) l.pool = 0;
    for (TlsRouteConfig& r : c.listeners.back().tls.routes) r.pool = r.pool == kApiPool ? 1 : 0;
  }), std::vector<std::string>{});
  ASSERT_EQ(bed.Engine().Pools().size(), 2u);
  EXPECT_EQ(bed.PoolActive(0, 0), 0u);  // now 198.18.3.103
  EXPECT_EQ(bed.PoolActive(0, 1), 1u);  // 198.18.3.102, carried over with its session
  EXPECT_EQ(bed.Engine().Pools()[0].Counters()[1].sessions_started, 1u);

  // Both old sessions still move bytes both ways.
  client.out.push_back('c');
  backend.out = {'x', 'y'};
  ASSERT_TRUE(bed.RunUntil([&] { return backend.in.size() == 2 && client.in.size() == 2; })) << Describe(bed);
  // A new session goes to the new first backend (weight 3).
  Conn& third = bed.Connect(kPortRoundRobin);
  third.out = {'d'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.BackendConns().size() == 3 && bed.LastBackendConn()->in.size() == 1; }))
      << Describe(bed);
  EXPECT_EQ(bed.LastBackendConn()->backend, 2);
  EXPECT_EQ(bed.PoolActive(0, 0), 1u);

  // The uncounted session ends cleanly and leaves the counters alone.
  client.close_after_send = true;
  backend.app = [](Conn& self) {
    if (self.PeerFin()) self.close_after_send = true;
  };
  ASSERT_TRUE(bed.RunUntil([&] { return client.Finished() && backend.Finished(); }, 60 * kSec)) << Describe(bed);
  EXPECT_FALSE(client.Reset() || backend.Reset());
  EXPECT_EQ(bed.PoolActive(0, 1), 1u);
  EXPECT_EQ(bed.PoolActive(0, 0), 1u);
  EXPECT_EQ(bed.Counted(Counter::kReloadSessionsReset), 0u);
  EXPECT_EQ(bed.UnexpectedDrops(), "");
}

// A removed listener takes no new SYN; its established session carries on, the one
// still in its TLS handshake is reset.
TEST(TlsProxyReload, RemovedListenerResetsHandshakesKeepsEstablished) {
  ProxyBed bed(TlsBed());
  SslClient done("www.example.com");
  Conn& c1 = bed.Connect(kPortTls);
  done.Attach(c1);
  done.plain_out = {'h', 'i'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() == 2; }))
      << Describe(bed);
  Conn& backend = *bed.LastBackendConn();
  Conn& silent = bed.Connect(kPortTls);  // TCP up, no ClientHello yet
  ASSERT_TRUE(bed.RunUntil([&] { return silent.Connected(); })) << Describe(bed);

  ASSERT_EQ(bed.Reload([](ConfigSnapshot& c) { c.listeners.pop_back(); }), std::vector<std::string>{});
  ASSERT_TRUE(bed.RunUntil([&] { return silent.Reset(); }, 5 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.Counted(Counter::kReloadSessionsReset), 1u);
  backend.out = {'o', 'k'};
  ASSERT_TRUE(bed.RunUntil([&] { return done.plain_in.size() == 2; })) << Describe(bed);
  EXPECT_EQ(done.error, 0);
  Conn& late = bed.Connect(kPortTls);
  ASSERT_TRUE(bed.RunUntil([&] { return late.Reset(); }, 5 * kSec)) << Describe(bed);
  EXPECT_GE(bed.Dropped(DropReason::kTcpNoListener), 1u);

  // And back: a listener added by a reload takes sessions at once.
  ASSERT_EQ(bed.Reload([](ConfigSnapshot& c) {
    ListenerConfig l = TlsBedListenerForTest();
    c.listeners.push_back(l);
  }), std::vector<std::string>{});
  SslClient again("www.example.com");
  Conn& c3 = bed.Connect(kPortTls);
  again.Attach(c3);
  again.plain_out = {'!'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() != &backend && bed.LastBackendConn()->in.size() == 1; }))
      << Describe(bed);
  EXPECT_EQ(again.error, 0);
}

// An engine started without TLS gets its first TLS listener by a reload.
TEST(TlsProxyReload, FirstTlsListenerByReload) {
  BedOptions o;
  o.tcp.buffer_bytes = 64 * kKiB;  // a TLS flight must fit (TlsBed's size)
  ProxyBed bed(o);
  Conn& plain = bed.Connect(kPortRoundRobin);
  plain.out = {'p'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() == 1; }))
      << Describe(bed);
  ASSERT_EQ(bed.Reload([](ConfigSnapshot& c) { TlsBed().edit_config(c); }), std::vector<std::string>{});
  SslClient tls("www.example.com");
  Conn& client = bed.Connect(kPortTls);
  tls.Attach(client);
  tls.plain_out = {'t'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.BackendConns().size() == 2 && bed.LastBackendConn()->in.size() == 1; }))
      << Describe(bed);
  EXPECT_EQ(tls.error, 0);
  plain.out.push_back('q');
  ASSERT_TRUE(bed.RunUntil([&] { return bed.BackendConns()[0]->in.size() == 2; })) << Describe(bed);
}

// A ticket issued before a rotation still opens after it (the keys a resumption would
// try) and libssl resumes with it, a config or certificate reload keeps the keys, and
// after kMaxRotatedTicketKeys rotations the first key is gone (a full handshake).
TEST(TlsProxyReload, TicketResumesAcrossOneRotation) {
  ProxyBed bed(TlsBed());
  SslClient t("www.example.com");
  Conn& c = bed.Connect(kPortTls);
  t.Attach(c);
  t.plain_out = {'q'};
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() == 1; }))
      << Describe(bed);
  Conn& backend = *bed.LastBackendConn();
  backend.out = {'r'};
  ASSERT_TRUE(bed.RunUntil([&] { return t.plain_in.size() == 1; })) << Describe(bed);  // tickets read too
  SSL_SESSION* session = SSL_get1_session(t.ssl);
  ASSERT_NE(session, nullptr);
  const unsigned char* tick = nullptr;
  size_t tick_len = 0;
  SSL_SESSION_get0_ticket(session, &tick, &tick_len);
  ASSERT_GT(tick_len, 0u);
  const crypto::ByteView ticket(tick, tick_len);
  std::optional<crypto::CryptoContext> ctx = crypto::CryptoContext::Create();
  ASSERT_TRUE(ctx);
  constexpr size_t kTlsListener = 3;  // TlsBed's, after the bed's three TCP listeners
  auto opens = [&] {
    crypto::tls::TicketContents contents;
    return crypto::tls::OpenTls13Ticket(*ctx, bed.LiveTls().For(kTlsListener)->server.ticket_keys, ticket, contents);
  };
  ASSERT_TRUE(opens());
  const crypto::tls::TicketKey first_key = bed.LiveTls().For(kTlsListener)->ticket_keys[0];

  bed.RotateTicketKeys();
  const std::vector<crypto::tls::TicketKey>* keys = &bed.LiveTls().For(kTlsListener)->ticket_keys;
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_NE((*keys)[0].name, first_key.name);
  EXPECT_EQ((*keys)[1].name, first_key.name);
  EXPECT_EQ(bed.LiveTls().For(kTlsListener)->tls12_ticket_keys.size(), 2u);
  EXPECT_TRUE(opens());
  // libssl resumes with it (`t` is still open: freeing an SSL that did not shut down
  // makes its session non-resumable).
  auto resumes = [&] {
    SslClient r("www.example.com");
    SSL_set_session(r.ssl, session);
    Conn& rc = bed.Connect(kPortTls);
    r.Attach(rc);
    r.plain_out = {'x'};
    const size_t n = bed.BackendConns().size();
    EXPECT_TRUE(bed.RunUntil([&] { return bed.BackendConns().size() == n + 1 && bed.LastBackendConn()->in.size() == 1; }))
        << Describe(bed);
    EXPECT_EQ(r.error, 0);
    const bool reused = SSL_session_reused(r.ssl) == 1;
    SSL_shutdown(r.ssl);
    rc.app = nullptr;  // `r` ends here; its connection stays open, idle
    return reused;
  };
  EXPECT_TRUE(resumes());
  EXPECT_EQ(bed.Counted(Counter::kTlsResumed), 1u);
  // The session begun before the rotation carries on.
  t.plain_out.push_back('s');
  ASSERT_TRUE(bed.RunUntil([&] { return backend.in.size() == 2; })) << Describe(bed);

  ASSERT_EQ(bed.Reload(nullptr), std::vector<std::string>{});  // reload-certs keeps the keys
  keys = &bed.LiveTls().For(kTlsListener)->ticket_keys;
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[1].name, first_key.name);
  for (size_t i = 1; i < kMaxRotatedTicketKeys; ++i) bed.RotateTicketKeys();
  EXPECT_EQ(bed.LiveTls().For(kTlsListener)->ticket_keys.size(), kMaxRotatedTicketKeys);
  EXPECT_FALSE(opens());
  EXPECT_FALSE(resumes());  // a full handshake instead
  SSL_SESSION_free(session);
  EXPECT_EQ(t.error, 0);
  EXPECT_EQ(bed.Counted(Counter::kTlsHandshakeFailures), 0u);
}

}  // namespace
}  // namespace baton::dp::proxytest
