// Health checks in memory (dataplane/lb/health.h): the checker against fake backends
// made of our own TcpEndpoint (or crafted segments for refusals and strangers), on a
// fake microsecond clock. Up -> down after `fall` failures (refused, timeout, bad HTTP
// status, garbage, no response), down -> up after `rise` successes, passive marking,
// HTTP status-line parsing (split lines, garbage, silence), probe-port reuse.
#include "dataplane/lb/health.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "dataplane/tcp/segment.h"

namespace baton::dp::lb {
namespace {

constexpr uint64_t kMs = 1000;
constexpr uint32_t kLocalIp = 0xc6120b0b;  // 198.18.3.11
constexpr uint32_t BackendIp(int i) { return 0xc6120365u + uint32_t(i); }  // 198.18.3.101 + i
constexpr uint16_t kBackendPort = 80;

// ---- The wire and the observers -------------------------------------------------------

struct Segment {
  uint32_t dst;
  std::vector<uint8_t> bytes;
};

struct Wire final : ProbeSink {
  std::deque<Segment> out;
  void Emit(uint32_t dst_ip, std::span<const uint8_t> segment) noexcept override {
    out.push_back({dst_ip, {segment.begin(), segment.end()}});
  }
};

struct Changes final : HealthEvents {
  struct Entry {
    HealthChange change;
    uint64_t at_us;
  };
  std::vector<Entry> list;
  uint64_t now_us = 0;
  void OnHealthChange(const HealthChange& c) noexcept override { list.push_back({c, now_us}); }
};

// ---- A fake backend ---------------------------------------------------------------------

enum class Mode { kAccept, kRefuse, kBlackhole };

// One host with a listening port: each probe's SYN gets a TcpEndpoint of its own. With
// `response` chunks, it answers a whole request with them, one chunk per pass (so each
// is its own segment), then closes; without, it just accepts (and closes when the
// prober does).
struct FakeBackend {
  struct Conn {
    tcp::TcpConnection rec;
    std::vector<uint8_t> snd = std::vector<uint8_t>(8192), rcv = std::vector<uint8_t>(8192);
    std::string request;
    size_t next_chunk = 0;
    bool closed_by_us = false;
    tcp::TcpEndpoint Ep() { return tcp::TcpEndpoint(rec, snd, rcv); }
  };

  uint32_t ip = 0;
  Mode mode = Mode::kAccept;
  std::vector<std::string> response;  // empty: TCP only
  bool close_without_answer = false;  // read the request, then FIN
  std::map<uint16_t, Conn> conns;     // by the prober's port
  std::vector<uint16_t> syn_ports;    // source port of every SYN seen, in order
  std::vector<uint16_t>* all_syn_ports = nullptr;  // the bed's, over every backend
  std::vector<std::string> requests;  // whole requests received

  void Receive(std::span<const uint8_t> bytes, uint64_t now_us, std::vector<std::vector<uint8_t>>& replies) {
    tcp::Segment seg;
    ASSERT_EQ(tcp::ParseSegment(bytes, seg), tcp::ParseStatus::kOk);
    const bool syn = seg.Has(tcp::kFlagSyn) && !seg.Has(tcp::kFlagAck);
    if (syn) syn_ports.push_back(seg.hdr.src_port);
    if (syn && all_syn_ports != nullptr) all_syn_ports->push_back(seg.hdr.src_port);
    if (mode == Mode::kBlackhole) return;
    auto it = conns.find(seg.hdr.src_port);
    if (syn && (it == conns.end() || it->second.rec.state == tcp::TcpState::kClosed ||
                it->second.rec.state == tcp::TcpState::kTimeWait)) {
      if (mode == Mode::kRefuse) {
        std::array<uint8_t, tcp::kTcpMaxHeaderLen> rst;
        const size_t n = tcp::BuildResetFor(seg, rst);
        replies.emplace_back(rst.begin(), rst.begin() + n);
        return;
      }
      Conn& c = conns[seg.hdr.src_port];
      c = Conn{};
      tcp::TcpConfig cfg;
      tcp::TcpEndpoint::Init(c.rec, cfg, kBackendPort, seg.hdr.src_port, 8192, 8192, now_us);
      c.Ep().Listen(tcp::SeqNum(0x1000 + uint32_t(now_us)));
      it = conns.find(seg.hdr.src_port);
    }
    if (it == conns.end()) {
      std::array<uint8_t, tcp::kTcpMaxHeaderLen> rst;
      const size_t n = tcp::BuildResetFor(seg, rst);
      if (n != 0) replies.emplace_back(rst.begin(), rst.begin() + n);
      return;
    }
    (void)it->second.Ep().Input(seg, now_us);
  }

