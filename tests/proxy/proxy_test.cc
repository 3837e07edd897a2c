// ProxyEngine end to end in memory (tests/proxy/proxy_bed.h): our own TCP endpoints as
// clients and backends, real frames through L3Stack, a fake clock. Each case states the
// behaviour it pins down; failures print the counters that tell why.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/lb/proxy_protocol.h"
#include "tests/proxy/proxy_bed.h"

namespace baton::dp::proxytest {
namespace {

using tcp::TcpState;

// Equality of byte streams that reports the first difference, not 300 KiB of hex.
::testing::AssertionResult SameBytes(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  const size_t n = std::min(got.size(), want.size());
  for (size_t i = 0; i < n; ++i) {
    if (got[i] != want[i])
      return ::testing::AssertionFailure() << "first difference at byte " << i << " of " << want.size()
                                           << " (got " << got.size() << " bytes)";
  }
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "got " << got.size() << " bytes, want " << want.size();
  return ::testing::AssertionSuccess();
}

std::string StateOf(const Conn& c) { return std::string(tcp::kTcpStateText[tcp::TcpIdx(c.State())]); }

// What a session looks like from outside, for failure messages.
std::string Describe(ProxyBed& bed) {
  std::string s = "t=" + std::to_string(bed.now_us / 1000) + "ms sessions=" +
                  std::to_string(bed.Engine().ActiveSessions()) + " drops: " + bed.UnexpectedDrops() +
                  "tcp drops: " + bed.UnexpectedTcpDrops() + "\n";
  for (const auto& c : bed.Clients())
    s += "  " + c->name + " " + StateOf(*c) + " in=" + std::to_string(c->in.size()) + " acked=" +
         std::to_string(c->Acked()) + "/" + std::to_string(c->out.size()) + "\n";
  for (Conn* c : bed.BackendConns())
    s += "  " + c->name + " " + StateOf(*c) + " in=" + std::to_string(c->in.size()) + " acked=" +
         std::to_string(c->Acked()) + "/" + std::to_string(c->out.size()) + "\n";
  return s;
}

// A backend that closes its side once the client closed its own (and it sent `out`).
void CloseWhenPeerCloses(Conn& c) {
  c.app = [](Conn& self) {
    if (self.PeerFin()) self.close_after_send = true;
  };
}

// One client on `port` whose session reached an established backend connection.
struct Opened {
  Conn* client = nullptr;
  Conn* backend = nullptr;
};
Opened Open(ProxyBed& bed, uint16_t port) {
  const size_t before = bed.BackendConns().size();
  Conn& c = bed.Connect(port);
  const bool ok = bed.RunUntil([&] {
    return c.Connected() && bed.BackendConns().size() > before && bed.LastBackendConn()->Connected();
  }, 5 * kSec);
  EXPECT_TRUE(ok) << Describe(bed);
  return {&c, ok ? bed.LastBackendConn() : nullptr};
}

// ---- 1. Handshake and echo -------------------------------------------------------------

TEST(ProxyEcho, HundredKibUpThreeHundredKibDownThenClose) {
  ProxyBed bed;
  const std::vector<uint8_t> up = PatternBytes(1, 100 * kKiB), down = PatternBytes(2, 300 * kKiB);
  Conn& client = bed.Connect(kPortRoundRobin);
  client.out = up;
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() >= up.size(); }))
      << Describe(bed);
  Conn& backend = *bed.LastBackendConn();
  EXPECT_TRUE(SameBytes(backend.in, up));
  // SNAT: the backend sees the back port's address and a port from the configured range.
  EXPECT_EQ(backend.remote_ip, kSnatIp);
  EXPECT_GE(backend.remote_port, kSnatMin);
  EXPECT_LE(backend.remote_port, kSnatMax);
  EXPECT_EQ(bed.BackendConns().size(), 1u);
  EXPECT_EQ(bed.Engine().ActiveSessions(), 1u);

  backend.out = down;
  ASSERT_TRUE(bed.RunUntil([&] { return client.in.size() >= down.size(); })) << Describe(bed);
  EXPECT_TRUE(SameBytes(client.in, down));

  client.close_after_send = true;
  CloseWhenPeerCloses(backend);
  ASSERT_TRUE(bed.RunUntil([&] { return client.Finished() && backend.Finished(); }, 30 * kSec)) << Describe(bed);
  EXPECT_EQ(client.State(), TcpState::kTimeWait);  // it closed first
  EXPECT_EQ(backend.State(), TcpState::kClosed);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 30 * kSec)) << Describe(bed);
  EXPECT_FALSE(client.Reset() || backend.Reset());

  EXPECT_EQ(bed.Engine().ActiveSessions(), 0u);
  EXPECT_EQ(bed.PoolActiveTotal(), 0u);
  EXPECT_EQ(bed.Counted(Counter::kSessionsOpened), 1u);
  EXPECT_EQ(bed.Counted(Counter::kSessionsClosed), 1u);
  EXPECT_EQ(bed.Counted(Counter::kBackendConnects), 1u);
  EXPECT_EQ(bed.Counted(Counter::kBackendConnectFailures), 0u);
  EXPECT_EQ(bed.Counted(Counter::kBytesClientToBackend), up.size());
  EXPECT_EQ(bed.Counted(Counter::kBytesBackendToClient), down.size());
  EXPECT_EQ(bed.Counted(Counter::kResetsSent), 0u);
  EXPECT_EQ(bed.UnexpectedDrops(), "");
  EXPECT_EQ(bed.UnexpectedTcpDrops(), "");
  EXPECT_EQ(bed.bad_frames, 0);
  // The neighbours were resolved by ARP: the router on the front, the backend on the back.
  EXPECT_GE(bed.arp_answered[kFront], 1);
  EXPECT_GE(bed.arp_answered[kBack], 1);
  EXPECT_GE(bed.Counted(Counter::kArpRepliesReceived), 2u);
}

