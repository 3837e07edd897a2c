// Per-core TLS limits, one core, one run: how far our record layer and handshake are from
// the raw primitives under them.
//  (a) ipsec-mb AES-128-GCM / AES-256-GCM / ChaCha20-Poly1305 seal and open of 16 KiB
//      buffers through CryptoContext (GB/s, bytes per TSC cycle);
//  (b) TlsServer::WriteApp making 16 KiB records, and TlsServer::Input opening them, on a
//      connected server (GB/s, as a ratio to (a));
//  (c) libcrypto X25519 keygen+derive and ECDSA P-256 sign per second: the asymmetric work
//      our server does per handshake;
//  (d) full handshakes against libssl as the client in the same thread, timing only the
//      time inside our server's calls (the client's time reported apart), as a ratio to (c).
// Each measurement runs --seconds, in 5 rounds; the table gives the median round and the
// spread (max-min)/median. Prints a Markdown report, then CSV lines ("bench," header,
// "tls_core," rows) on stdout.
//
//   tls_core_bench [--seconds S] [--core N] [--commit ID] [--smoke]
//
// --smoke: 0.03 s per measurement (about 1 s in all), for the meson test that checks the
// report's shape. --commit defaults to $BATON_COMMIT, else "unknown".

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sched.h>
#include <x86intrin.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/aead.h"
#include "crypto/tls/record.h"
#include "crypto/tls/server.h"

// Last: its many short macros must not reach the headers above.
#include <intel-ipsec-mb.h>

namespace {

using namespace baton::crypto;
using namespace baton::crypto::tls;
using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

constexpr size_t kBufBytes = 16384;  // one full TLS record of plaintext
constexpr int kRounds = 5;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "tls_core_bench: %s\n", what);
  std::exit(1);
}

uint64_t Tsc() { return __rdtsc(); }

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// TSC ticks per second, measured against the steady clock.
double MeasureTscHz(double seconds) {
  const auto t0 = Clock::now();
  const uint64_t c0 = Tsc();
  while (Seconds(t0, Clock::now()) < seconds) {
  }
  const uint64_t c1 = Tsc();
  return static_cast<double>(c1 - c0) / Seconds(t0, Clock::now());
}

// One measurement: `run(n)` does some work and returns (units done, TSC ticks it spent).
// Rounds of `seconds / kRounds`; results per round in units per second.
struct Result {
  std::string name, unit;  // unit of the rate: "GB/s", "ops/s", "handshakes/s"
  double rate = 0;          // median round
  double spread = 0;        // (max - min) / median
  double per_cycle = 0;     // units per TSC cycle (bytes/cycle for GB/s rows), 0 = n/a
  double ratio = 0;         // to `ratio_to`, 0 = n/a
  std::string ratio_to;
  std::string note;
};

template <typename Step>
Result Measure(const std::string& name, const std::string& unit, double seconds, double tsc_hz,
               double unit_scale, Step step) {
  (void)step();  // warm-up: caches, lazy key expansion, first-touch pages
  std::array<double, kRounds> rates{};
  std::array<double, kRounds> per_cycle{};
  for (int r = 0; r < kRounds; ++r) {
    double units = 0;
    uint64_t ticks = 0;
    const uint64_t budget = static_cast<uint64_t>(seconds / kRounds * tsc_hz);
    do {
      const auto [u, t] = step();
      units += u;
      ticks += t;
    } while (ticks < budget);
    rates[r] = units / (static_cast<double>(ticks) / tsc_hz) / unit_scale;
    per_cycle[r] = units / static_cast<double>(ticks);
  }
  std::array<double, kRounds> sorted = rates;
  std::sort(sorted.begin(), sorted.end());
  std::array<double, kRounds> pc = per_cycle;
  std::sort(pc.begin(), pc.end());
  Result res;
  res.name = name;
  res.unit = unit;
  res.rate = sorted[kRounds / 2];
  res.spread = res.rate > 0 ? (sorted.back() - sorted.front()) / res.rate : 0;
  res.per_cycle = pc[kRounds / 2];
  return res;
}

// ---------------------------------------------------------------------------------------
// Certificates, sinks, a libssl client

