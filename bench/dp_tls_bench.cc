// The TLS data plane on one core, without the kernel (issue 7 item 3): a real ProxyEngine
// with a TLS listener (a certificate made at start, loaded by TlsListeners::Load from PEM
// files) between load generators built on our own code: TlsClient over TcpEndpoint as the
// clients, TcpEndpoint backends. Everything runs in one thread; frames are byte buffers
// passed between the engine's L3Stack and the generator, with no loss and no delay (a
// net_ring without DPDK). The clock is the real one (TSC), read once per pass.
//
// The loop copies dataplane/worker.cc: a burst of up to 32 frames per port into
// L3Stack::Input and ProxyEngine::Input, ProxyEngine::Flush every pass, L3Stack::Advance
// and ProxyEngine::Advance every millisecond. The TSC ticks of that block are the engine's
// time; the generator's (framing, TCP and TLS of the peers, checking what arrives) are
// counted apart. No NIC offloads: the engine's L3 verifies and fills IPv4 and TCP
// checksums in software, and so does the generator.
//
// Measured, in the same run on the same core:
//  (a) raw limits: ipsec-mb AES-128-GCM seal of 16 KiB buffers through CryptoContext;
//      libcrypto X25519 keygen+derive and ECDSA P-256 sign per second, and the handshake
//      bound 1 / (1/X25519 + 1/sign);
//  (b) bulk download: --conns clients each send one request, their backend then streams
//      without end; payload Gbit/s and 16 KiB records/s per second of engine time, of
//      generator time, and of both (the whole bed on one core);
//  (c) full handshakes: --conns clients at a time, each connects, does a full TLS 1.3
//      handshake (X25519, ECDSA P-256, TLS_AES_128_GCM_SHA256; the client verifies the
//      chain and host name), sends a request, gets 1 KiB from its backend, sends
//      close_notify and FIN, and is counted when its TCP reaches TIME-WAIT.
// Each of (b) and (c) runs --seconds in 5 rounds; the table gives the median round of the
// engine-time rate, the spread (max-min)/median, and the ratio to (a). Prints a Markdown
// report, then CSV lines ("bench," header, "dp_tls," rows).
//
//   dp_tls_bench [--seconds S] [--conns N] [--hs-warmup S] [--core N] [--commit ID] [--smoke]
//
// --hs-warmup S: handshakes before the measured ones (default 11 s: past the engine's
// TIME-WAIT, so its session table is in steady state). --smoke: about 2 s in all, for the
// meson test that checks the report's shape.
// --commit defaults to $BATON_COMMIT, else "unknown". Exit status 1 when a phase stalls,
// a byte arrives wrong, a frame is malformed or the TLS client fails.

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/aead.h"
#include "bench/dp_tls_peer.h"
#include "dataplane/api/config.h"
#include "dataplane/net/checksum.h"
#include "dataplane/net/counters.h"
#include "dataplane/net/l3_stack.h"
#include "crypto/tls/acceptor.h"
#include "dataplane/proxy/engine.h"
#include "dataplane/proxy/session_space.h"
#include "dataplane/proxy/tls_listeners.h"
#include "dataplane/tcp/connection.h"
#include "dataplane/tcp/segment.h"
#include "tests/testkit/eal.h"

// Last: its many short macros must not reach the headers above.
#include <intel-ipsec-mb.h>

namespace {

using namespace baton;
using namespace baton::dp;
using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

constexpr int kRounds = 5;
constexpr size_t kRecordPlainBytes = 16384;
constexpr size_t kFullRecordBytes = kRecordPlainBytes + 17;  // + content type + GCM tag
constexpr uint16_t kBurst = 32;                              // DataplaneConfig::burst
constexpr uint64_t kTickUs = 1000;                           // Worker::kTickUs

constexpr uint16_t kFront = 0;
constexpr uint16_t kBack = 1;
constexpr uint32_t Ip4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return a << 24 | b << 16 | c << 8 | d; }
constexpr uint32_t kFrontIp = Ip4(198, 18, 2, 11);
constexpr uint32_t kRouterIp = Ip4(198, 18, 2, 1);
constexpr uint32_t kSnatIp = Ip4(198, 18, 3, 11);
constexpr uint32_t kVip = Ip4(198, 18, 100, 10);
constexpr uint32_t kClientNet = Ip4(100, 64, 0, 0);  // clients, behind the router
constexpr uint16_t kTlsPort = 443;
constexpr uint16_t kBackendPort = 80;
constexpr int kBackends = 4;
constexpr uint32_t BackendIp(int i) { return Ip4(198, 18, 3, uint32_t(101 + i)); }
constexpr MacAddr kFrontMac{{0x02, 0, 0, 0, 2, 11}};
constexpr MacAddr kBackMac{{0x02, 0, 0, 0, 3, 11}};
constexpr MacAddr kRouterMac{{0x02, 0, 0, 0, 2, 1}};
constexpr MacAddr BackendMac(int i) { return MacAddr{{0x02, 0, 0, 0, 3, uint8_t(101 + i)}}; }
constexpr const char* kServerName = "bench.baton.test";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "dp_tls_bench: %s\n", what.c_str());
  std::exit(1);
}

uint64_t Tsc() { return __rdtsc(); }

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double MeasureTscHz(double seconds) {
  const auto t0 = Clock::now();
  const uint64_t c0 = Tsc();
  while (Seconds(t0, Clock::now()) < seconds) {
  }
  const uint64_t c1 = Tsc();
  return static_cast<double>(c1 - c0) / Seconds(t0, Clock::now());
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

long MinorFaults() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_minflt;
}

double Median(std::array<double, kRounds> v) {
  std::sort(v.begin(), v.end());
  return v[kRounds / 2];
}
double Spread(std::array<double, kRounds> v) {
  std::sort(v.begin(), v.end());
  const double m = v[kRounds / 2];
  return m > 0 ? (v.back() - v.front()) / m : 0;
}

// One line of the report.
struct Row {
  std::string name, unit;
  double rate = 0;         // median round
  double cycles = 0;       // TSC cycles per unit (per byte for Gbit/s rows), 0 = n/a
  double engine_share = 0; // engine time / (engine + generator time), 0 = n/a
  double spread = 0;
  double ratio = 0;        // to `ratio_to`, 0 = n/a
  std::string ratio_to;
  std::string note;
};

// ---------------------------------------------------------------------------------------
// Raw limits (the measuring idea of tls_core_bench: rounds of TSC-timed batches)

// Rounds of TSC-timed batches; each round's ticks are scaled by its CPU share (thread CPU
// time / wall time), which takes out preemption on a shared core (see Bed::Measure).
template <typename Step>
std::array<double, kRounds> Rounds(double seconds, double tsc_hz, Step step, std::array<double, kRounds>& cycles) {
  (void)step();  // warm-up
  std::array<double, kRounds> rates{};
  for (int r = 0; r < kRounds; ++r) {
    double units = 0;
    uint64_t ticks = 0;
    const uint64_t budget = static_cast<uint64_t>(seconds / kRounds * tsc_hz);
    const double cpu0 = ThreadCpuSeconds();
    const uint64_t wall0 = Tsc();
    do {
      const auto [u, t] = step();
      units += u;
      ticks += t;
    } while (ticks < budget);
    const double share = std::min(1.0, (ThreadCpuSeconds() - cpu0) / (static_cast<double>(Tsc() - wall0) / tsc_hz));
    const double cpu_ticks = static_cast<double>(ticks) * share;
    rates[size_t(r)] = units / (cpu_ticks / tsc_hz);
    cycles[size_t(r)] = cpu_ticks / units;
  }
  return rates;
}