TEST(ProxyArp, PrelearnedNeighborsNeedNoRequest) {
  BedOptions o;
  o.prelearn_neighbors = true;
  ProxyBed bed(o);
  const std::vector<uint8_t> up = PatternBytes(3, 5000), down = PatternBytes(4, 7000);
  bed.on_backend_accept = [&](Conn& c) {
    c.app = [&](Conn& self) {
      if (self.PeerFin() && self.out.empty()) self.SendAndClose(down);
    };
  };
  Conn& client = bed.Connect(kPortRoundRobin);
  client.SendAndClose(up);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 30 * kSec)) << Describe(bed);
  EXPECT_TRUE(SameBytes(bed.LastBackendConn()->in, up));
  EXPECT_TRUE(SameBytes(client.in, down));
  EXPECT_EQ(bed.arp_requests[kFront], 0);
  EXPECT_EQ(bed.arp_requests[kBack], 0);
  EXPECT_EQ(bed.Counted(Counter::kArpRequestsSent), 0u);
  EXPECT_EQ(bed.UnexpectedDrops(), "");
}

// ---- 2. Back-pressure ----------------------------------------------------------------------

// true: the backend stops reading (client -> backend stalls); false: the client does.
class ProxyBackPressure : public ::testing::TestWithParam<bool> {};

TEST_P(ProxyBackPressure, StalledReaderClosesTheWindowWithoutDropsThenResumes) {
  const bool backend_stalls = GetParam();
  BedOptions o;
  constexpr uint32_t kPeerRcv = 32 * kKiB;
  o.backend_rcv_bytes = o.client_rcv_bytes = kPeerRcv;
  ProxyBed bed(o);
  const std::vector<uint8_t> data = PatternBytes(5, 512 * kKiB);
  const Opened s = Open(bed, kPortRoundRobin);
  ASSERT_NE(s.backend, nullptr);
  Conn& sender = backend_stalls ? *s.client : *s.backend;
  Conn& reader = backend_stalls ? *s.backend : *s.client;
  reader.reading = false;
  sender.out = data;

  bed.RunFor(3 * kSec);
  const size_t acked = sender.Acked();
  const uint64_t moved = bed.Counted(backend_stalls ? Counter::kBytesClientToBackend : Counter::kBytesBackendToClient);
  bed.RunFor(3 * kSec);
  // Stopped: nothing more was acknowledged to the sender or moved by the engine.
  EXPECT_EQ(sender.Acked(), acked) << Describe(bed);
  EXPECT_EQ(bed.Counted(backend_stalls ? Counter::kBytesClientToBackend : Counter::kBytesBackendToClient), moved);
  // Every buffer on the way is full, and no more than that was taken: the reader's ring,
  // the engine's send ring toward the reader and its receive ring from the sender.
  const uint64_t engine_buffers = 2ull * o.tcp.buffer_bytes;
  EXPECT_EQ(reader.rec.rcv_ring.size_bytes, kPeerRcv);
  // The engine's receive ring may stop short of full by less than an MSS: receiver SWS
  // avoidance (RFC 9293 3.8.6.2.2) opens the window only in MSS-sized steps.
  EXPECT_LE(acked, kPeerRcv + engine_buffers) << Describe(bed);
  EXPECT_GT(acked, kPeerRcv + engine_buffers - 1460) << Describe(bed);
  EXPECT_EQ(sender.rec.snd_wnd_bytes, 0u) << "the engine's receive window should be closed";
  EXPECT_LT(sender.queued, data.size());
  // Zero-window probes are refused as out of window (that is how TCP probes); nothing
  // else may be dropped.
  EXPECT_EQ(bed.UnexpectedDrops({DropReason::kTcpRejected}), "");
  EXPECT_EQ(bed.UnexpectedTcpDrops({tcp::TcpDrop::kOutOfWindow}), "");

  reader.reading = true;
  ASSERT_TRUE(bed.RunUntil([&] { return reader.in.size() >= data.size(); }, 60 * kSec)) << Describe(bed);
  EXPECT_TRUE(SameBytes(reader.in, data));
  EXPECT_EQ(bed.Counted(backend_stalls ? Counter::kBytesClientToBackend : Counter::kBytesBackendToClient),
            data.size());
  EXPECT_EQ(bed.UnexpectedDrops({DropReason::kTcpRejected}), "");
}

INSTANTIATE_TEST_SUITE_P(Directions, ProxyBackPressure, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "BackendStopsReading" : "ClientStopsReading");
                         });

// ---- 3. Half-close -------------------------------------------------------------------------

TEST(ProxyHalfClose, ClientClosesFirstBackendStillAnswers) {
  ProxyBed bed;
  const std::vector<uint8_t> up = PatternBytes(6, 40 * kKiB), down = PatternBytes(7, 120 * kKiB);
  const Opened s = Open(bed, kPortRoundRobin);
  ASSERT_NE(s.backend, nullptr);
  Conn &client = *s.client, &backend = *s.backend;
  client.SendAndClose(up);
  ASSERT_TRUE(bed.RunUntil([&] { return backend.PeerFin(); })) << Describe(bed);
  EXPECT_TRUE(SameBytes(backend.in, up)) << "the FIN must come after every byte";
  EXPECT_EQ(backend.State(), TcpState::kCloseWait);
  EXPECT_EQ(client.State(), TcpState::kFinWait2);

  backend.SendAndClose(down);
  ASSERT_TRUE(bed.RunUntil([&] { return client.PeerFin(); })) << Describe(bed);
  EXPECT_TRUE(SameBytes(client.in, down));
  ASSERT_TRUE(bed.RunUntil([&] { return client.Finished() && backend.Finished(); }, 30 * kSec)) << Describe(bed);
  EXPECT_EQ(client.State(), TcpState::kTimeWait);
  EXPECT_EQ(backend.State(), TcpState::kClosed);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 30 * kSec)) << Describe(bed);
  EXPECT_FALSE(client.Reset() || backend.Reset());
  EXPECT_EQ(bed.PoolActiveTotal(), 0u);
}