struct CountSink final : OutputSink {
  uint64_t bytes = 0;
  bool Append(ByteView b) noexcept override {
    bytes += b.size();
    return true;
  }
};

struct VecSink final : OutputSink {
  Bytes data;
  bool Append(ByteView b) noexcept override {
    data.insert(data.end(), b.begin(), b.end());
    return true;
  }
};

struct Identity {
  EVP_PKEY* key = nullptr;
  Bytes cert;
  std::vector<Credential> creds;
  Identity() {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (key == nullptr) Die("P-256 keygen");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("baton bench"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    if (X509_sign(x, key, EVP_sha256()) <= 0) Die("X509_sign");
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
  ~Identity() { EVP_PKEY_free(key); }
  Identity(const Identity&) = delete;
  Identity& operator=(const Identity&) = delete;
};

// libssl client settings shared by every handshake (one SSL_CTX, one SSL per handshake).
class ClientCtx {
 public:
  ClientCtx(const Identity& id, const char* suite) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    if (SSL_CTX_set_ciphersuites(ctx_, suite) != 1) Die("SSL_CTX_set_ciphersuites");
    if (SSL_CTX_set1_groups_list(ctx_, "X25519") != 1) Die("SSL_CTX_set1_groups_list");
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
    const unsigned char* p = id.cert.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(id.cert.size()));
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), x);
    X509_free(x);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  ~ClientCtx() { SSL_CTX_free(ctx_); }
  ClientCtx(const ClientCtx&) = delete;
  ClientCtx& operator=(const ClientCtx&) = delete;
  SSL_CTX* get() { return ctx_; }

 private:
  SSL_CTX* ctx_ = nullptr;
};

// One handshake: a fresh libssl client and a fresh TlsServer. TSC ticks spent in our
// server (construction and Input) and in the client (libssl calls, BIO moves) are added to
// `server_ticks` and `client_ticks`. Returns the connected server, or nullptr.
std::unique_ptr<TlsServer> Handshake(ClientCtx& cc, const TlsServerConfig& config,
                                     CryptoContext& ctx, uint64_t& server_ticks,
                                     uint64_t& client_ticks) {
  uint64_t t0 = Tsc();
  SSL* ssl = SSL_new(cc.get());
  BIO* to_client = BIO_new(BIO_s_mem());
  BIO* from_client = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(to_client, -1);
  SSL_set_bio(ssl, to_client, from_client);
  SSL_set_connect_state(ssl);
  client_ticks += Tsc() - t0;

  t0 = Tsc();
  auto server = std::make_unique<TlsServer>(config, ctx);
  server_ticks += Tsc() - t0;

  VecSink out, app;
  static thread_local Bytes buf(1 << 16);
  bool ok = false;
  for (int i = 0; i < 6 && !ok; ++i) {
    t0 = Tsc();
    const int r = SSL_do_handshake(ssl);
    const int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
    const int n = BIO_read(from_client, buf.data(), static_cast<int>(buf.size()));
    client_ticks += Tsc() - t0;
    if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ) break;
    if (n > 0) {
      t0 = Tsc();
      const TlsStatus st = server->Input({buf.data(), static_cast<size_t>(n)}, out, app);
      server_ticks += Tsc() - t0;
      if (st != TlsStatus::kOk) break;
    }
    t0 = Tsc();
    if (!out.data.empty()) BIO_write(to_client, out.data.data(), static_cast<int>(out.data.size()));
    client_ticks += Tsc() - t0;
    out.data.clear();
    ok = r == 1 && server->connected();
  }
  t0 = Tsc();
  SSL_free(ssl);
  ERR_clear_error();
  client_ticks += Tsc() - t0;
  return ok ? std::move(server) : nullptr;
}

// ---------------------------------------------------------------------------------------
// Measurements

TrafficKey FixedKey(AeadAlg alg) {
  TrafficKey k;
  k.alg = alg;
  for (size_t i = 0; i < k.key.size(); ++i) k.key[i] = static_cast<uint8_t>(i * 3 + 1);
  for (size_t i = 0; i < k.iv.size(); ++i) k.iv[i] = static_cast<uint8_t>(i + 0x60);
  return k;
}