  // The application, then output of every connection.
  void Pump(uint64_t now_us, std::vector<std::vector<uint8_t>>& replies) {
    struct Collect final : tcp::SegmentSink {
      std::vector<std::vector<uint8_t>>* out;
      void Emit(std::span<const uint8_t> s) noexcept override { out->emplace_back(s.begin(), s.end()); }
    } sink;
    sink.out = &replies;
    for (auto& [port, c] : conns) {
      tcp::TcpEndpoint ep = c.Ep();
      if (ep.NextDeadline() <= now_us) ep.OnTimer(now_us);
      std::array<uint8_t, 1024> buf;
      while (ep.Readable() > 0) {
        const uint32_t n = ep.Receive(buf);
        c.request.append(reinterpret_cast<const char*>(buf.data()), n);
        if (c.request.find("\r\n\r\n") != std::string::npos) requests.push_back(c.request);
      }
      const bool whole = c.request.find("\r\n\r\n") != std::string::npos;
      if (ep.state() == tcp::TcpState::kEstablished || ep.state() == tcp::TcpState::kCloseWait) {
        if (!response.empty() && whole && c.next_chunk < response.size()) {
          const std::string& chunk = response[c.next_chunk++];
          (void)ep.Send({reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()});
        } else if (!c.closed_by_us && ((!response.empty() && c.next_chunk == response.size()) ||
                                       (close_without_answer && whole) ||
                                       (response.empty() && !close_without_answer &&
                                        ep.state() == tcp::TcpState::kCloseWait))) {
          ep.Close();
          c.closed_by_us = true;
        }
      }
      ep.Output(now_us, sink);
    }
  }
};

// ---- The bed ------------------------------------------------------------------------------

HealthConfig Health(uint32_t interval_ms, uint32_t timeout_ms, uint8_t rise, uint8_t fall, std::string path = "") {
  HealthConfig h;
  h.enabled = true;
  h.interval_ms = interval_ms;
  h.timeout_ms = timeout_ms;
  h.rise = rise;
  h.fall = fall;
  h.http_path = std::move(path);
  return h;
}

struct Bed {
  std::vector<PoolConfig> pools;
  std::vector<FakeBackend> backends;
  Wire wire;
  Changes changes;
  uint64_t now_us = 1'000'000;
  std::unique_ptr<HealthChecker> checker;
  uint64_t stray_to_unknown = 0;
  std::vector<uint16_t> syn_ports;  // every backend's SYNs, in time order

  Bed(int n, const HealthConfig& h, ProbePorts ports = {60000, 64}) {
    PoolConfig p;
    p.name = "web";
    p.health = h;
    for (int i = 0; i < n; ++i) {
      BackendConfig b;
      b.address = IpAddr::V4(BackendIp(i));
      b.port = kBackendPort;
      p.backends.push_back(b);
      FakeBackend fb;
      fb.ip = BackendIp(i);
      backends.push_back(fb);
    }
    pools.push_back(p);
    for (FakeBackend& fb : backends) fb.all_syn_ports = &syn_ports;
    tcp::TcpConfig tcp;
    tcp.rto_initial_us = 200'000;
    tcp.rto_min_us = 200'000;
    tcp.syn_retries = 3;
    checker = std::make_unique<HealthChecker>(pools, kLocalIp, ports, tcp, tcp::IsnKey{1, 2}, now_us, &changes);
  }

  FakeBackend* Find(uint32_t ip) {
    for (FakeBackend& b : backends)
      if (b.ip == ip) return &b;
    return nullptr;
  }

  // Delivers everything in flight, both ways, with no delay, until quiet.
  void Settle() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      while (!wire.out.empty()) {
        Segment s = std::move(wire.out.front());
        wire.out.pop_front();
        moved = true;
        FakeBackend* b = Find(s.dst);
        if (b == nullptr) {
          ++stray_to_unknown;
          continue;
        }
        std::vector<std::vector<uint8_t>> replies;
        b->Receive(s.bytes, now_us, replies);
        for (auto& r : replies) checker->Input(b->ip, r, now_us, wire);
      }
      for (FakeBackend& b : backends) {
        std::vector<std::vector<uint8_t>> replies;
        b.Pump(now_us, replies);
        for (auto& r : replies) {
          moved = true;
          checker->Input(b.ip, r, now_us, wire);
        }
      }
      if (!moved) return;
    }
    FAIL() << "the bed never went quiet";
  }