TEST(ProxyHalfClose, BackendClosesFirstClientStillSends) {
  ProxyBed bed;
  const std::vector<uint8_t> up = PatternBytes(8, 120 * kKiB), down = PatternBytes(9, 40 * kKiB);
  bed.on_backend_accept = [&](Conn& c) { c.SendAndClose(down); };
  Conn& client = bed.Connect(kPortRoundRobin);
  ASSERT_TRUE(bed.RunUntil([&] { return client.PeerFin(); })) << Describe(bed);
  EXPECT_TRUE(SameBytes(client.in, down)) << "the FIN must come after every byte";
  EXPECT_EQ(client.State(), TcpState::kCloseWait);
  Conn& backend = *bed.LastBackendConn();
  EXPECT_EQ(backend.State(), TcpState::kFinWait2);

  client.SendAndClose(up);
  ASSERT_TRUE(bed.RunUntil([&] { return backend.PeerFin(); })) << Describe(bed);
  EXPECT_TRUE(SameBytes(backend.in, up));
  ASSERT_TRUE(bed.RunUntil([&] { return client.Finished() && backend.Finished(); }, 30 * kSec)) << Describe(bed);
  EXPECT_EQ(backend.State(), TcpState::kTimeWait);
  EXPECT_EQ(client.State(), TcpState::kClosed);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 30 * kSec)) << Describe(bed);
  EXPECT_FALSE(client.Reset() || backend.Reset());
}

// The two FINs cross while the first closer's bytes still wait in the engine: the side
// that closed first sent data and FIN, the FIN got into the engine's receive ring behind
// data the (slow) reader has not taken yet, and then the reader closes its own side and
// the engine finishes that connection (LAST-ACK -> CLOSED) before its bytes are all out.
// The FIN still has to reach the reader after the last byte.
class ProxyHalfCloseCrossing : public ::testing::TestWithParam<bool> {};

TEST_P(ProxyHalfCloseCrossing, FinStillFollowsTheQueuedBytes) {
  const bool client_first = GetParam();
  BedOptions o;
  // The slow reader's own ring is small, so the first closer's FIN fits in the engine.
  (client_first ? o.backend_rcv_bytes : o.client_rcv_bytes) = 4 * kKiB;
  ProxyBed bed(o);
  const std::vector<uint8_t> first = PatternBytes(10, 30 * kKiB), answer = PatternBytes(11, 1000);
  const Opened s = Open(bed, kPortRoundRobin);
  ASSERT_NE(s.backend, nullptr);
  Conn& closer = client_first ? *s.client : *s.backend;
  Conn& reader = client_first ? *s.backend : *s.client;
  reader.reading = false;
  closer.SendAndClose(first);
  // The engine acknowledged the closer's FIN: it sits in the engine behind ~10 KiB.
  ASSERT_TRUE(bed.RunUntil([&] { return closer.State() == TcpState::kFinWait2; }, 10 * kSec)) << Describe(bed);
  EXPECT_LT(reader.rec.rcv_ring.size_bytes + 0u, first.size());

  reader.SendAndClose(answer);
  ASSERT_TRUE(bed.RunUntil([&] { return closer.PeerFin(); }, 10 * kSec)) << Describe(bed);
  EXPECT_TRUE(SameBytes(closer.in, answer));
  bed.RunFor(100 * kMs);  // the engine's side toward the closer is done now

  reader.reading = true;
  const bool fin = bed.RunUntil([&] { return reader.PeerFin(); }, 10 * kSec);
  EXPECT_TRUE(SameBytes(reader.in, first));
  // The closer's side of the engine may be CLOSED already (LAST-ACK done) while its
  // last bytes still wait: the FIN must follow them all the same.
  ASSERT_TRUE(fin) << Describe(bed);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 30 * kSec)) << Describe(bed);
  EXPECT_FALSE(reader.Reset() || closer.Reset());
}

INSTANTIATE_TEST_SUITE_P(Directions, ProxyHalfCloseCrossing, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "ClientClosesFirst" : "BackendClosesFirst");
                         });

// ---- 4. Resets -----------------------------------------------------------------------------

TEST(ProxyReset, ClientResetReachesBackend) {
  ProxyBed bed;
  const Opened s = Open(bed, kPortRoundRobin);
  ASSERT_NE(s.backend, nullptr);
  s.client->out = PatternBytes(12, 20 * kKiB);
  ASSERT_TRUE(bed.RunUntil([&] { return s.backend->in.size() == 20 * kKiB; })) << Describe(bed);
  s.client->Ep().Abort();
  ASSERT_TRUE(bed.RunUntil([&] { return s.backend->Reset(); }, 5 * kSec)) << Describe(bed);
  EXPECT_EQ(s.backend->State(), TcpState::kClosed);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 5 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.Counted(Counter::kSessionsClosed), 1u);
  EXPECT_EQ(bed.PoolActiveTotal(), 0u);
}