const char* AlgName(AeadAlg a) {
  switch (a) {
    case AeadAlg::kAes128Gcm: return "AES-128-GCM";
    case AeadAlg::kAes256Gcm: return "AES-256-GCM";
    case AeadAlg::kChacha20Poly1305: return "ChaCha20-Poly1305";
  }
  return "?";
}

const char* SuiteName(AeadAlg a) {
  switch (a) {
    case AeadAlg::kAes128Gcm: return "TLS_AES_128_GCM_SHA256";
    case AeadAlg::kAes256Gcm: return "TLS_AES_256_GCM_SHA384";
    case AeadAlg::kChacha20Poly1305: return "TLS_CHACHA20_POLY1305_SHA256";
  }
  return "?";
}

struct Options {
  double seconds = 1.0;
  int core = -1;
  std::string commit;
  bool smoke = false;
};

struct Bench {
  Options opt;
  double tsc_hz = 0;
  CryptoContext ctx;
  Identity id;
  TlsServerConfig config;
  std::vector<Result> results;

  Bench(const Options& o, double hz, CryptoContext c) : opt(o), tsc_hz(hz), ctx(std::move(c)) {
    config.credentials = id.creds;
  }

  Result* Find(const std::string& name) {
    for (Result& r : results) {
      if (r.name == name) return &r;
    }
    return nullptr;
  }

  // (a) Seal / Open of 16 KiB through CryptoContext.
  void RawAead(AeadAlg alg) {
    AeadKey key;
    if (ctx.Expand(FixedKey(alg), key) != CryptoStatus::kOk) Die("Expand");
    Bytes buf(kBufBytes, 0xab);
    std::array<uint8_t, kAeadTagBytes> tag{};
    const std::array<uint8_t, 5> aad = {23, 3, 3, 0x40, 0x11};
    uint64_t seq = 0;
    Result seal = Measure(std::string("raw seal ") + AlgName(alg), "GB/s", opt.seconds, tsc_hz, 1e9, [&] {
      const uint64_t t0 = Tsc();
      for (int i = 0; i < 16; ++i) {
        if (ctx.Seal(key, seq++, aad, buf, tag) != CryptoStatus::kOk) Die("Seal");
      }
      return std::pair<double, uint64_t>(16.0 * kBufBytes, Tsc() - t0);
    });
    seal.note = "CryptoContext::Seal, 16 KiB, 5-byte AAD";
    results.push_back(seal);
    // Open needs a valid tag: seal once, then open a fresh copy each time (the copy is
    // outside the timed part).
    Bytes sealed(kBufBytes, 0xcd);
    std::array<uint8_t, kAeadTagBytes> sealed_tag{};
    if (ctx.Seal(key, 7, aad, sealed, sealed_tag) != CryptoStatus::kOk) Die("Seal");
    Result open = Measure(std::string("raw open ") + AlgName(alg), "GB/s", opt.seconds, tsc_hz, 1e9, [&] {
      uint64_t ticks = 0;
      for (int i = 0; i < 16; ++i) {
        std::memcpy(buf.data(), sealed.data(), kBufBytes);
        const uint64_t t0 = Tsc();
        if (ctx.Open(key, 7, aad, buf, sealed_tag) != CryptoStatus::kOk) Die("Open");
        ticks += Tsc() - t0;
      }
      return std::pair<double, uint64_t>(16.0 * kBufBytes, ticks);
    });
    open.note = "CryptoContext::Open, 16 KiB, tag checked";
    results.push_back(open);
  }