Row RawSeal(crypto::CryptoContext& ctx, double seconds, double tsc_hz) {
  crypto::TrafficKey k;
  k.alg = crypto::AeadAlg::kAes128Gcm;
  for (size_t i = 0; i < k.key.size(); ++i) k.key[i] = static_cast<uint8_t>(i * 3 + 1);
  for (size_t i = 0; i < k.iv.size(); ++i) k.iv[i] = static_cast<uint8_t>(i + 0x60);
  crypto::AeadKey key;
  if (ctx.Expand(k, key) != crypto::CryptoStatus::kOk) Die("Expand");
  Bytes buf(kRecordPlainBytes, 0xab);
  std::array<uint8_t, crypto::kAeadTagBytes> tag{};
  const std::array<uint8_t, 5> aad = {23, 3, 3, 0x40, 0x11};
  uint64_t seq = 0;
  std::array<double, kRounds> cycles{};
  const auto rates = Rounds(seconds, tsc_hz, [&] {
    const uint64_t t0 = Tsc();
    for (int i = 0; i < 16; ++i)
      if (ctx.Seal(key, seq++, aad, buf, tag) != crypto::CryptoStatus::kOk) Die("Seal");
    return std::pair<double, uint64_t>(16.0 * kRecordPlainBytes, Tsc() - t0);
  }, cycles);
  Row r;
  r.name = "raw seal AES-128-GCM";
  r.unit = "Gbit/s";
  r.rate = Median(rates) * 8 / 1e9;
  r.cycles = Median(cycles);
  r.spread = Spread(rates);
  r.note = "CryptoContext::Seal of 16 KiB buffers, 5-byte AAD";
  return r;
}

Row RawX25519(double seconds, double tsc_hz) {
  EVP_PKEY* peer = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  if (peer == nullptr) Die("X25519 keygen");
  std::array<double, kRounds> cycles{};
  const auto rates = Rounds(seconds, tsc_hz, [&] {
    const uint64_t t0 = Tsc();
    for (int i = 0; i < 16; ++i) {
      EVP_PKEY* mine = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
      EVP_PKEY_CTX* d = EVP_PKEY_CTX_new(mine, nullptr);
      std::array<uint8_t, 32> shared{};
      size_t len = shared.size();
      if (d == nullptr || EVP_PKEY_derive_init(d) <= 0 || EVP_PKEY_derive_set_peer(d, peer) <= 0 ||
          EVP_PKEY_derive(d, shared.data(), &len) <= 0)
        Die("X25519 derive");
      EVP_PKEY_CTX_free(d);
      EVP_PKEY_free(mine);
    }
    return std::pair<double, uint64_t>(16.0, Tsc() - t0);
  }, cycles);
  EVP_PKEY_free(peer);
  Row r;
  r.name = "X25519 keygen+derive";
  r.unit = "ops/s";
  r.rate = Median(rates);
  r.cycles = Median(cycles);
  r.spread = Spread(rates);
  r.note = "EVP_PKEY_Q_keygen + EVP_PKEY_derive";
  return r;
}

Row RawSign(EVP_PKEY* key, double seconds, double tsc_hz) {
  // CertificateVerify input: 64 spaces, the context string, 0, a SHA-256 transcript hash.
  const std::string_view label = "TLS 1.3, server CertificateVerify";
  Bytes msg(64 + label.size() + 1 + 32, 0x20);
  std::memcpy(msg.data() + 64, label.data(), label.size());
  msg[64 + label.size()] = 0;
  std::memset(msg.data() + 64 + label.size() + 1, 0x77, 32);
  std::array<double, kRounds> cycles{};
  const auto rates = Rounds(seconds, tsc_hz, [&] {
    const uint64_t t0 = Tsc();
    for (int i = 0; i < 16; ++i) {
      EVP_MD_CTX* md = EVP_MD_CTX_new();
      std::array<uint8_t, 80> sig{};
      size_t len = sig.size();
      if (EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key) <= 0 ||
          EVP_DigestSign(md, sig.data(), &len, msg.data(), msg.size()) <= 0)
        Die("ECDSA sign");
      EVP_MD_CTX_free(md);
    }
    return std::pair<double, uint64_t>(16.0, Tsc() - t0);
  }, cycles);
  Row r;
  r.name = "ECDSA P-256 sign";
  r.unit = "ops/s";
  r.rate = Median(rates);
  r.cycles = Median(cycles);
  r.spread = Spread(rates);
  r.note = "EVP_DigestSign SHA-256 over the 130-byte CertificateVerify input";
  return r;
}

// ---------------------------------------------------------------------------------------
// The certificate: a self-signed P-256 leaf for kServerName, written as PEM files for
// TlsListeners::Load; the client trusts it through an X509_STORE.

struct Certificate {
  std::string dir, cert_file, key_file;
  EVP_PKEY* key = nullptr;
  X509_STORE* trust = nullptr;

  Certificate() {
    char tmpl[] = "/tmp/baton-dp-tls-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
    dir = tmpl;
    key = EVP_EC_gen("P-256");
    if (key == nullptr) Die("P-256 keygen");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(kServerName), -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    const std::string san = std::string("DNS:") + kServerName;
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (X509_sign(x, key, EVP_sha256()) <= 0) Die("X509_sign");
    cert_file = dir + "/cert.pem";
    key_file = dir + "/key.pem";
    FILE* f = std::fopen(cert_file.c_str(), "w");
    if (f == nullptr || PEM_write_X509(f, x) != 1) Die("writing " + cert_file);
    std::fclose(f);
    f = std::fopen(key_file.c_str(), "w");
    if (f == nullptr || PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
      Die("writing " + key_file);
    std::fclose(f);
    trust = X509_STORE_new();
    X509_STORE_add_cert(trust, x);
    X509_free(x);
  }
  ~Certificate() {
    std::remove(cert_file.c_str());
    std::remove(key_file.c_str());
    rmdir(dir.c_str());
    X509_STORE_free(trust);
    EVP_PKEY_free(key);
  }
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;
};

// ---------------------------------------------------------------------------------------
// Frames: fixed slots of one pool, shared by both sides (the engine's FrameSink allocates
// from it; the generator frames its segments into it). Handle = slot + 1.

class FramePool {
 public:
  static constexpr uint32_t kSlotBytes = 2048;
  explicit FramePool(uint32_t slots) : mem_(size_t(slots) * kSlotBytes), len_(slots) {
    free_.reserve(slots);
    for (uint32_t i = slots; i-- > 0;) free_.push_back(i);
  }
  bool Get(uint32_t& slot) {
    if (free_.empty()) return false;
    slot = free_.back();
    free_.pop_back();
    return true;
  }
  void Put(uint32_t slot) { free_.push_back(slot); }
  uint8_t* Data(uint32_t slot) { return mem_.data() + size_t(slot) * kSlotBytes; }
  uint16_t& Len(uint32_t slot) { return len_[slot]; }
  size_t Free() const { return free_.size(); }

 private:
  Bytes mem_;
  std::vector<uint16_t> len_;
  std::vector<uint32_t> free_;
};

// The engine's side of the wire: what the L3 stack sends goes to `out[port]`.
class EngineSink final : public FrameSink {
 public:
  explicit EngineSink(FramePool& pool) : pool_(pool) {}
  Buffer Alloc(uint16_t /*port*/, uint16_t len, const TxMeta& /*tx*/) override {
    uint32_t slot = 0;
    if (len > FramePool::kSlotBytes || !pool_.Get(slot)) {
      ++alloc_failures;
      return {};
    }
    pool_.Len(slot) = len;
    return {{pool_.Data(slot), len}, PacketHandle(slot) + 1};
  }
  void Send(uint16_t port, PacketHandle frame) override { out[port].push_back(uint32_t(frame - 1)); }
  void Discard(PacketHandle frame) override { pool_.Put(uint32_t(frame - 1)); }
  void ReleasePending(uint16_t port, PacketHandle frame, const MacAddr& dst) override {
    dst.Store(pool_.Data(uint32_t(frame - 1)));
    out[port].push_back(uint32_t(frame - 1));
  }
  void DropPending(uint16_t /*port*/, PacketHandle frame) override { pool_.Put(uint32_t(frame - 1)); }