TEST(ProxyReset, BackendResetMidTransferReachesClient) {
  ProxyBed bed;
  const Opened s = Open(bed, kPortRoundRobin);
  ASSERT_NE(s.backend, nullptr);
  const std::vector<uint8_t> down = PatternBytes(13, 1024 * kKiB);
  s.backend->out = down;
  ASSERT_TRUE(bed.RunUntil([&] { return s.client->in.size() >= 100 * kKiB; })) << Describe(bed);
  s.backend->Ep().Abort();
  ASSERT_TRUE(bed.RunUntil([&] { return s.client->Reset(); }, 5 * kSec)) << Describe(bed);
  EXPECT_EQ(s.client->State(), TcpState::kClosed);
  EXPECT_LT(s.client->in.size(), down.size());
  EXPECT_TRUE(SameBytes(s.client->in, std::vector<uint8_t>(down.begin(), down.begin() + ptrdiff_t(s.client->in.size()))));
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 5 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.PoolActiveTotal(), 0u);
}

// ---- 5. Connect failures -------------------------------------------------------------------

TEST(ProxyConnect, RefusedBackendThenAnother) {
  ProxyBed bed;
  bed.Backend(0).mode = BackendMode::kRefuse;  // round robin starts with backend 0
  const std::vector<uint8_t> up = PatternBytes(14, 10 * kKiB), down = PatternBytes(15, 30 * kKiB);
  bed.on_backend_accept = [&](Conn& c) {
    c.app = [&](Conn& self) {
      if (self.PeerFin() && self.out.empty()) self.SendAndClose(down);
    };
  };
  Conn& client = bed.Connect(kPortRoundRobin);
  client.SendAndClose(up);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 30 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.Backend(0).refused, 1);
  ASSERT_EQ(bed.BackendConns().size(), 1u);
  EXPECT_NE(bed.LastBackendConn()->backend, 0);
  EXPECT_TRUE(SameBytes(bed.LastBackendConn()->in, up));
  EXPECT_TRUE(SameBytes(client.in, down));
  EXPECT_FALSE(client.Reset());
  EXPECT_EQ(bed.Counted(Counter::kBackendConnectFailures), 1u);
  EXPECT_EQ(bed.Counted(Counter::kBackendRetries), 1u);
  EXPECT_EQ(bed.Counted(Counter::kBackendConnects), 1u);
  EXPECT_EQ(bed.Engine().Pools()[0].Counters()[0].connect_failures, 1u);
  EXPECT_EQ(bed.PoolActiveTotal(), 0u);
}

TEST(ProxyConnect, AllBackendsRefuseClientGetsReset) {
  ProxyBed bed;
  for (int i = 0; i < kBackends; ++i) bed.Backend(i).mode = BackendMode::kRefuse;
  Conn& client = bed.Connect(kPortRoundRobin);
  client.out = PatternBytes(16, 1000);
  ASSERT_TRUE(bed.RunUntil([&] { return client.Reset(); }, 10 * kSec)) << Describe(bed);
  // connect_attempts = 3: each backend tried once, then the client is reset.
  for (int i = 0; i < kBackends; ++i) EXPECT_EQ(bed.Backend(i).refused, 1) << "backend " << i;
  EXPECT_EQ(bed.Counted(Counter::kBackendConnectFailures), 3u);
  EXPECT_EQ(bed.Counted(Counter::kBackendRetries), 2u);
  EXPECT_EQ(bed.Counted(Counter::kBackendConnects), 0u);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 5 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.PoolActiveTotal(), 0u);
}

TEST(ProxyConnect, BlackHoleBackendTimesOutThenAnother) {
  ProxyBed bed;
  bed.Backend(0).mode = BackendMode::kBlackHole;
  const std::vector<uint8_t> up = PatternBytes(17, 10 * kKiB);
  Conn& client = bed.Connect(kPortRoundRobin);
  client.out = up;
  ASSERT_TRUE(bed.RunUntil([&] { return client.Connected(); })) << Describe(bed);
  const uint64_t established_us = bed.now_us;
  ASSERT_TRUE(bed.RunUntil([&] { return !bed.BackendConns().empty(); }, 5 * kSec)) << Describe(bed);
  const uint64_t waited_us = bed.now_us - established_us;
  // connect_timeout_ms = 500; the backend SYN's own retransmission (200 ms) must not
  // count as a failure.
  EXPECT_GE(waited_us, 500 * kMs);
  EXPECT_LT(waited_us, 600 * kMs);
  EXPECT_GE(bed.Backend(0).syns, 2);
  EXPECT_EQ(bed.Counted(Counter::kBackendConnectFailures), 1u);
  EXPECT_EQ(bed.Counted(Counter::kBackendRetries), 1u);
  Conn& backend = *bed.LastBackendConn();
  EXPECT_NE(backend.backend, 0);
  ASSERT_TRUE(bed.RunUntil([&] { return backend.in.size() >= up.size(); })) << Describe(bed);
  EXPECT_TRUE(SameBytes(backend.in, up));
}

// ---- 6. Balancing --------------------------------------------------------------------------

TEST(ProxyBalance, RoundRobinSpreadsThirtySessionsTenEach) {
  ProxyBed bed;
  std::vector<Opened> sessions;
  for (int i = 0; i < 30; ++i) {
    sessions.push_back(Open(bed, kPortRoundRobin));
    ASSERT_NE(sessions.back().backend, nullptr) << "session " << i;
  }
  for (int b = 0; b < kBackends; ++b) {
    EXPECT_EQ(bed.Backend(b).conns.size(), 10u) << "backend " << b;
    EXPECT_EQ(bed.PoolActive(0, b), 10u) << "backend " << b;
  }
  for (Opened& s : sessions) {
    s.client->close_after_send = true;
    CloseWhenPeerCloses(*s.backend);
  }
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 30 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.PoolActiveTotal(), 0u);
  EXPECT_EQ(bed.Counted(Counter::kSessionsClosed), 30u);
}