  // (b) WriteApp and Input of 16 KiB records on a connected server.
  void Records(AeadAlg alg) {
    ClientCtx cc(id, SuiteName(alg));
    uint64_t st = 0, ct = 0;
    std::unique_ptr<TlsServer> server = Handshake(cc, config, ctx, st, ct);
    if (!server) Die("handshake for the record benchmark failed");
    const Bytes plain(kBufBytes, 0x42);
    CountSink sink;
    Result w = Measure(std::string("WriteApp ") + AlgName(alg), "GB/s", opt.seconds, tsc_hz, 1e9, [&] {
      const uint64_t t0 = Tsc();
      for (int i = 0; i < 16; ++i) {
        if (server->WriteApp(plain, sink) != TlsStatus::kOk) Die("WriteApp");
      }
      return std::pair<double, uint64_t>(16.0 * kBufBytes, Tsc() - t0);
    });
    w.note = "16 KiB plaintext -> one 16406-byte record; sink counts only";
    if (const Result* raw = Find(std::string("raw seal ") + AlgName(alg))) {
      w.ratio = w.rate / raw->rate;
      w.ratio_to = raw->name;
    }
    results.push_back(w);

    // Input: records sealed with the server's read key (from its state) at its read
    // sequence numbers; each pass replays them into a copy of the state.
    const TlsServerState& state = server->session_state();
    auto image = std::make_unique<TlsServerState>(state);
    AeadKey rkey;
    if (ctx.Expand(state.read_key, rkey) != CryptoStatus::kOk) Die("Expand read key");
    constexpr int kBatch = 64;
    Bytes stream;
    Bytes rec(kMaxRecordBytes);
    for (int i = 0; i < kBatch; ++i) {
      size_t written = 0;
      if (Protect(ctx, rkey, state.read_seq + static_cast<uint64_t>(i), ContentType::kApplicationData,
                  plain, 0, rec, written) != RecordStatus::kOk) {
        Die("Protect");
      }
      stream.insert(stream.end(), rec.begin(), rec.begin() + static_cast<long>(written));
    }
    CountSink out, app;
    Result in = Measure(std::string("Input ") + AlgName(alg), "GB/s", opt.seconds, tsc_hz, 1e9, [&] {
      TlsServer copy(config, ctx, *image);
      const uint64_t t0 = Tsc();
      for (int i = 0; i < kBatch; ++i) {
        const size_t len = kRecordHeaderBytes + kBufBytes + kProtectOverheadBytes;
        if (copy.Input({stream.data() + static_cast<size_t>(i) * len, len}, out, app) != TlsStatus::kOk) {
          Die("Input");
        }
      }
      return std::pair<double, uint64_t>(static_cast<double>(kBatch) * kBufBytes, Tsc() - t0);
    });
    in.note = "one whole 16 KiB record per Input call (copied into the state, opened there)";
    if (const Result* raw = Find(std::string("raw open ") + AlgName(alg))) {
      in.ratio = in.rate / raw->rate;
      in.ratio_to = raw->name;
    }
    results.push_back(in);
  }