  std::array<std::vector<uint32_t>, 2> out;
  uint64_t alloc_failures = 0;

 private:
  FramePool& pool_;
};

// ---------------------------------------------------------------------------------------
// The generator's peers

// Bytes the backends send: a random pattern of prime length, stored twice so that any
// run of up to kPatternBytes from any offset is contiguous.
constexpr size_t kPatternBytes = 65521;
const Bytes& Pattern() {
  static const Bytes p = [] {
    Bytes b(2 * kPatternBytes);
    std::mt19937 rng(7);
    for (size_t i = 0; i < kPatternBytes; ++i) b[i] = b[i + kPatternBytes] = uint8_t(rng());
    return b;
  }();
  return p;
}

struct Peer {
  tcp::TcpConnection rec;
  Bytes snd, rcv;
  uint32_t local_ip = 0, remote_ip = 0;
  uint16_t local_port = 0, remote_port = 0;
  bool live = false;
  tcp::TcpEndpoint Ep() { return tcp::TcpEndpoint(rec, snd, rcv); }
};

// TLS output of a client into its TCP send ring.
struct TcpSink final : crypto::tls::OutputSink {
  tcp::TcpEndpoint* ep = nullptr;
  bool Append(crypto::ByteView b) noexcept override { return ep->Send(b) == b.size(); }
};

// Application data a client receives: counted and compared with the pattern.
struct CheckSink final : crypto::tls::OutputSink {
  uint64_t bytes = 0;
  bool bad = false;
  bool Append(crypto::ByteView b) noexcept override {
    const Bytes& p = Pattern();
    size_t at = 0;
    while (at < b.size()) {
      const size_t off = (bytes + at) % kPatternBytes;
      const size_t n = std::min(b.size() - at, kPatternBytes);
      if (std::memcmp(b.data() + at, p.data() + off, n) != 0) bad = true;
      at += n;
    }
    bytes += b.size();
    return true;
  }
};

struct Client {
  size_t index = 0;  // in Bed::clients_
  Peer tcp;
  std::unique_ptr<bench::TlsPeerClient> tls;
  CheckSink app;
  bool started = false, request_sent = false, close_sent = false;
  // Record framing of the bytes from the engine, to count records.
  uint8_t hdr_have = 0;
  std::array<uint8_t, 5> hdr{};
  uint32_t body_left = 0;
  uint64_t records = 0, full_records = 0;

  void Scan(const uint8_t* p, size_t n) {
    while (n > 0) {
      if (body_left > 0) {
        const size_t k = std::min<size_t>(n, body_left);
        body_left -= uint32_t(k);
        p += k;
        n -= k;
        continue;
      }
      hdr[hdr_have++] = *p++;
      --n;
      if (hdr_have == hdr.size()) {
        hdr_have = 0;
        body_left = uint32_t(hdr[3]) << 8 | hdr[4];
        if (hdr[0] == 23) {
          ++records;
          if (body_left == kFullRecordBytes) ++full_records;
        }
      }
    }
  }
};

struct Backend {
  Peer tcp;
  int host = 0;
  uint64_t sent = 0;  // pattern bytes queued
  bool streaming = false, replied = false, closed = false;
};

enum class Mode : uint8_t { kBulk, kHandshakes };

struct PhaseResult {
  std::array<double, kRounds> engine_rate{}, gen_rate{}, wall_rate{};   // units/s
  std::array<double, kRounds> engine_records{};                         // records/s (bulk)
  double engine_cycles = 0, gen_cycles = 0, wall_cycles = 0;            // per unit, whole phase
  double engine_share = 0;
  double cpu_share = 0;       // thread CPU time / wall time over the phase
  double units = 0, records = 0, full_records = 0;
  double seconds = 0;
  long minor_faults = 0;
  uint32_t sessions_at_end = 0;
  std::string counters;       // engine counters of interest, as text
};

// ---------------------------------------------------------------------------------------
// The bed: engine, wire and generator for one phase

class Bed {
 public:
  Bed(Mode mode, int conns, const Certificate& cert, double tsc_hz)
      : mode_(mode), conns_(conns), tsc_hz_(tsc_hz), l3_(config_.arp, counters_), pool_(1u << 15), sink_(pool_) {
    config_ = MakeConfig(mode, cert);
    l3_.AddPort(PortIdentity::FromConfig(config_.ports[kFront], kFrontMac, false));
    l3_.AddPort(PortIdentity::FromConfig(config_.ports[kBack], kBackMac, false));
    l3_.AddLocalAddress(kFront, kVip);
    std::vector<std::string> errors;
    tls_ = TlsListeners::Load(config_, errors);
    if (!errors.empty()) Die("TlsListeners::Load: " + errors.front());
    static int beds = 0;  // DPDK object names must be unique while they live
    SessionSpaceConfig sc;
    sc.name = "bench" + std::to_string(beds++);
    sc.capacity = config_.tcp.max_sessions;
    sc.buffer_bytes = config_.tcp.buffer_bytes;
    sc.tls_slot_bytes = sizeof(crypto::tls::TlsAcceptor);
    std::string err;
    space_ = SessionSpace::Create(sc, err);
    if (!space_) Die("SessionSpace::Create: " + err);
    engine_ = std::make_unique<ProxyEngine>(config_, kFront, kBack, uint16_t{0}, uint16_t{1}, l3_, counters_,
                                            tcp::IsnKey{0x0123456789abcdefull, 0xfedcba9876543210ull}, *space_,
                                            &tls_);
    tsc0_ = Tsc();
    now_us_ = 1;
    l3_.LearnFromPeer(kFront, kRouterIp, kRouterMac, now_us_, sink_);
    for (int i = 0; i < kBackends; ++i) l3_.LearnFromPeer(kBack, BackendIp(i), BackendMac(i), now_us_, sink_);
    l3_.Start(now_us_, sink_);

    peer_tcp_ = tcp::TcpConfig{};
    auto ctx = crypto::CryptoContext::Create();
    if (!ctx) Die("CryptoContext::Create");
    crypto_.emplace(std::move(*ctx));
    for (int i = 0; i < conns_; ++i) {
      clients_.push_back(std::make_unique<Client>());
      Client& c = *clients_.back();
      c.index = size_t(i);
      c.tls = std::make_unique<bench::TlsPeerClient>(cert.trust, kServerName, *crypto_);
      c.tcp.snd.resize(64 * 1024);
      c.tcp.rcv.resize(mode_ == Mode::kBulk ? 1024 * 1024 : 64 * 1024);
      StartClient(c);
    }
  }

  // Runs until `done` (checked once a pass) or the stall watchdog fires.
  template <typename Done>
  void RunUntil(Done done, double stall_s) {
    uint64_t last_progress = Tsc();
    double last_units = Units();
    while (!done()) {
      Pass();
      if ((passes_ & 255) == 0) {
        if (Units() != last_units) {
          last_units = Units();
          last_progress = Tsc();
        } else if (double(Tsc() - last_progress) / tsc_hz_ > stall_s) {
          Stall();
        }
      }
    }
  }