TEST(ProxyBalance, LeastConnectionsPrefersTheIdleBackend) {
  ProxyBed bed;
  std::vector<Opened> s;
  for (int i = 0; i < 3; ++i) {
    s.push_back(Open(bed, kPortLeastConn));
    ASSERT_NE(s.back().backend, nullptr);
  }
  for (int b = 0; b < kBackends; ++b) ASSERT_EQ(bed.Backend(b).conns.size(), 1u) << "backend " << b;
  // End the session on backend 1; round robin would go on with backend 0 next.
  Opened& on1 = s[0].backend->backend == 1 ? s[0] : s[1].backend->backend == 1 ? s[1] : s[2];
  on1.client->close_after_send = true;
  CloseWhenPeerCloses(*on1.backend);
  // The pool stops counting a backend connection once it closed (TIME-WAIT included).
  ASSERT_TRUE(bed.RunUntil([&] { return bed.PoolActive(1, 1) == 0; }, 10 * kSec)) << Describe(bed);
  for (int round = 0; round < 2; ++round) {
    const Opened n = Open(bed, kPortLeastConn);
    ASSERT_NE(n.backend, nullptr);
    EXPECT_EQ(n.backend->backend, 1) << "round " << round;
    if (round == 0) {
      n.client->close_after_send = true;
      CloseWhenPeerCloses(*n.backend);
      ASSERT_TRUE(bed.RunUntil([&] { return bed.PoolActive(1, 1) == 0; }, 10 * kSec)) << Describe(bed);
    }
  }
  for (int b = 0; b < kBackends; ++b) EXPECT_EQ(bed.PoolActive(1, b), 1u) << "backend " << b;
  EXPECT_EQ(bed.PoolActive(0, 0) + bed.PoolActive(0, 1) + bed.PoolActive(0, 2), 0u);
}

// ---- 7. PROXY protocol v2 ------------------------------------------------------------------

TEST(ProxyProtocolV2, HeaderNamesClientAndVipThenPayload) {
  ProxyBed bed;
  const std::vector<uint8_t> up = PatternBytes(18, 3000);
  Conn& client = bed.Connect(kPortProxyV2);
  client.out = up;
  ASSERT_TRUE(bed.RunUntil([&] {
    return bed.LastBackendConn() && bed.LastBackendConn()->in.size() >= lb::kProxyIpv4Bytes + up.size();
  })) << Describe(bed);
  const std::vector<uint8_t>& in = bed.LastBackendConn()->in;
  lb::ProxyHeader h;
  ASSERT_EQ(lb::ParseProxyHeader(in, h), lb::ProxyParseStatus::kOk);
  EXPECT_EQ(h.command, lb::ProxyCommand::kProxy);
  EXPECT_EQ(h.family_transport, 0x11);  // TCP over IPv4
  EXPECT_EQ(h.addrs.src_ip, IpAddr::V4(client.local_ip));
  EXPECT_EQ(h.addrs.src_port, client.local_port);
  EXPECT_EQ(h.addrs.dst_ip, IpAddr::V4(kVip));
  EXPECT_EQ(h.addrs.dst_port, kPortProxyV2);
  ASSERT_EQ(h.header_bytes, lb::kProxyIpv4Bytes);
  EXPECT_TRUE(SameBytes(std::vector<uint8_t>(in.begin() + ptrdiff_t(h.header_bytes), in.end()), up));
  // The header is ours, not the client's: the byte counter counts the client's bytes.
  EXPECT_EQ(bed.Counted(Counter::kBytesClientToBackend), up.size());
}

TEST(ProxyProtocolV2, PlainListenerSendsNoHeader) {
  ProxyBed bed;
  const std::vector<uint8_t> up = PatternBytes(19, 100);
  Conn& client = bed.Connect(kPortRoundRobin);
  client.out = up;
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn() && bed.LastBackendConn()->in.size() >= up.size(); }));
  EXPECT_TRUE(SameBytes(bed.LastBackendConn()->in, up));
}

// ---- 8. Segments for no session ------------------------------------------------------------

struct StrayCase {
  const char* name;
  uint16_t link;
  uint32_t src_ip;
  uint16_t src_port;
  uint32_t dst_ip;
  uint16_t dst_port;
  uint8_t flags;
  uint32_t seq, ack;
  uint16_t payload_bytes;
  bool rst_expected;
  uint8_t rst_flags;
  uint32_t rst_seq, rst_ack;
  DropReason reason;
};

constexpr uint32_t kStrayClient = Ip4(198, 18, 1, 77);
constexpr uint8_t kS = tcp::kFlagSyn, kA = tcp::kFlagAck, kR = tcp::kFlagRst, kF = tcp::kFlagFin,
                  kP = tcp::kFlagPsh;

// RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST> for a segment with ACK, else
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; never a reset for a reset.
const StrayCase kStrayCases[] = {
    {"SynToPortWithoutListener", kFront, kStrayClient, 50000, kVip, 9999, kS, 1000, 0, 0, true, kR | kA, 0, 1001,
     DropReason::kTcpNoListener},
    {"AckToListenerWithoutSession", kFront, kStrayClient, 50001, kVip, 80, kA, 5000, 7777, 0, true, kR, 7777, 0,
     DropReason::kTcpNoSession},
    {"FinAckToListenerWithoutSession", kFront, kStrayClient, 50002, kVip, 80, kF | kA, 5000, 8888, 0, true, kR,
     8888, 0, DropReason::kTcpNoSession},
    {"DataWithoutAckToListener", kFront, kStrayClient, 50003, kVip, 80, kP, 5000, 0, 10, true, kR | kA, 0, 5010,
     DropReason::kTcpNoSession},
    {"DataToPortWithoutListener", kFront, kStrayClient, 50004, kVip, 9999, kP | kA, 5000, 42, 10, true, kR, 42, 0,
     DropReason::kTcpNoSession},
    {"ResetToListenerWithoutSession", kFront, kStrayClient, 50005, kVip, 80, kR, 5000, 0, 0, false, 0, 0, 0,
     DropReason::kTcpNoSession},
    {"AckToSnatAddress", kBack, kBackendIps[0], 80, kSnatIp, 20500, kA, 9, 4242, 0, true, kR, 4242, 0,
     DropReason::kTcpNoSession},
    {"SynAckToSnatAddress", kBack, kBackendIps[1], 80, kSnatIp, 20501, kS | kA, 9, 31337, 0, true, kR, 31337, 0,
     DropReason::kTcpNoSession},
    {"SynToSnatAddress", kBack, kBackendIps[2], 80, kSnatIp, 20502, kS, 77, 0, 0, true, kR | kA, 0, 78,
     DropReason::kTcpNoSession},
    {"ResetToSnatAddress", kBack, kBackendIps[2], 80, kSnatIp, 20503, kR | kA, 77, 5, 0, false, 0, 0, 0,
     DropReason::kTcpNoSession},
};

class ProxyStray : public ::testing::TestWithParam<StrayCase> {};