  // Runs the clock forward in 1 ms steps.
  void Run(uint64_t duration_us) {
    const uint64_t end = now_us + duration_us;
    while (now_us < end) {
      now_us += kMs;
      changes.now_us = now_us;
      if (checker->NextDeadline() <= now_us) checker->Advance(now_us, wire);
      Settle();
    }
  }

  const BackendHealth& H(int i) const { return checker->Health(uint32_t(i)); }
};

// ---- Status lines -----------------------------------------------------------------------

TEST(ParseStatusLine, Table) {
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 200 OK"), 200);
  EXPECT_EQ(ParseStatusLine("HTTP/1.0 302 Found"), 302);
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 204"), 204);  // reason phrase may be missing
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 503 Service Unavailable"), 503);
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 200 "), 200);
  EXPECT_EQ(ParseStatusLine("HTTP/2 200"), 0);
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 20 OK"), 0);
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 2000 OK"), 0);
  EXPECT_EQ(ParseStatusLine("HTTP/1.1  200 OK"), 0);
  EXPECT_EQ(ParseStatusLine("http/1.1 200 OK"), 0);
  EXPECT_EQ(ParseStatusLine("HTTP/1.x 200 OK"), 0);
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 099 OK"), 0);
  EXPECT_EQ(ParseStatusLine(""), 0);
  EXPECT_EQ(ParseStatusLine("SSH-2.0-OpenSSH_9.2"), 0);
}

TEST(ReserveProbePorts, TopOfTheSnatRangeOnlyWithHealthChecks) {
  ConfigSnapshot c;
  c.pools.emplace_back();
  EXPECT_EQ(ReserveProbePorts(c).count, 0);  // no [pool.health]: nothing changes
  EXPECT_EQ(c.tcp.snat_port_max, 59999);
  c.pools[0].health.enabled = true;
  const ProbePorts p = ReserveProbePorts(c);
  EXPECT_EQ(p.first, 59936);
  EXPECT_EQ(p.count, 64);
  EXPECT_EQ(c.tcp.snat_port_max, 59935);
  EXPECT_TRUE(p.Contains(59999));
  EXPECT_FALSE(p.Contains(59935));
  ConfigSnapshot small;
  small.pools.emplace_back();
  small.pools[0].health.enabled = true;
  small.tcp.snat_port_min = 20000;
  small.tcp.snat_port_max = 20063;  // 64 ports, the least the config allows: half go to probes
  const ProbePorts q = ReserveProbePorts(small);
  EXPECT_EQ(q.first, 20032);
  EXPECT_EQ(q.count, 32);
  EXPECT_EQ(small.tcp.snat_port_max, 20031);
}

// ---- TCP checks -----------------------------------------------------------------------------

TEST(HealthChecker, AcceptingBackendsStayUpAndPortsComeBack) {
  Bed bed(3, Health(200, 100, 2, 2));
  bed.Run(2000 * kMs);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(bed.H(i).up);
    EXPECT_GE(bed.H(i).checks[Idx(HealthResult::kOk)], 9u) << i;
    EXPECT_EQ(bed.H(i).checks[Idx(HealthResult::kOk)], [&] {
      uint64_t all = 0;
      for (uint64_t c : bed.H(i).checks) all += c;
      return all;
    }()) << "only successes";
  }
  EXPECT_TRUE(bed.changes.list.empty());
  EXPECT_EQ(bed.stray_to_unknown, 0u);
  bed.Run(3000 * kMs);  // the last probes' closes and TIME-WAITs finish
  EXPECT_LE(bed.checker->ActiveProbesForTest(), 3u);
  // Every probe closed politely: the backends saw FINs, no connection is left open there.
  for (FakeBackend& b : bed.backends)
    for (auto& [port, c] : b.conns)
      EXPECT_TRUE(c.rec.state == tcp::TcpState::kClosed || c.rec.state == tcp::TcpState::kTimeWait ||
                  c.rec.state == tcp::TcpState::kListen)
          << "port " << port << " state " << int(c.rec.state);
}