  // Runs `seconds` of wall time in kRounds rounds. Times are TSC intervals scaled by the
  // round's CPU share (thread CPU time / wall time): on a core shared with other work,
  // preemption lands in the engine's and the generator's intervals in proportion to
  // their length, and this takes it out (on an idle core the share is ~1). Reading the
  // thread's CPU clock around each block instead costs ~4 us a call here (a syscall).
  PhaseResult Measure(double seconds, double stall_s) {
    PhaseResult r;
    const long faults0 = MinorFaults();
    const double u0 = Units(), rec0 = Records(), full0 = FullRecords();
    double engine_s = 0, gen_s = 0, cpu_s = 0, wall_s = 0;
    for (int round = 0; round < kRounds; ++round) {
      const uint64_t end = Tsc() + uint64_t(seconds / kRounds * tsc_hz_);
      const double cpu0 = ThreadCpuSeconds();
      const uint64_t t0 = Tsc(), e = engine_ticks_, g = gen_ticks_;
      const double u = Units(), rec = Records();
      RunUntil([&] { return Tsc() >= end; }, stall_s);
      const double ws = double(Tsc() - t0) / tsc_hz_;
      const double cs = ThreadCpuSeconds() - cpu0;
      const double share = std::min(1.0, cs / ws);
      const double es = double(engine_ticks_ - e) / tsc_hz_ * share, gs = double(gen_ticks_ - g) / tsc_hz_ * share;
      const double du = Units() - u;
      r.engine_rate[size_t(round)] = es > 0 ? du / es : 0;
      r.gen_rate[size_t(round)] = gs > 0 ? du / gs : 0;
      r.wall_rate[size_t(round)] = cs > 0 ? du / cs : 0;
      r.engine_records[size_t(round)] = es > 0 ? (Records() - rec) / es : 0;
      engine_s += es;
      gen_s += gs;
      cpu_s += cs;
      wall_s += ws;
    }
    r.seconds = wall_s;
    r.cpu_share = cpu_s / wall_s;
    r.minor_faults = MinorFaults() - faults0;
    r.units = Units() - u0;
    r.records = Records() - rec0;
    r.full_records = FullRecords() - full0;
    r.engine_cycles = r.units > 0 ? engine_s * tsc_hz_ / r.units : 0;
    r.gen_cycles = r.units > 0 ? gen_s * tsc_hz_ / r.units : 0;
    r.wall_cycles = r.units > 0 ? cpu_s * tsc_hz_ / r.units : 0;
    r.engine_share = engine_s + gen_s > 0 ? engine_s / (engine_s + gen_s) : 0;
    r.sessions_at_end = engine_->ActiveSessions();
    r.counters = CounterText();
    return r;
  }

  // Bulk: bytes received by the clients; handshakes: connections completed.
  double Units() const { return mode_ == Mode::kBulk ? double(app_bytes_ + LiveAppBytes()) : double(completed_); }
  double Records() const {
    uint64_t n = records_done_;
    for (const auto& c : clients_) n += c->records;
    return double(n);
  }
  double FullRecords() const {
    uint64_t n = full_records_done_;
    for (const auto& c : clients_) n += c->full_records;
    return double(n);
  }
  bool AllConnected() const {
    for (const auto& c : clients_)
      if (!c->tls || !c->tls->connected()) return false;
    return true;
  }
  uint64_t MinClientBytes() const {
    uint64_t m = UINT64_MAX;
    for (const auto& c : clients_) m = std::min(m, c->app.bytes);
    return m;
  }

  // Problems seen so far (bad bytes, bad frames): empty when none.
  std::string Problems() const {
    std::string s;
    if (bad_bytes_) s += "wrong plaintext bytes at a client; ";
    if (bad_frames_) s += std::to_string(bad_frames_) + " malformed frames from the engine; ";
    if (sink_.alloc_failures) s += std::to_string(sink_.alloc_failures) + " engine frame allocations failed; ";
    return s;
  }
  uint64_t strays() const { return strays_; }

 private:
  static ConfigSnapshot MakeConfig(Mode mode, const Certificate& cert) {
    ConfigSnapshot c;
    c.source = "dp_tls_bench";
    if (mode == Mode::kHandshakes) {
      // Each closed session holds its slot (and SNAT port) through the engine's 10 s
      // TIME-WAIT toward the backend: room for 10 s at several thousand handshakes/s.
      c.tcp.max_sessions = 65536;
      c.tcp.buffer_bytes = 64 * 1024;
    } else {
      c.tcp.max_sessions = 1024;
    }
    c.tcp.snat_port_min = 10000;
    c.tcp.snat_port_max = 59999;
    PortConfig front;
    front.name = "front";
    front.roles = kRoleFront;
    front.address = {IpAddr::V4(kFrontIp), 24};
    front.gateway = IpAddr::V4(kRouterIp);
    PortConfig back;
    back.name = "back";
    back.roles = kRoleBack;
    back.address = {IpAddr::V4(kSnatIp), 24};
    c.ports = {front, back};
    PoolConfig pool;
    pool.name = "web";
    pool.algorithm = BalanceAlgorithm::kRoundRobin;
    for (int i = 0; i < kBackends; ++i) {
      BackendConfig b;
      b.address = IpAddr::V4(BackendIp(i));
      b.port = kBackendPort;
      b.weight = 1;
      pool.backends.push_back(b);
    }
    c.pools = {pool};
    ListenerConfig l;
    l.name = "https";
    l.vip = IpAddr::V4(kVip);
    l.port = kTlsPort;
    l.mode = ListenerMode::kTls;
    l.pool = 0;
    l.tls.certificates.push_back({cert.cert_file, cert.key_file, 1});
    c.listeners = {l};
    return c;
  }

  uint64_t NowUs() const { return 1 + uint64_t(double(Tsc() - tsc0_) * 1e6 / tsc_hz_); }

  // One pass: the engine's burst (timed as the engine's), then the generator's turn.
  void Pass() {
    ++passes_;
    now_us_ = NowUs();
    const uint64_t t0 = Tsc();
    for (uint16_t port : {kFront, kBack}) {
      // As the worker does: L3 for the burst, one bulk lookup in the shared tables, then
      // TCP for each segment.
      std::deque<uint32_t>& q = to_engine_[port];
      std::array<SegmentRef, kBurst> refs;
      std::array<FlowRoute, kBurst> routes;
      std::array<uint32_t, kBurst> slots;
      size_t tcp = 0;
      for (uint16_t n = 0; n < kBurst && !q.empty(); ++n) {
        const uint32_t slot = q.front();
        q.pop_front();
        const MutByteView frame(pool_.Data(slot), pool_.Len(slot));
        const InputResult r = l3_.Input(frame, RxMeta{port, IpChecksumState::kUnknown, IpChecksumState::kUnknown},
                                        now_us_, sink_);
        if (r.verdict == Verdict::kTcp) {
          refs[tcp] = {port, r.tcp, ByteView(frame.data() + r.tcp.l4_offset, r.tcp.l4_len)};
          slots[tcp++] = slot;
          continue;
        }
        if (r.verdict == Verdict::kReply) {
          pool_.Len(slot) = r.tx_len;
          sink_.out[port].push_back(slot);
          continue;
        }
        pool_.Put(slot);
      }
      engine_->Route({refs.data(), tcp}, routes, now_us_);
      for (size_t i = 0; i < tcp; ++i) {
        engine_->Input(port, refs[i].view, refs[i].segment, routes[i].idx, now_us_, sink_);
        pool_.Put(slots[i]);
      }
    }
    engine_->Flush(now_us_, sink_);
    if (now_us_ >= next_tick_us_) {
      l3_.Advance(now_us_, sink_);
      engine_->Advance(now_us_, sink_);
      next_tick_us_ = now_us_ + kTickUs;
    }
    engine_->EndPass();
    const uint64_t t1 = Tsc();
    engine_ticks_ += t1 - t0;

    for (uint16_t port : {kFront, kBack}) {
      for (uint32_t slot : sink_.out[port]) {
        Receive(port, slot);
        pool_.Put(slot);
      }
      sink_.out[port].clear();
    }
    for (auto& c : clients_) RunClient(*c);
    for (size_t i = 0; i < backends_.size(); ++i)
      if (backends_[i].tcp.live) RunBackend(i);
    gen_ticks_ += Tsc() - t1;
  }