  // (c) The asymmetric work of one handshake, straight from libcrypto.
  void Asymmetric() {
    EVP_PKEY* peer = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
    if (peer == nullptr) Die("X25519 keygen");
    Result x = Measure("X25519 keygen+derive", "ops/s", opt.seconds, tsc_hz, 1, [&] {
      const uint64_t t0 = Tsc();
      for (int i = 0; i < 16; ++i) {
        EVP_PKEY* mine = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
        EVP_PKEY_CTX* d = EVP_PKEY_CTX_new(mine, nullptr);
        std::array<uint8_t, 32> shared{};
        size_t len = shared.size();
        if (d == nullptr || EVP_PKEY_derive_init(d) <= 0 || EVP_PKEY_derive_set_peer(d, peer) <= 0 ||
            EVP_PKEY_derive(d, shared.data(), &len) <= 0) {
          Die("X25519 derive");
        }
        EVP_PKEY_CTX_free(d);
        EVP_PKEY_free(mine);
      }
      return std::pair<double, uint64_t>(16.0, Tsc() - t0);
    });
    x.note = "EVP_PKEY_Q_keygen + EVP_PKEY_derive";
    results.push_back(x);
    EVP_PKEY_free(peer);

    // CertificateVerify input: 64 spaces, the context string, 0, a SHA-256 transcript hash.
    const std::string_view label = "TLS 1.3, server CertificateVerify";
    Bytes msg(64 + label.size() + 1 + 32, 0x20);
    std::memcpy(msg.data() + 64, label.data(), label.size());
    msg[64 + label.size()] = 0;
    std::memset(msg.data() + 64 + label.size() + 1, 0x77, 32);
    Result s = Measure("ECDSA P-256 sign", "ops/s", opt.seconds, tsc_hz, 1, [&] {
      const uint64_t t0 = Tsc();
      for (int i = 0; i < 16; ++i) {
        EVP_MD_CTX* md = EVP_MD_CTX_new();
        std::array<uint8_t, 80> sig{};
        size_t len = sig.size();
        if (EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, id.key) <= 0 ||
            EVP_DigestSign(md, sig.data(), &len, msg.data(), msg.size()) <= 0) {
          Die("ECDSA sign");
        }
        EVP_MD_CTX_free(md);
      }
      return std::pair<double, uint64_t>(16.0, Tsc() - t0);
    });
    s.note = "EVP_DigestSign SHA-256 over the 130-byte CertificateVerify input";
    results.push_back(s);
    Result both;
    both.name = "asymmetric bound (X25519 + ECDSA)";
    both.unit = "handshakes/s";
    both.rate = 1.0 / (1.0 / x.rate + 1.0 / s.rate);
    both.per_cycle = both.rate / tsc_hz;
    both.note = "1 / (1/X25519 + 1/sign): the best a handshake can do on this core";
    results.push_back(both);
  }

  // (d) Full handshakes; only our server's time counts for the rate.
  void Handshakes() {
    ClientCtx cc(id, SuiteName(AeadAlg::kAes128Gcm));
    uint64_t client_total = 0, server_total = 0, count = 0;
    Result h = Measure("full handshake (server side)", "handshakes/s", opt.seconds, tsc_hz, 1, [&] {
      uint64_t st = 0, ct = 0;
      if (!Handshake(cc, config, ctx, st, ct)) Die("handshake failed");
      server_total += st;
      client_total += ct;
      ++count;
      return std::pair<double, uint64_t>(1.0, st);
    });
    h.note = "X25519, ECDSA P-256, TLS_AES_128_GCM_SHA256; TlsServer construction + Input only";
    if (const Result* bound = Find("asymmetric bound (X25519 + ECDSA)")) {
      h.ratio = h.rate / bound->rate;
      h.ratio_to = bound->name;
    }
    results.push_back(h);
    Result c;
    c.name = "full handshake (libssl client side)";
    c.unit = "handshakes/s";
    c.rate = static_cast<double>(count) / (static_cast<double>(client_total) / tsc_hz);
    c.per_cycle = c.rate / tsc_hz;
    c.ratio = static_cast<double>(client_total) / static_cast<double>(server_total);
    c.ratio_to = "server-side time (client time / server time)";
    c.note = "SSL_new, SSL_do_handshake (verifies our chain and signature), BIO moves";
    results.push_back(c);
  }
};

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string ArchName(uint32_t arch) {
  switch (arch) {
    case IMB_ARCH_SSE: return "SSE";
    case IMB_ARCH_AVX: return "AVX";
    case IMB_ARCH_AVX2: return "AVX2";
    case IMB_ARCH_AVX512: return "AVX512";
    default: return "arch " + std::to_string(arch);
  }
}

std::string Csv(std::string s) {
  std::replace(s.begin(), s.end(), ',', ';');
  return s;
}