TEST(HealthChecker, RefusedMarksDownAfterFallFailures) {
  Bed bed(2, Health(200, 100, 2, 3));
  bed.backends[1].mode = Mode::kRefuse;
  // Probes of backend 1 start at 100 ms, 300 ms, 500 ms (staggered by half an interval).
  bed.Run(450 * kMs);
  EXPECT_TRUE(bed.H(1).up) << "two failures are not `fall` = 3";
  EXPECT_EQ(bed.H(1).checks[Idx(HealthResult::kRefused)], 2u);
  bed.Run(100 * kMs);
  ASSERT_FALSE(bed.H(1).up);
  EXPECT_EQ(bed.H(1).down_reason, HealthResult::kRefused);
  ASSERT_EQ(bed.changes.list.size(), 1u);
  const HealthChange& c = bed.changes.list[0].change;
  EXPECT_EQ(c.backend, 1);
  EXPECT_FALSE(c.up);
  EXPECT_EQ(c.reason, HealthResult::kRefused);
  EXPECT_EQ(c.address, BackendIp(1));
  EXPECT_EQ(c.port, kBackendPort);
  EXPECT_TRUE(bed.H(0).up);
  // Stays down while refusing; one transition only.
  bed.Run(1000 * kMs);
  EXPECT_FALSE(bed.H(1).up);
  EXPECT_EQ(bed.H(1).transitions, 1u);
}

TEST(HealthChecker, UnansweredSynsTimeOutAndBackendComesBackAfterRise) {
  Bed bed(1, Health(500, 300, 3, 2));
  bed.backends[0].mode = Mode::kBlackhole;
  // Probes at 0, 500, 1000 ms; the second times out at 800 ms.
  bed.Run(790 * kMs);
  EXPECT_TRUE(bed.H(0).up);
  bed.Run(20 * kMs);
  ASSERT_FALSE(bed.H(0).up) << bed.H(0).checks[Idx(HealthResult::kTimeout)] << " timeouts, "
                            << bed.H(0).checks[Idx(HealthResult::kRefused)] << " refused, "
                            << bed.backends[0].syn_ports.size() << " SYNs";
  EXPECT_EQ(bed.H(0).down_reason, HealthResult::kTimeout);
  ASSERT_EQ(bed.changes.list.size(), 1u);
  EXPECT_NEAR(double(bed.changes.list[0].at_us - 1'000'000), 800'000.0, 2'000.0);
  // Retransmitted SYNs within one probe (RTO 200 ms) are the same probe: same port.
  ASSERT_GE(bed.backends[0].syn_ports.size(), 3u);
  EXPECT_EQ(bed.backends[0].syn_ports[0], bed.backends[0].syn_ports[1]);
  // The backend answers again: up after `rise` = 3 good probes, not before.
  bed.backends[0].mode = Mode::kAccept;
  bed.Run(700 * kMs);  // the probes at 1000 and 1500 ms succeed
  EXPECT_FALSE(bed.H(0).up);
  EXPECT_EQ(bed.H(0).checks[Idx(HealthResult::kOk)], 2u);
  bed.Run(500 * kMs);  // the third, at 2000 ms
  EXPECT_TRUE(bed.H(0).up);
  ASSERT_EQ(bed.changes.list.size(), 2u);
  EXPECT_TRUE(bed.changes.list[1].change.up);
  EXPECT_EQ(bed.H(0).down_reason, HealthResult::kOk);
}

// ---- HTTP checks ------------------------------------------------------------------------------

struct HttpCase {
  const char* name;
  std::vector<std::string> response;  // chunks, one segment each
  bool close_without_answer;
  HealthResult result;
  uint16_t status;
};

class HttpCheck : public ::testing::TestWithParam<HttpCase> {};

TEST_P(HttpCheck, ResultOfOneProbe) {
  const HttpCase& c = GetParam();
  Bed bed(1, Health(1000, 500, 1, 1, "/healthz"));
  bed.backends[0].response = c.response;
  bed.backends[0].close_without_answer = c.close_without_answer;
  bed.Run(900 * kMs);  // one probe, at 0 ms
  uint64_t total = 0;
  for (uint64_t n : bed.H(0).checks) total += n;
  ASSERT_EQ(total, 1u) << c.name;
  EXPECT_EQ(bed.H(0).checks[Idx(c.result)], 1u) << c.name;
  EXPECT_EQ(bed.H(0).up, c.result == HealthResult::kOk) << c.name;
  if (c.status != 0) {
    EXPECT_EQ(bed.H(0).last_http_status, c.status) << c.name;
  }
  if (c.result != HealthResult::kOk) {
    ASSERT_EQ(bed.changes.list.size(), 1u);
    EXPECT_EQ(bed.changes.list[0].change.reason, c.result);
    EXPECT_EQ(bed.changes.list[0].change.http_status, c.status);
  }
  ASSERT_EQ(bed.backends[0].requests.size(), 1u);
  EXPECT_EQ(bed.backends[0].requests[0],
            "GET /healthz HTTP/1.0\r\nUser-Agent: baton-health\r\nConnection: close\r\nHost: 198.18.3.101\r\n\r\n");
}