  // ---- Generator: frames ----

  void Emit(uint16_t port, const MacAddr& src_mac, uint32_t src_ip, uint32_t dst_ip, std::span<const uint8_t> seg) {
    uint32_t slot = 0;
    if (seg.size() + 34 > FramePool::kSlotBytes || !pool_.Get(slot)) Die("generator: no frame buffer");
    uint8_t* f = pool_.Data(slot);
    (port == kFront ? kFrontMac : kBackMac).Store(f);
    src_mac.Store(f + 6);
    StoreBe16(f + 12, 0x0800);
    uint8_t* ip = f + 14;
    const uint16_t total = uint16_t(20 + seg.size());
    ip[0] = 0x45;
    ip[1] = 0;
    StoreBe16(ip + 2, total);
    StoreBe16(ip + 4, ip_id_++);
    StoreBe16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = 6;
    StoreBe16(ip + 10, 0);
    StoreBe32(ip + 12, src_ip);
    StoreBe32(ip + 16, dst_ip);
    SetIpv4HeaderChecksum({ip, 20});
    uint8_t* t = ip + 20;
    std::memcpy(t, seg.data(), seg.size());
    StoreBe16(t + 16, 0);
    StoreBe16(t + 16, FoldChecksum(OnesSum({t, seg.size()}, PseudoHeaderSum(src_ip, dst_ip, 6, uint16_t(seg.size())))));
    pool_.Len(slot) = uint16_t(14 + total);
    to_engine_[port].push_back(slot);
  }

  struct PeerOut final : tcp::SegmentSink {
    Bed* bed;
    uint16_t port;
    MacAddr mac;
    uint32_t src, dst;
    PeerOut(Bed* b, uint16_t p, const MacAddr& m, uint32_t s, uint32_t d) : bed(b), port(p), mac(m), src(s), dst(d) {}
    void Emit(std::span<const uint8_t> seg) noexcept override { bed->Emit(port, mac, src, dst, seg); }
  };

  void Receive(uint16_t port, uint32_t slot) {
    const uint8_t* f = pool_.Data(slot);
    const size_t len = pool_.Len(slot);
    if (len < 14) return void(++bad_frames_);
    const uint16_t type = LoadBe16(f + 12);
    if (type == 0x0806) return Arp(port, f, len);
    if (type != 0x0800 || len < 34) return void(++bad_frames_);
    const uint8_t* ip = f + 14;
    const size_t ihl = size_t(ip[0] & 15) * 4;
    const size_t total = LoadBe16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || total + 14 != len || ip[9] != 6 || !ChecksumOk({ip, ihl}))
      return void(++bad_frames_);
    const uint32_t src = LoadBe32(ip + 12), dst = LoadBe32(ip + 16);
    const std::span<const uint8_t> seg_bytes(ip + ihl, total - ihl);
    if (FoldChecksum(OnesSum(seg_bytes, PseudoHeaderSum(src, dst, 6, uint16_t(seg_bytes.size())))) != 0)
      return void(++bad_frames_);
    tcp::Segment seg;
    if (tcp::ParseSegment(seg_bytes, seg) != tcp::ParseStatus::kOk) return void(++bad_frames_);
    if (port == kFront) {
      if (MacAddr::Load(f) != kRouterMac) return void(++bad_frames_);
      const auto it = client_by_addr_.find(Key(dst, seg.hdr.dst_port));
      if (it == client_by_addr_.end()) return void(++strays_);
      Peer& p = clients_[it->second]->tcp;
      (void)p.Ep().Input(seg, now_us_);
      return;
    }
    int host = -1;
    for (int i = 0; i < kBackends; ++i)
      if (dst == BackendIp(i)) host = i;
    if (host < 0 || MacAddr::Load(f) != BackendMac(host) || seg.hdr.dst_port != kBackendPort)
      return void(++bad_frames_);
    const uint64_t key = Key(dst, seg.hdr.src_port);
    auto it = backend_by_flow_.find(key);
    if (it == backend_by_flow_.end()) {
      if ((seg.hdr.flags & (tcp::kFlagSyn | tcp::kFlagAck | tcp::kFlagRst)) != tcp::kFlagSyn) return void(++strays_);
      it = backend_by_flow_.emplace(key, AcceptBackend(host, src, seg.hdr.src_port)).first;
    }
    (void)backends_[it->second].tcp.Ep().Input(seg, now_us_);
  }

  // The router and the backends answer the engine's ARP requests for them.
  void Arp(uint16_t port, const uint8_t* f, size_t len) {
    if (len < 42) return void(++bad_frames_);
    const uint8_t* a = f + 14;
    const uint32_t spa = LoadBe32(a + 14), tpa = LoadBe32(a + 24);
    if (LoadBe16(a + 6) != 1 || spa == tpa) return;  // replies and announcements
    MacAddr mac;
    if (port == kFront && tpa == kRouterIp) {
      mac = kRouterMac;
    } else {
      int host = -1;
      for (int i = 0; i < kBackends; ++i)
        if (port == kBack && tpa == BackendIp(i)) host = i;
      if (host < 0) return;
      mac = BackendMac(host);
    }
    uint32_t slot = 0;
    if (!pool_.Get(slot)) Die("generator: no frame buffer");
    uint8_t* r = pool_.Data(slot);
    std::memset(r, 0, 60);
    const MacAddr port_mac = port == kFront ? kFrontMac : kBackMac;
    port_mac.Store(r);
    mac.Store(r + 6);
    StoreBe16(r + 12, 0x0806);
    uint8_t* b = r + 14;
    StoreBe16(b, 1);
    StoreBe16(b + 2, 0x0800);
    b[4] = 6;
    b[5] = 4;
    StoreBe16(b + 6, 2);
    mac.Store(b + 8);
    StoreBe32(b + 14, tpa);
    port_mac.Store(b + 18);
    StoreBe32(b + 24, spa);
    pool_.Len(slot) = 60;
    to_engine_[port].push_back(slot);
  }

  static uint64_t Key(uint32_t ip, uint16_t port) { return uint64_t(ip) << 16 | port; }

  // ---- Generator: clients ----

  void StartClient(Client& c) {
    const uint64_t k = next_client_++;
    c.tcp.local_ip = kClientNet + 1 + uint32_t(k / 50000);
    c.tcp.local_port = uint16_t(10000 + k % 50000);
    c.tcp.remote_ip = kVip;
    c.tcp.remote_port = kTlsPort;
    tcp::TcpEndpoint::Init(c.tcp.rec, peer_tcp_, c.tcp.local_port, kTlsPort, uint32_t(c.tcp.snd.size()),
                           uint32_t(c.tcp.rcv.size()), now_us_);
    c.tcp.Ep().Connect(tcp::SeqNum(uint32_t(rng_())), now_us_);
    c.tcp.live = true;
    c.tls->Reset();
    c.app = CheckSink{};
    c.started = c.request_sent = c.close_sent = false;
    c.hdr_have = 0;
    c.body_left = 0;
    client_by_addr_[Key(c.tcp.local_ip, c.tcp.local_port)] = c.index;
  }