TEST_P(ProxyStray, ResetAndCounter) {
  const StrayCase& c = GetParam();
  ProxyBed bed;
  bed.RunFor(5 * kMs);  // ARP for the router settles
  const std::vector<uint8_t> payload(c.payload_bytes, 0x5a);
  bed.Inject(c.link, c.src_ip, c.dst_ip, RawSegment(c.src_port, c.dst_port, c.flags, c.seq, c.ack, payload));
  bed.RunFor(20 * kMs);
  EXPECT_EQ(bed.Dropped(c.reason), 1u);
  EXPECT_EQ(bed.UnexpectedDrops({c.reason}), "");
  EXPECT_EQ(bed.Engine().ActiveSessions(), 0u);
  EXPECT_EQ(bed.Counted(Counter::kResetsSent), c.rst_expected ? 1u : 0u);
  ASSERT_EQ(bed.orphans.size(), c.rst_expected ? 1u : 0u);
  if (!c.rst_expected) return;
  const Orphan& r = bed.orphans[0];
  EXPECT_EQ(r.link, c.link);
  EXPECT_EQ(r.src_ip, c.dst_ip);
  EXPECT_EQ(r.dst_ip, c.src_ip);
  EXPECT_EQ(r.src_port, c.dst_port);
  EXPECT_EQ(r.dst_port, c.src_port);
  EXPECT_EQ(r.flags, c.rst_flags);
  EXPECT_EQ(r.seq, c.rst_seq);
  if (c.rst_flags & kA) {
    EXPECT_EQ(r.ack, c.rst_ack);
  }
  EXPECT_EQ(r.payload_bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(Crafted, ProxyStray, ::testing::ValuesIn(kStrayCases),
                         [](const ::testing::TestParamInfo<StrayCase>& i) { return std::string(i.param.name); });

TEST(ProxyNoListener, ClientConnectingToUnknownPortIsReset) {
  ProxyBed bed;
  Conn& client = bed.Connect(9999);
  ASSERT_TRUE(bed.RunUntil([&] { return client.Reset(); }, 2 * kSec)) << Describe(bed);
  EXPECT_EQ(client.State(), TcpState::kClosed);
  EXPECT_EQ(bed.Dropped(DropReason::kTcpNoListener), 1u);
  EXPECT_EQ(bed.Engine().ActiveSessions(), 0u);
}

// ---- 9. SYN cookies ------------------------------------------------------------------------

TEST(ProxySynCookies, PastTheBacklogACookieSessionWorksEndToEnd) {
  BedOptions o;
  o.tcp.idle_timeout_ms = 600'000;  // the half-open sessions must end by their SYN,ACK retries
  ProxyBed bed(o);
  std::vector<Conn*> flooders;
  for (int i = 0; i < 4; ++i) {  // syn_backlog = 4 half-open sessions that never finish
    Conn& f = bed.Connect(kPortRoundRobin);
    f.deaf = true;
    flooders.push_back(&f);
  }
  bed.RunFor(20 * kMs);
  ASSERT_EQ(bed.Engine().ActiveSessions(), 4u);
  EXPECT_EQ(bed.Counted(Counter::kSynCookiesSent), 0u);

  const std::vector<uint8_t> up = PatternBytes(20, 50 * kKiB), down = PatternBytes(21, 50 * kKiB);
  bed.on_backend_accept = [&](Conn& c) {
    c.app = [&](Conn& self) {
      if (self.PeerFin() && self.out.empty()) self.SendAndClose(down);
    };
  };
  Conn& client = bed.Connect(kPortRoundRobin);
  client.SendAndClose(up);
  ASSERT_TRUE(bed.RunUntil([&] { return client.Connected(); }, 2 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.Counted(Counter::kSynCookiesSent), 1u);
  EXPECT_FALSE(client.rec.ts_ok) << "a cookie SYN,ACK offers only MSS";
  ASSERT_TRUE(bed.RunUntil([&] { return client.Finished() && bed.LastBackendConn() && bed.LastBackendConn()->Finished(); },
                           30 * kSec))
      << Describe(bed);
  EXPECT_EQ(bed.Counted(Counter::kSynCookiesAccepted), 1u);
  EXPECT_TRUE(SameBytes(bed.LastBackendConn()->in, up));
  EXPECT_TRUE(SameBytes(client.in, down));
  EXPECT_FALSE(client.Reset());

  // The half-open sessions give up on their own (SYN,ACK retries: about 2 minutes) and
  // free the backlog: the next client gets an ordinary SYN,ACK again.
  for (Conn* f : flooders) f->Ep().Abort();  // the flooders stop retrying their SYNs
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Engine().ActiveSessions() == 0; }, 400 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.Counted(Counter::kIdleTimeouts), 0u);
  EXPECT_EQ(bed.Counted(Counter::kSessionsClosed), 5u);
  Conn& later = bed.Connect(kPortRoundRobin);
  ASSERT_TRUE(bed.RunUntil([&] { return later.Connected(); }, 2 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.Counted(Counter::kSynCookiesSent), 1u);
  EXPECT_TRUE(later.rec.ts_ok) << "a normal handshake negotiates timestamps";
}

// ---- 10. Idle timeout ----------------------------------------------------------------------

TEST(ProxyIdle, IdleSessionIsResetOnBothSidesBusyOneIsNot) {
  BedOptions o;
  o.tcp.idle_timeout_ms = 2000;
  ProxyBed bed(o);
  const Opened idle = Open(bed, kPortRoundRobin);
  const Opened busy = Open(bed, kPortRoundRobin);
  ASSERT_NE(idle.backend, nullptr);
  ASSERT_NE(busy.backend, nullptr);
  idle.client->out = PatternBytes(22, 1000);
  ASSERT_TRUE(bed.RunUntil([&] { return idle.backend->in.size() == 1000; })) << Describe(bed);
  bed.RunFor(100 * kMs);  // delayed ACKs and window updates: the last segments of the session
  const uint64_t quiet_since_us = bed.now_us;
  // The busy session sends a byte every 500 ms.
  uint64_t next_byte_us = bed.now_us;
  busy.client->app = [&](Conn& c) {
    if (bed.now_us >= next_byte_us) {
      c.out.push_back(uint8_t(c.out.size()));
      next_byte_us = bed.now_us + 500 * kMs;
    }
  };
  ASSERT_TRUE(bed.RunUntil([&] { return idle.client->Reset() && idle.backend->Reset(); }, 5 * kSec)) << Describe(bed);
  const uint64_t waited_us = bed.now_us - quiet_since_us;
  EXPECT_GE(waited_us, 1900 * kMs);
  EXPECT_LE(waited_us, 2100 * kMs);
  EXPECT_EQ(bed.Counted(Counter::kIdleTimeouts), 1u);
  bed.RunFor(4 * kSec);
  EXPECT_FALSE(busy.client->Reset() || busy.backend->Reset()) << Describe(bed);
  EXPECT_EQ(bed.Engine().ActiveSessions(), 1u);
  EXPECT_EQ(bed.Counted(Counter::kIdleTimeouts), 1u);
  EXPECT_GE(busy.backend->in.size(), 10u);
}

// config.h: idle_timeout_ms is "no byte either way: both sides reset". A session whose
// client stopped reading moves no byte once the windows are closed, yet the zero-window
// probes (and their ACKs) keep arriving on both legs.
TEST(ProxyIdle, ZeroWindowStallWithNoBytesMovingStillTimesOut) {
  BedOptions o;
  o.tcp.idle_timeout_ms = 2000;
  ProxyBed bed(o);
  const Opened s = Open(bed, kPortRoundRobin);
  ASSERT_NE(s.backend, nullptr);
  s.client->reading = false;
  s.backend->out = PatternBytes(23, 1024 * kKiB);
  uint64_t last_move_us = 0, moved = 0;
  const bool reset = bed.RunUntil([&] {
    const uint64_t m = bed.Counted(Counter::kBytesBackendToClient) + s.client->rec.rcv_ring.size_bytes;
    if (m != moved) moved = m, last_move_us = bed.now_us;
    return s.client->Reset() && s.backend->Reset();
  }, 20 * kSec);
  ASSERT_GT(moved, 0u);
  const uint64_t stalled_us = bed.now_us - last_move_us;
  // Zero-window probes and pure ACKs move no byte: they must not keep the session alive.
  ASSERT_TRUE(reset) << Describe(bed);
  EXPECT_LE(stalled_us, 2200 * kMs) << Describe(bed);
  EXPECT_GE(stalled_us, 1900 * kMs);
  EXPECT_EQ(bed.Counted(Counter::kIdleTimeouts), 1u);
}

// ---- 11. Session table full ----------------------------------------------------------------

TEST(ProxyLimits, SessionTableFullRefusesTheExtraClientOthersWork) {
  ProxyBed bed;  // max_sessions = 64
  std::vector<Opened> s;
  for (int i = 0; i < 64; ++i) {
    s.push_back(Open(bed, kPortRoundRobin));
    ASSERT_NE(s.back().backend, nullptr) << "session " << i;
  }
  Conn& extra = bed.Connect(kPortRoundRobin);
  bed.RunFor(200 * kMs);
  EXPECT_EQ(extra.State(), TcpState::kSynSent);
  EXPECT_EQ(bed.Dropped(DropReason::kTcpSessionsFull), 1u);
  EXPECT_EQ(bed.Engine().ActiveSessions(), 64u);

  for (size_t i = 0; i < s.size(); ++i) {
    s[i].client->SendAndClose(PatternBytes(100 + i, 2 * kKiB));
    s[i].backend->app = [](Conn& self) {
      if (self.PeerFin() && self.out.empty()) self.SendAndClose(self.in);  // echo
    };
  }
  ASSERT_TRUE(bed.RunUntil([&] {
    for (const Opened& o : s)
      if (!o.client->Finished()) return false;
    return true;
  }, 30 * kSec)) << Describe(bed);
  EXPECT_EQ(bed.UnexpectedDrops({DropReason::kTcpSessionsFull}), "") << Describe(bed);
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_TRUE(SameBytes(s[i].client->in, PatternBytes(100 + i, 2 * kKiB))) << "session " << i;
    EXPECT_FALSE(s[i].client->Reset()) << "session " << i;
  }
  // Once slots are free, the refused client's retransmitted SYN gets in.
  ASSERT_TRUE(bed.RunUntil([&] { return extra.Connected(); }, 20 * kSec)) << Describe(bed);
  ASSERT_TRUE(bed.RunUntil([&] { return bed.LastBackendConn()->Connected(); }, 2 * kSec));
  EXPECT_GE(bed.Dropped(DropReason::kTcpSessionsFull), 1u);
}

// ---- TCP options on data segments ---------------------------------------------------------

// One full-sized data segment is lost in each direction on the front link while data
// flows both ways: each receiver then holds out-of-order data and puts SACK blocks on
// the data segments it sends. Those segments must still fit the 1500-byte MTU.
TEST(ProxySack, DataSegmentsWithSackBlocksFitTheMtu) {
  ProxyBed bed;
  int up_segments = 0, down_segments = 0;
  bed.keep = [&](bool to_engine, uint16_t link, std::span<const uint8_t> f) {
    if (link != kFront || f.size() < 54 || Be16(&f[12]) != testkit::kEtherIpv4 || f[23] != testkit::kProtoTcp)
      return true;
    const size_t payload = Be16(&f[16]) - 20u - (f[46] >> 4) * 4u;
    if (payload < 1000) return true;
    return ++(to_engine ? up_segments : down_segments) != 5;
  };
  const Opened s = Open(bed, kPortRoundRobin);
  ASSERT_NE(s.backend, nullptr);
  ASSERT_TRUE(s.client->rec.sack_ok);
  const std::vector<uint8_t> up = PatternBytes(30, 256 * kKiB), down = PatternBytes(31, 256 * kKiB);
  s.client->SendAndClose(up);
  s.backend->SendAndClose(down);
  const bool done = bed.RunUntil([&] { return s.client->Finished() && s.backend->Finished(); }, 120 * kSec);
  EXPECT_TRUE(up_segments >= 5 && down_segments >= 5);
  // SACK blocks come out of the MSS (RFC 6691): no frame may outgrow the MTU.
  EXPECT_EQ(bed.Dropped(DropReason::kFrameTooLong), 0u) << Describe(bed);
  EXPECT_EQ(bed.oversize_peer_segments, 0u);
  ASSERT_TRUE(done) << Describe(bed);
  EXPECT_TRUE(SameBytes(s.backend->in, up));
  EXPECT_TRUE(SameBytes(s.client->in, down));
}

// ---- Latency histograms (docs/API.md, "Latency") -----------------------------------------

// The histogram `which` of the engine's counters.
const LatencyHistogram& Hist(const ProxyBed& bed, Latency which) { return bed.Counters().latency[Idx(which)]; }

// Two request-response exchanges on one plain TCP session, on the fake clock: 1 ms
// each way on the back link, the backend answers 5 ms after a request arrived, with
// 64 KiB (many pumps). Each exchange is one observation of about 1 + 5 + 1 ms; the
// backend's connect (SYN -> SYN-ACK) one of about 2 ms; no TLS handshake.
TEST(ProxyLatency, RequestResponseIsOneObservationEach) {
  BedOptions o;
  o.prelearn_neighbors = true;  // no ARP in the measured intervals
  o.back.delay_us = 1000;
  ProxyBed bed(o);
  const Opened s = Open(bed, kPortRoundRobin);
  ASSERT_NE(s.backend, nullptr);
  const LatencyHistogram& connect = Hist(bed, Latency::kBackendConnect);
  ASSERT_EQ(connect.Count(), 1u);
  EXPECT_GE(connect.sum_us, 2'000u);
  EXPECT_LE(connect.sum_us, 2'500u);
  const LatencyHistogram& request = Hist(bed, Latency::kRequest);
  EXPECT_EQ(request.Count(), 0u);  // nothing asked yet

  for (uint64_t round = 1; round <= 2; ++round) {
    const std::vector<uint8_t> ask = PatternBytes(40 + round, 100);
    const size_t had_in = s.backend->in.size(), had_out = s.client->in.size();
    s.client->out.insert(s.client->out.end(), ask.begin(), ask.end());
    ASSERT_TRUE(bed.RunUntil([&] { return s.backend->in.size() == had_in + ask.size(); })) << Describe(bed);
    bed.RunFor(5 * kMs);  // the backend thinks
    const std::vector<uint8_t> answer = PatternBytes(50 + round, 64 * kKiB);
    s.backend->out.insert(s.backend->out.end(), answer.begin(), answer.end());
    ASSERT_TRUE(bed.RunUntil([&] { return s.client->in.size() == had_out + answer.size(); })) << Describe(bed);
    EXPECT_EQ(request.Count(), round) << "one observation per exchange, not per pump";
  }
  // 1 ms there, 5 ms (+ up to one bed tick) thinking, 1 ms back.
  const uint64_t mean_us = request.sum_us / 2;
  EXPECT_GE(mean_us, 7'000u) << request.sum_us;
  EXPECT_LE(mean_us, 8'500u) << request.sum_us;
  EXPECT_EQ(request.buckets[7], 2u) << "both in (5 ms, 10 ms]";
  EXPECT_EQ(Hist(bed, Latency::kTlsHandshake).Count(), 0u);
}

}  // namespace
}  // namespace baton::dp::proxytest