const HttpCase kHttpCases[] = {
    {"200", {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}, false, HealthResult::kOk, 200},
    {"301 counts as up", {"HTTP/1.0 301 Moved Permanently\r\nLocation: /\r\n\r\n"}, false, HealthResult::kOk, 301},
    {"status line split over three segments", {"HT", "TP/1.1 2", "04 No Content\r\n\r\n"}, false, HealthResult::kOk,
     204},
    {"CR and LF in separate segments", {"HTTP/1.1 200 OK\r", "\n\r\n"}, false, HealthResult::kOk, 200},
    {"bare LF line end", {"HTTP/1.1 200 OK\n\n"}, false, HealthResult::kOk, 200},
    {"503", {"HTTP/1.1 503 Service Unavailable\r\n\r\n"}, false, HealthResult::kHttpStatus, 503},
    {"404", {"HTTP/1.1 404 Not Found\r\n\r\n"}, false, HealthResult::kHttpStatus, 404},
    {"garbage", {"SSH-2.0-OpenSSH_9.2\r\n"}, false, HealthResult::kBadResponse, 0},
    {"garbage found at the first byte", {"x"}, false, HealthResult::kBadResponse, 0},
    {"bad status code", {"HTTP/1.1 2x0 OK\r\n\r\n"}, false, HealthResult::kBadResponse, 0},
    {"status line too long", {"HTTP/1.1 200 " + std::string(300, 'k') + "\r\n"}, false, HealthResult::kBadResponse,
     0},
    {"half a status line, then FIN", {"HTTP/1.1 20"}, false, HealthResult::kBadResponse, 0},
    {"FIN without a byte", {}, true, HealthResult::kNoResponse, 0},
};
std::string CaseName(const ::testing::TestParamInfo<HttpCase>& p) {
  std::string n;
  for (const char* c = p.param.name; *c; ++c) n += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
  return n;
}
INSTANTIATE_TEST_SUITE_P(Crafted, HttpCheck, ::testing::ValuesIn(kHttpCases), CaseName);

TEST(HealthChecker, HttpSilenceIsATimeout) {
  Bed bed(1, Health(1000, 300, 1, 1, "/"));
  // Accepts, reads the request, never answers, never closes.
  bed.backends[0].response = {};
  bed.Run(290 * kMs);
  EXPECT_TRUE(bed.H(0).up);
  bed.Run(20 * kMs);
  EXPECT_FALSE(bed.H(0).up);
  EXPECT_EQ(bed.H(0).down_reason, HealthResult::kTimeout);
  // A timed-out probe of a connected backend ends with a RST: the backend forgets it.
  bed.Run(10 * kMs);
  for (auto& [port, c] : bed.backends[0].conns) EXPECT_EQ(c.rec.state, tcp::TcpState::kClosed) << port;
}

// ---- Passive marking -----------------------------------------------------------------------

TEST(HealthChecker, PassiveMarkingGoesDownAtOnceAndProbesBringItBack) {
  Bed bed(3, Health(200, 100, 2, 3));
  bed.Run(50 * kMs);
  bed.checker->MarkPassiveDown(0, BackendBit(1) | BackendBit(2));
  EXPECT_TRUE(bed.H(0).up);
  EXPECT_FALSE(bed.H(1).up);
  EXPECT_FALSE(bed.H(2).up);
  EXPECT_EQ(bed.H(1).down_reason, HealthResult::kPassive);
  ASSERT_EQ(bed.changes.list.size(), 2u);
  EXPECT_EQ(bed.changes.list[0].change.reason, HealthResult::kPassive);
  // Again while down: counted, no new transition.
  bed.checker->MarkPassiveDown(0, BackendBit(1));
  EXPECT_EQ(bed.H(1).checks[Idx(HealthResult::kPassive)], 2u);
  EXPECT_EQ(bed.changes.list.size(), 2u);
  // The probes succeed: `rise` = 2 of them bring each back.
  bed.Run(500 * kMs);
  EXPECT_TRUE(bed.H(1).up);
  EXPECT_TRUE(bed.H(2).up);
  EXPECT_EQ(bed.changes.list.size(), 4u);
}