  void RetireClient(Client& c) {
    records_done_ += c.records;
    full_records_done_ += c.full_records;
    app_bytes_ += c.app.bytes;
    c.records = c.full_records = 0;
    c.app.bytes = 0;
    client_by_addr_.erase(Key(c.tcp.local_ip, c.tcp.local_port));
    c.tcp.live = false;
  }

  uint64_t LiveAppBytes() const {
    uint64_t n = 0;
    for (const auto& c : clients_) n += c->app.bytes;
    return n;
  }

  void TlsFailed(Client& c, const char* where) {
    const auto sent = c.tls->alert_sent(), got = c.tls->alert_received();
    Die(std::string("TLS client failed in ") + where + ": alert sent " +
        (sent ? std::to_string(*sent) : "none") + ", received " + (got ? std::to_string(*got) : "none") +
        "; engine: " + CounterText());
  }

  void RunClient(Client& c) {
    if (!c.tcp.live) return;
    tcp::TcpEndpoint ep = c.tcp.Ep();
    TcpSink to_peer;
    to_peer.ep = &ep;
    const uint16_t ev = c.tcp.rec.events;
    c.tcp.rec.events = 0;
    if (ev & (tcp::kEvReset | tcp::kEvTimedOut)) Die("a client connection was reset or timed out; engine: " + CounterText());
    if ((ev & tcp::kEvConnected) && !c.started) {
      c.started = true;
      if (c.tls->Start(to_peer) != crypto::tls::TlsStatus::kOk) TlsFailed(c, "Start");
    }
    static std::array<uint8_t, 64 * 1024> buf;
    for (uint32_t n; (n = ep.Receive(buf)) > 0;) {
      c.Scan(buf.data(), n);
      const crypto::tls::TlsStatus st = c.tls->Input({buf.data(), n}, to_peer, c.app);
      if (st == crypto::tls::TlsStatus::kFailed) TlsFailed(c, "Input");
      if (st == crypto::tls::TlsStatus::kClosed && !c.close_sent) Die("the engine closed a TLS session early");
    }
    if (c.app.bad) bad_bytes_ = true;
    if (c.tls->connected() && !c.request_sent) {
      static constexpr std::string_view kRequest = "GET / HTTP/1.1\r\nHost: bench.baton.test\r\n\r\n";
      if (c.tls->WriteApp({reinterpret_cast<const uint8_t*>(kRequest.data()), kRequest.size()}, to_peer) !=
          crypto::tls::TlsStatus::kOk)
        TlsFailed(c, "WriteApp");
      c.request_sent = true;
    }
    if (mode_ == Mode::kHandshakes && !c.close_sent && c.app.bytes >= kReplyBytes) {
      if (c.tls->Close(to_peer) == crypto::tls::TlsStatus::kFailed) TlsFailed(c, "Close");  // kClosed: sent
      ep.Close();
      c.close_sent = true;
    }
    if (ep.NextDeadline() <= now_us_) ep.OnTimer(now_us_);
    PeerOut out(this, kFront, kRouterMac, c.tcp.local_ip, c.tcp.remote_ip);
    ep.Output(now_us_, out);
    const tcp::TcpState s = ep.state();
    if (c.close_sent && (s == tcp::TcpState::kTimeWait || s == tcp::TcpState::kClosed)) {
      if (c.app.bytes != kReplyBytes) Die("a client got " + std::to_string(c.app.bytes) + " bytes, not 1 KiB");
      ++completed_;
      RetireClient(c);
      StartClient(c);
    }
  }

  // ---- Generator: backends ----

  size_t AcceptBackend(int host, uint32_t remote_ip, uint16_t remote_port) {
    size_t i = 0;
    if (!free_backends_.empty()) {
      i = free_backends_.back();
      free_backends_.pop_back();
    } else {
      i = backends_.size();
      backends_.emplace_back();
      backends_[i].tcp.snd.resize(mode_ == Mode::kBulk ? 1024 * 1024 : 64 * 1024);
      backends_[i].tcp.rcv.resize(64 * 1024);
    }
    Backend& b = backends_[i];
    b.host = host;
    b.sent = 0;
    b.streaming = b.replied = b.closed = false;
    b.tcp.local_ip = BackendIp(host);
    b.tcp.local_port = kBackendPort;
    b.tcp.remote_ip = remote_ip;
    b.tcp.remote_port = remote_port;
    b.tcp.live = true;
    tcp::TcpEndpoint::Init(b.tcp.rec, peer_tcp_, kBackendPort, remote_port, uint32_t(b.tcp.snd.size()),
                           uint32_t(b.tcp.rcv.size()), now_us_);
    b.tcp.Ep().Listen(tcp::SeqNum(uint32_t(rng_())));
    return i;
  }

  void RunBackend(size_t i) {
    Backend& b = backends_[i];
    tcp::TcpEndpoint ep = b.tcp.Ep();
    const uint16_t ev = b.tcp.rec.events;
    b.tcp.rec.events = 0;
    if (ev & (tcp::kEvReset | tcp::kEvTimedOut)) Die("a backend connection was reset or timed out; engine: " + CounterText());
    static std::array<uint8_t, 64 * 1024> buf;
    bool got = false;
    while (ep.Receive(buf) > 0) got = true;
    const Bytes& p = Pattern();
    if (mode_ == Mode::kBulk) {
      if (got) b.streaming = true;
      while (b.streaming && ep.SendSpace() > 0) {
        const size_t off = b.sent % kPatternBytes;
        const uint32_t n = ep.Send({p.data() + off, std::min<size_t>(ep.SendSpace(), kPatternBytes)});
        b.sent += n;
        if (n == 0) break;
      }
    } else {
      if (got && !b.replied) {
        if (ep.Send({p.data(), kReplyBytes}) != kReplyBytes) Die("backend send ring too small");
        b.replied = true;
      }
      if ((ev & tcp::kEvPeerFin) && !b.closed) {
        ep.Close();
        b.closed = true;
      }
    }
    if (ep.NextDeadline() <= now_us_) ep.OnTimer(now_us_);
    PeerOut out(this, kBack, BackendMac(b.host), b.tcp.local_ip, b.tcp.remote_ip);
    ep.Output(now_us_, out);
    const tcp::TcpState s = ep.state();
    if (s == tcp::TcpState::kClosed || s == tcp::TcpState::kTimeWait) {
      backend_by_flow_.erase(Key(b.tcp.local_ip, b.tcp.remote_port));
      b.tcp.live = false;
      free_backends_.push_back(i);
    }
  }

  // ---- Diagnostics ----

  std::string CounterText() const {
    std::string s = "sessions " + std::to_string(engine_->ActiveSessions());
    for (Counter c : {Counter::kSessionsOpened, Counter::kSessionsClosed, Counter::kTlsHandshakes,
                      Counter::kTlsHandshakeFailures, Counter::kTlsHandshakeTimeouts, Counter::kTlsSessionFailures,
                      Counter::kTlsCloseNotifies, Counter::kSynCookiesSent})
      s += " " + std::string(kCounterKey[Idx(c)]) + "=" + std::to_string(counters_.Counted(c));
    for (size_t i = 1; i < size_t(DropReason::kCount); ++i)
      if (counters_.drops[i] != 0) s += " drop:" + std::string(kDropKey[i]) + "=" + std::to_string(counters_.drops[i]);
    for (size_t i = 1; i < size_t(tcp::TcpDrop::kCount); ++i)
      if (engine_->TcpDrops()[i] != 0)
        s += " tcp-drop:" + std::string(tcp::kTcpDropText[i]) + "=" + std::to_string(engine_->TcpDrops()[i]);
    return s;
  }