Options Parse(int argc, char** argv) {
  Options o;
  if (const char* c = std::getenv("BATON_COMMIT")) o.commit = c;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Die("an option wants a value (--seconds S, --core N, --commit ID)");
      return argv[++i];
    };
    if (a == "--seconds") {
      o.seconds = std::atof(value());
      if (!(o.seconds > 0 && o.seconds <= 30)) Die("--seconds wants a number in (0, 30]");
    } else if (a == "--core") {
      o.core = std::atoi(value());
    } else if (a == "--commit") {
      o.commit = value();
    } else if (a == "--smoke") {
      o.smoke = true;
      o.seconds = 0.03;
    } else if (a == "-h" || a == "--help") {
      std::printf("usage: tls_core_bench [--seconds S per measurement, default 1] [--core N] "
                  "[--commit ID] [--smoke]\n");
      std::exit(0);
    } else {
      Die("unknown argument (see --help)");
    }
  }
  if (o.commit.empty()) o.commit = "unknown";
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  if (opt.core >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(opt.core, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) Die("sched_setaffinity (--core)");
  } else {
    // Stay on the core we started on, so that every TSC read comes from one counter.
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sched_getcpu(), &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
  }
  const double tsc_hz = MeasureTscHz(opt.smoke ? 0.02 : 0.2);
  std::optional<CryptoContext> ctx = CryptoContext::Create();
  if (!ctx) Die("CryptoContext::Create");
  const uint32_t arch = ctx->arch();
  const auto start = Clock::now();
  Bench b(opt, tsc_hz, std::move(*ctx));
  for (const AeadAlg a : {AeadAlg::kAes128Gcm, AeadAlg::kAes256Gcm, AeadAlg::kChacha20Poly1305}) {
    b.RawAead(a);
  }
  for (const AeadAlg a : {AeadAlg::kAes128Gcm, AeadAlg::kAes256Gcm, AeadAlg::kChacha20Poly1305}) {
    b.Records(a);
  }
  b.Asymmetric();
  b.Handshakes();
  const double wall = Seconds(start, Clock::now());

  const std::string cpu = CpuModel();
  const int core = sched_getcpu();
  std::printf("# TLS per-core limits (bench/tls_core_bench)\n\n");
  std::printf("| | |\n|---|---|\n");
  std::printf("| CPU | %s |\n| core | %d |\n| TSC | %.3f GHz (measured) |\n", cpu.c_str(), core,
              tsc_hz / 1e9);
  std::printf("| baton commit | %s |\n| OpenSSL | %s |\n| ipsec-mb | %s (%s code path) |\n",
              opt.commit.c_str(), OpenSSL_version(OPENSSL_VERSION), imb_get_version_str(),
              ArchName(arch).c_str());
  std::printf("| per measurement | %.2f s in %d rounds (median round shown) |\n| wall time | %.1f s |\n\n",
              opt.seconds, kRounds, wall);
  // Byte rates get bytes per cycle; the others cycles per operation.
  std::printf("| measurement | rate | unit | bytes/cycle | cycles/op | spread | ratio | ratio to | notes |\n");
  std::printf("|---|---:|---|---:|---:|---:|---:|---|---|\n");
  for (const Result& r : b.results) {
    const bool bytes = r.unit == "GB/s";
    char ratio[32] = "";
    if (r.ratio > 0) std::snprintf(ratio, sizeof(ratio), "%.3f", r.ratio);
    char bpc[32] = "", cpo[32] = "";
    if (bytes) std::snprintf(bpc, sizeof(bpc), "%.3f", r.per_cycle);
    if (!bytes && r.per_cycle > 0) std::snprintf(cpo, sizeof(cpo), "%.0f", 1.0 / r.per_cycle);
    std::printf("| %s | %.*f | %s | %s | %s | %.1f%% | %s | %s | %s |\n", r.name.c_str(), bytes ? 3 : 0,
                r.rate, r.unit.c_str(), bpc, cpo, r.spread * 100, ratio, r.ratio_to.c_str(),
                r.note.c_str());
  }
  std::printf("\nbench,metric,rate,unit,bytes_per_cycle,cycles_per_op,spread,ratio,ratio_to,cpu,core,"
              "tsc_ghz,commit,openssl,ipsec_mb,ipsec_mb_arch\n");
  for (const Result& r : b.results) {
    const bool bytes = r.unit == "GB/s";
    std::printf("tls_core,%s,%.6g,%s,%.6g,%.6g,%.4f,%.4f,%s,%s,%d,%.3f,%s,%s,%s,%s\n", Csv(r.name).c_str(),
                r.rate, r.unit.c_str(), bytes ? r.per_cycle : 0.0,
                !bytes && r.per_cycle > 0 ? 1.0 / r.per_cycle : 0.0, r.spread, r.ratio,
                Csv(r.ratio_to).c_str(), Csv(cpu).c_str(), core, tsc_hz / 1e9, Csv(opt.commit).c_str(),
                Csv(OpenSSL_version(OPENSSL_VERSION)).c_str(), imb_get_version_str(),
                ArchName(arch).c_str());
  }
  return 0;
}