// ---- Probe ports -----------------------------------------------------------------------------

TEST(HealthChecker, ProbePortsAreReusedLateAndStrangersGetResets) {
  // 4 ports for 3 backends probed every 100 ms: each port is reused often.
  Bed bed(3, Health(100, 50, 1, 1), ProbePorts{60000, 4});
  bed.Run(3000 * kMs);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(bed.H(i).up) << i;
    EXPECT_EQ(bed.H(i).checks[Idx(HealthResult::kOk)], [&] {
      uint64_t all = 0;
      for (uint64_t c : bed.H(i).checks) all += c;
      return all;
    }()) << "a probe failed: a reused port met an old connection?";
  }
  // FIFO: a port is taken again only after every other free port, so in time order
  // the SYNs' ports rotate through all four.
  const std::vector<uint16_t>& seen = bed.syn_ports;
  ASSERT_GE(seen.size(), 80u);
  EXPECT_EQ(bed.checker->SkippedForTest(), 0u);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_GE(seen[i], 60000);
    EXPECT_LT(seen[i], 60004);
    for (size_t back = 1; back < 4 && back <= i; ++back) EXPECT_NE(seen[i], seen[i - back]) << i;
    if (i >= 4) {
      EXPECT_EQ(seen[i], seen[i - 4]) << i;
    }
  }

  // A segment for a probe port with no probe on it (or from another host): a RST back
  // to its sender, and nothing else happens.
  bed.wire.out.clear();
  std::array<uint8_t, 64> seg{};
  tcp::TcpHeader h;
  h.src_port = kBackendPort;
  h.dst_port = 60003;
  h.flags = tcp::kFlagAck;
  h.seq = tcp::SeqNum(1234);
  h.ack = tcp::SeqNum(5678);
  size_t n = 0;
  ASSERT_EQ(tcp::BuildSegment(h, {}, {}, {}, seg, n), tcp::BuildStatus::kOk);
  const uint32_t stranger = 0xc6120363;  // 198.18.3.99
  bed.checker->Input(stranger, {seg.data(), n}, bed.now_us, bed.wire);
  ASSERT_EQ(bed.wire.out.size(), 1u);
  EXPECT_EQ(bed.wire.out[0].dst, stranger);
  tcp::Segment rst;
  ASSERT_EQ(tcp::ParseSegment(bed.wire.out[0].bytes, rst), tcp::ParseStatus::kOk);
  EXPECT_TRUE(rst.Has(tcp::kFlagRst));
  EXPECT_EQ(rst.hdr.seq.raw, 5678u);  // RFC 9293 3.10.7.1: SEQ = SEG.ACK
  bed.wire.out.clear();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bed.H(i).up);
}

TEST(HealthChecker, AllPortsBusySkipsInsteadOfFailing) {
  // One port, three blackholed backends, a long timeout: two of three probes find no port.
  Bed bed(3, Health(1000, 900, 1, 1), ProbePorts{60000, 1});
  for (FakeBackend& b : bed.backends) b.mode = Mode::kBlackhole;
  bed.Run(950 * kMs);
  EXPECT_EQ(bed.checker->SkippedForTest(), 2u);
  EXPECT_FALSE(bed.H(0).up);  // timed out at 900 ms
  EXPECT_TRUE(bed.H(1).up);   // never probed: no verdict
  EXPECT_TRUE(bed.H(2).up);
}

TEST(HealthChecker, PoolsWithoutHealthAreNeverProbed) {
  PoolConfig p;
  p.name = "plain";
  BackendConfig b;
  b.address = IpAddr::V4(BackendIp(0));
  b.port = 80;
  p.backends.push_back(b);
  std::vector<PoolConfig> pools{p};
  Wire wire;
  HealthChecker c(pools, kLocalIp, {60000, 4}, tcp::TcpConfig{}, tcp::IsnKey{}, 0);
  EXPECT_EQ(c.NextDeadline(), tcp::kNoDeadline);
  c.Advance(10'000'000, wire);
  EXPECT_TRUE(wire.out.empty());
  EXPECT_FALSE(c.Health(0).checked);
  EXPECT_TRUE(c.Health(0).up);
}

}  // namespace
}  // namespace baton::dp::lb