  [[noreturn]] void Stall() {
    std::string s = "stall: no progress; engine: " + CounterText() + "\n";
    for (auto& cp : clients_) {
      Client& c = *cp;
      if (!c.tcp.live) continue;
      s += "  client :" + std::to_string(c.tcp.local_port) + " tcp " +
           std::string(tcp::kTcpStateText[tcp::TcpIdx(c.tcp.rec.state)]) + " tls " +
           std::to_string(c.tls->state()) + " app bytes " + std::to_string(c.app.bytes) + " readable " +
           std::to_string(c.tcp.Ep().Readable()) + " unacked " + std::to_string(c.tcp.Ep().Unacked()) +
           " snd_wnd " + std::to_string(c.tcp.rec.snd_wnd_bytes) + "\n";
    }
    for (Backend& b : backends_) {
      if (!b.tcp.live) continue;
      s += "  backend " + std::to_string(b.host) + " :" + std::to_string(b.tcp.remote_port) + " tcp " +
           std::string(tcp::kTcpStateText[tcp::TcpIdx(b.tcp.rec.state)]) + " sent " + std::to_string(b.sent) +
           " unacked " + std::to_string(b.tcp.Ep().Unacked()) + " snd_wnd " +
           std::to_string(b.tcp.rec.snd_wnd_bytes) + "\n";
    }
    Die(s);
  }

  static constexpr size_t kReplyBytes = 1024;

  Mode mode_;
  int conns_;
  double tsc_hz_;
  ConfigSnapshot config_;
  DpCounters counters_;
  L3Stack l3_;
  FramePool pool_;
  EngineSink sink_;
  TlsListeners tls_;  // before engine_: the engine's sessions point into it
  std::unique_ptr<SessionSpace> space_;  // before engine_: it runs the space's sessions
  std::unique_ptr<ProxyEngine> engine_;
  std::array<std::deque<uint32_t>, 2> to_engine_;
  uint64_t tsc0_ = 0, now_us_ = 0, next_tick_us_ = 0, passes_ = 0;
  uint64_t engine_ticks_ = 0, gen_ticks_ = 0;

  tcp::TcpConfig peer_tcp_;
  std::optional<crypto::CryptoContext> crypto_;  // the generator's own
  std::vector<std::unique_ptr<Client>> clients_;  // TlsClient does not move
  std::vector<Backend> backends_;
  std::vector<size_t> free_backends_;
  std::unordered_map<uint64_t, size_t> client_by_addr_, backend_by_flow_;
  std::mt19937 rng_{12345};
  uint64_t next_client_ = 0;
  uint16_t ip_id_ = 1;
  uint64_t completed_ = 0, app_bytes_ = 0, records_done_ = 0, full_records_done_ = 0;
  uint64_t bad_frames_ = 0, strays_ = 0;
  bool bad_bytes_ = false;
};

// ---------------------------------------------------------------------------------------
// Report

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

struct Options {
  double seconds = 10.0;  // per engine phase; raw measurements get a quarter each
  // Handshakes run this long before they are measured: past the engine's 10 s TIME-WAIT
  // (2 x its 5 s MSL), the session slots freed are the ones reused, so the kernel no
  // longer backs new session memory on first touch (page faults) as the table grows.
  double hs_warmup = 11.0;
  int conns = 8;
  int core = -1;
  std::string commit;
  bool smoke = false;
};

Options Parse(int argc, char** argv) {
  Options o;
  if (const char* c = std::getenv("BATON_COMMIT")) o.commit = c;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Die("an option wants a value (--seconds S, --conns N, --core N, --commit ID)");
      return argv[++i];
    };
    if (a == "--seconds") {
      o.seconds = std::atof(value());
      if (!(o.seconds > 0 && o.seconds <= 20)) Die("--seconds wants a number in (0, 20]");
    } else if (a == "--conns") {
      o.conns = std::atoi(value());
      if (o.conns < 1 || o.conns > 1024) Die("--conns wants 1..1024");
    } else if (a == "--hs-warmup") {
      o.hs_warmup = std::atof(value());
      if (!(o.hs_warmup >= 0 && o.hs_warmup <= 30)) Die("--hs-warmup wants a number in [0, 30]");
    } else if (a == "--core") {
      o.core = std::atoi(value());
    } else if (a == "--commit") {
      o.commit = value();
    } else if (a == "--smoke") {
      o.smoke = true;
      o.seconds = 0.3;
      o.hs_warmup = 0.05;
    } else if (a == "-h" || a == "--help") {
      std::printf("usage: dp_tls_bench [--seconds S per engine phase, default 10] [--conns N, default 8] "
                  "[--hs-warmup S, default 11] [--core N] [--commit ID] [--smoke]\n");
      std::exit(0);
    } else {
      Die("unknown argument (see --help)");
    }
  }
  if (o.commit.empty()) o.commit = "unknown";
  return o;
}

void PinCore(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core >= 0 ? core : sched_getcpu(), &set);
  // Without --core: stay on the core we started on, so every TSC read is one counter's.
  if (sched_setaffinity(0, sizeof(set), &set) != 0 && core >= 0) Die("sched_setaffinity (--core)");
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  const testkit::TestEal eal(argv[0], "dp_tls_bench");  // the shared session tables are EAL memory
  if (!eal.ok()) return 1;
  PinCore(opt.core);
  const double tsc_hz = MeasureTscHz(opt.smoke ? 0.02 : 0.2);
  std::optional<crypto::CryptoContext> ctx = crypto::CryptoContext::Create();
  if (!ctx) Die("CryptoContext::Create");
  const uint32_t arch = ctx->arch();
  const auto start = Clock::now();
  const Certificate cert;
  const double stall_s = 3.0;

  // (a) Raw limits.
  const double raw_s = opt.seconds / 4;
  std::vector<Row> rows;
  rows.push_back(RawSeal(*ctx, raw_s, tsc_hz));
  const Row seal = rows.back();
  const double seal_bytes_s = seal.rate * 1e9 / 8;
  rows.push_back(RawX25519(raw_s, tsc_hz));
  const double x25519 = rows.back().rate;
  rows.push_back(RawSign(cert.key, raw_s, tsc_hz));
  const double sign = rows.back().rate;
  Row bound;
  bound.name = "asymmetric bound (X25519 + ECDSA)";
  bound.unit = "handshakes/s";
  bound.rate = 1.0 / (1.0 / x25519 + 1.0 / sign);
  bound.cycles = tsc_hz / bound.rate;
  bound.note = "1 / (1/X25519 + 1/sign): the best a full handshake can do on this core";
  rows.push_back(bound);
  const std::string seal_name = seal.name;

  // (b) Bulk download.
  PhaseResult bulk;
  std::string bulk_problems;
  uint64_t bulk_strays = 0;
  {
    Bed bed(Mode::kBulk, opt.conns, cert, tsc_hz);
    const uint64_t warm_end = Tsc() + uint64_t((opt.smoke ? 0.3 : 2.0) * tsc_hz);
    // Warm-up: every client connected and past slow start and the small records of a
    // burst's start (engine: kSmallRecordsPerBurst).
    bed.RunUntil([&] { return bed.AllConnected() && (bed.MinClientBytes() >= (4u << 20) || Tsc() >= warm_end); },
                 stall_s);
    bulk = bed.Measure(opt.seconds, stall_s);
    bulk_problems = bed.Problems();
    bulk_strays = bed.strays();
  }
  // (c) Full handshakes.
  PhaseResult hs;
  std::string hs_problems;
  uint64_t hs_strays = 0;
  {
    Bed bed(Mode::kHandshakes, opt.conns, cert, tsc_hz);
    const uint64_t warm_end = Tsc() + uint64_t(opt.hs_warmup * tsc_hz);
    bed.RunUntil([&] { return Tsc() >= warm_end; }, stall_s);
    hs = bed.Measure(opt.seconds, stall_s);
    hs_problems = bed.Problems();
    hs_strays = bed.strays();
  }
  const double wall = Seconds(start, Clock::now());

  const double to_gbit = 8 / 1e9;
  auto phase_rows = [&](const PhaseResult& p, const std::string& what, const std::string& unit, double scale,
                        double ratio_base, const std::string& ratio_to, const std::string& note) {
    Row e;
    e.name = what + ", engine time";
    e.unit = unit;
    e.rate = Median(p.engine_rate) * scale;
    e.cycles = p.engine_cycles;
    e.engine_share = p.engine_share;
    e.spread = Spread(p.engine_rate);
    e.ratio = ratio_base > 0 ? e.rate / ratio_base : 0;
    e.ratio_to = ratio_to;
    e.note = note;
    rows.push_back(e);
    Row g;
    g.name = what + ", generator time";
    g.unit = unit;
    g.rate = Median(p.gen_rate) * scale;
    g.cycles = p.gen_cycles;
    g.engine_share = p.engine_share;
    g.spread = Spread(p.gen_rate);
    g.ratio = p.engine_cycles > 0 ? p.gen_cycles / p.engine_cycles : 0;
    g.ratio_to = "engine time (generator time / engine time)";
    g.note = "our TlsClient and TcpEndpoint peers, framing, checks";
    rows.push_back(g);
    Row w;
    w.name = what + ", whole bed on one core";
    w.unit = unit;
    w.rate = Median(p.wall_rate) * scale;
    w.cycles = p.wall_cycles;
    w.engine_share = p.engine_share;
    w.spread = Spread(p.wall_rate);
    w.note = "engine + generator + loop: the thread's CPU time";
    rows.push_back(w);
  };
  phase_rows(bulk, "bulk download", "Gbit/s", to_gbit, seal.rate, seal_name,
             std::to_string(opt.conns) + " connections, backend -> client, TLS_AES_128_GCM_SHA256");
  {
    Row r;
    r.name = "records sealed, engine time";
    r.unit = "records/s";
    r.rate = Median(bulk.engine_records);
    r.cycles = bulk.records > 0 ? bulk.engine_cycles * bulk.units / bulk.records : 0;
    r.engine_share = bulk.engine_share;
    r.spread = Spread(bulk.engine_records);
    r.ratio = r.rate / (seal_bytes_s / kRecordPlainBytes);
    r.ratio_to = seal_name + " in 16 KiB buffers";
    char note[128];
    std::snprintf(note, sizeof(note), "counted by the clients; mean payload %.0f bytes, %.1f%% full 16 KiB records",
                  bulk.records > 0 ? bulk.units / bulk.records : 0.0,
                  bulk.records > 0 ? 100.0 * bulk.full_records / bulk.records : 0.0);
    r.note = note;
    rows.push_back(r);
  }
  phase_rows(hs, "full handshakes", "handshakes/s", 1, bound.rate, bound.name,
             std::to_string(opt.conns) + " clients at a time; connect, handshake, 1 KiB, close_notify+FIN");

  const std::string cpu = CpuModel();
  const int core = sched_getcpu();
  std::printf("# TLS data plane on one core, in memory (bench/dp_tls_bench)\n\n");
  std::printf("| | |\n|---|---|\n");
  std::printf("| CPU | %s |\n| core | %d |\n| TSC | %.3f GHz (measured) |\n", cpu.c_str(), core, tsc_hz / 1e9);
  std::printf("| baton commit | %s |\n| OpenSSL | %s |\n| ipsec-mb | %s (%s code path) |\n", opt.commit.c_str(),
              OpenSSL_version(OPENSSL_VERSION), imb_get_version_str(), ArchName(arch).c_str());
  std::printf("| per engine phase | %.2f s in %d rounds (median round shown); raw rows %.2f s each |\n",
              opt.seconds, kRounds, raw_s);
  std::printf("| harness | ProxyEngine + L3Stack (worker 0 of 1) and our TlsClient/TcpEndpoint peers in one "
              "thread; frames through memory, no loss, no delay; no NIC offloads (checksums in software) |\n");
  std::printf("| bulk | %d connections, %.0f MiB, %.0f records; CPU share %.2f; %ld minor faults |\n", opt.conns,
              bulk.units / (1 << 20), bulk.records, bulk.cpu_share, bulk.minor_faults);
  std::printf("| bulk engine counters | %s |\n", bulk.counters.c_str());
  std::printf("| handshakes | %.0f completed after %.1f s of warm-up; engine sessions at the end %u (most in "
              "TIME-WAIT toward backends); CPU share %.2f; %.2f minor faults per handshake |\n",
              hs.units, opt.hs_warmup, hs.sessions_at_end, hs.cpu_share,
              hs.units > 0 ? double(hs.minor_faults) / hs.units : 0.0);
  std::printf("| handshake engine counters | %s |\n", hs.counters.c_str());
  std::printf("| stray segments (no peer) | bulk %llu, handshakes %llu |\n",
              static_cast<unsigned long long>(bulk_strays), static_cast<unsigned long long>(hs_strays));
  std::printf("| wall time | %.1f s |\n\n", wall);
  std::printf("| measurement | rate | unit | cycles/unit | engine share | spread | ratio | ratio to | notes |\n");
  std::printf("|---|---:|---|---:|---:|---:|---:|---|---|\n");
  for (const Row& r : rows) {
    const bool gbit = r.unit == "Gbit/s";
    char ratio[32] = "", share[32] = "";
    if (r.ratio > 0) std::snprintf(ratio, sizeof(ratio), "%.3f", r.ratio);
    if (r.engine_share > 0) std::snprintf(share, sizeof(share), "%.2f", r.engine_share);
    std::printf("| %s | %.*f | %s | %.*f | %s | %.1f%% | %s | %s | %s |\n", r.name.c_str(), gbit ? 2 : 0, r.rate,
                r.unit.c_str(), gbit ? 3 : 0, r.cycles, share, r.spread * 100, ratio, r.ratio_to.c_str(),
                r.note.c_str());
  }
  std::printf("\ncycles/unit: TSC cycles per byte for Gbit/s rows, per operation otherwise. engine share: engine "
              "time / (engine + generator time) in that phase.\n");
  std::printf("\nbench,metric,rate,unit,cycles_per_unit,engine_share,spread,ratio,ratio_to,cpu,core,tsc_ghz,commit,"
              "openssl,ipsec_mb,ipsec_mb_arch\n");
  for (const Row& r : rows) {
    std::printf("dp_tls,%s,%.6g,%s,%.6g,%.4f,%.4f,%.4f,%s,%s,%d,%.3f,%s,%s,%s,%s\n", Csv(r.name).c_str(), r.rate,
                r.unit.c_str(), r.cycles, r.engine_share, r.spread, r.ratio, Csv(r.ratio_to).c_str(),
                Csv(cpu).c_str(), core, tsc_hz / 1e9, Csv(opt.commit).c_str(),
                Csv(OpenSSL_version(OPENSSL_VERSION)).c_str(), imb_get_version_str(), ArchName(arch).c_str());
  }
  const std::string problems = bulk_problems + hs_problems;
  if (!problems.empty()) {
    std::fprintf(stderr, "dp_tls_bench: %s\n", problems.c_str());
    return 1;
  }
  return 0;
}
