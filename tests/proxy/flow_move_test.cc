// Sessions moving between worker cores, in memory (tests/proxy/proxy_bed.h with two
// ProxyEngines on one SessionSpace): a worker halts mid-transfer and another adopts its
// sessions (by the scan, or each at its first packet); a rebalance moves sessions while
// bytes flow. Every byte must arrive once and in order, with no reset.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/proxy/proxy_bed.h"

namespace baton::dp::proxytest {
namespace {

constexpr size_t kSessions = 24;
constexpr size_t kUp = 48 * kKiB;
constexpr size_t kEchoes = 3;  // the backend sends back what it got, three times

BedOptions TwoWorkers() {
  BedOptions o;
  o.workers = 2;
  o.tcp.syn_backlog = 64;  // no cookies: every SYN makes a record on the worker it reaches
  o.prelearn_neighbors = true;  // 24 SYN-ACKs at once would overflow the ARP queue
  return o;
}

std::vector<uint8_t> Repeat(const std::vector<uint8_t>& b, size_t times) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < times; ++i) out.insert(out.end(), b.begin(), b.end());
  return out;
}

struct Transfers {
  std::vector<Conn*> clients;
  std::vector<std::vector<uint8_t>> up;
  size_t expected_down = 0;
};

// Clients that upload kUp bytes and close; backends that answer with the bytes repeated
// kEchoes times once the client's FIN came, then close.
Transfers Start(ProxyBed& bed) {
  Transfers t;
  for (size_t i = 0; i < kSessions; ++i) {
    Conn& c = bed.Connect(kPortRoundRobin);
    t.up.push_back(PatternBytes(500 + i, kUp));
    c.SendAndClose(t.up.back());
    t.clients.push_back(&c);
    t.expected_down += kUp * kEchoes;
  }
  bed.on_backend_accept = [](Conn& b) {
    b.app = [](Conn& self) {
      if (self.PeerFin() && self.out.empty()) self.SendAndClose(Repeat(self.in, kEchoes));
    };
  };
  return t;
}

size_t DownSoFar(const Transfers& t) {
  size_t n = 0;
  for (const Conn* c : t.clients) n += c->in.size();
  return n;
}

void ExpectAllDone(ProxyBed& bed, const Transfers& t) {
  ASSERT_TRUE(bed.RunUntil([&] {
    for (const Conn* c : t.clients)
      if (!c->Finished()) return false;
    return true;
  }, 60 * kSec));
  for (size_t i = 0; i < t.clients.size(); ++i) {
    EXPECT_FALSE(t.clients[i]->Reset()) << "client " << i;
    ASSERT_EQ(t.clients[i]->in.size(), kUp * kEchoes) << "client " << i;
    EXPECT_TRUE(t.clients[i]->in == Repeat(t.up[i], kEchoes)) << "client " << i << ": bytes differ";
  }
  for (Conn* b : bed.BackendConns()) EXPECT_FALSE(b->Reset()) << b->name;
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Quiet(); }, 60 * kSec));
  EXPECT_EQ(bed.ActiveSessions(), 0u);
  EXPECT_EQ(bed.PoolActiveTotal(), 0u);
  EXPECT_EQ(bed.Counted(Counter::kResetsSent), 0u);
  EXPECT_EQ(bed.UnexpectedDrops(), "");
  EXPECT_EQ(bed.bad_frames, 0);
  // Every record comes back to the free ring once the grace periods are over.
  bed.RunFor(10 * kMs);
  const state::StateCounters st = bed.Space().store().Stats();
  EXPECT_EQ(st.occupancy, 0u);
  EXPECT_EQ(st.client_keys + st.backend_keys, 0u);
}

// Runs until some of the bytes came down, with sessions on both workers.
void RunToMidTransfer(ProxyBed& bed, const Transfers& t) {
  ASSERT_TRUE(bed.RunUntil([&] { return DownSoFar(t) >= t.expected_down * 2 / 5; }, 30 * kSec));
  ASSERT_GT(bed.Engine(0).ActiveSessions(), 0u);
  ASSERT_GT(bed.Engine(1).ActiveSessions(), 0u);
}

TEST(FlowMove, HaltedWorkersSessionsAreAdoptedByTheScanAndFinish) {
  ProxyBed bed(TwoWorkers());
  const Transfers t = Start(bed);
  RunToMidTransfer(bed, t);
  const uint32_t owned = bed.Engine(1).ActiveSessions();
  bed.Halt(1);
  bed.RunFor(50 * kMs);  // the stall the others see before they declare it
  EXPECT_EQ(bed.TakeOver(1, 0), owned);
  ExpectAllDone(bed, t);
  EXPECT_EQ(bed.Counted(Counter::kSessionsAdopted), owned);
  EXPECT_EQ(bed.Space().store().Stats().adoptions, owned);
}

TEST(FlowMove, HaltedWorkersSessionsAreClaimedAtTheirFirstPacket) {
  ProxyBed bed(TwoWorkers());
  const Transfers t = Start(bed);
  RunToMidTransfer(bed, t);
  const uint32_t owned = bed.Engine(1).ActiveSessions();
  bed.Halt(1);
  bed.RunFor(50 * kMs);
  // Fenced, but no scan: each session moves when a packet of it meets worker 0.
  EXPECT_EQ(bed.TakeOver(1, 0, /*scan=*/false), 0u);
  ExpectAllDone(bed, t);
  EXPECT_EQ(bed.Counted(Counter::kSessionsAdopted), owned);
  EXPECT_EQ(bed.Space().store().Stats().claims, owned);
}

TEST(FlowMove, HaltDuringHandshakesAdoptsHalfOpenSessions) {
  ProxyBed bed(TwoWorkers());
  const Transfers t = Start(bed);
  // Before any session is established: the records are SYN-RECEIVED.
  ASSERT_TRUE(bed.RunUntil([&] { return bed.Engine(1).ActiveSessions() > 0; }, 1 * kSec));
  bed.Halt(1);
  bed.RunFor(30 * kMs);
  EXPECT_GT(bed.TakeOver(1, 0), 0u);
  ExpectAllDone(bed, t);
}

TEST(FlowMove, RebalanceMovesSessionsWhileBytesFlow) {
  ProxyBed bed(TwoWorkers());
  const Transfers t = Start(bed);
  RunToMidTransfer(bed, t);
  const uint32_t on0 = bed.Engine(0).ActiveSessions();
  EXPECT_EQ(bed.Rebalance(0, 1, 1.0), on0);  // all of worker 0's
  EXPECT_EQ(bed.Engine(0).ActiveSessions(), 0u);
  bed.RunFor(20 * kMs);
  // And some back: the share picks by client flow hash.
  const uint32_t back = bed.Rebalance(1, 0, 0.5);
  EXPECT_GT(back, 0u);
  EXPECT_LT(back, bed.Engine(0).ActiveSessions() + bed.Engine(1).ActiveSessions());
  ExpectAllDone(bed, t);
  EXPECT_EQ(bed.Counted(Counter::kSessionsHandedOff), on0 + back);
  EXPECT_EQ(bed.Counted(Counter::kSessionsHandOffsAccepted), on0 + back);
  // Packets that reached the old owner's queue went to the new owner.
  EXPECT_GT(bed.steered, 0u);
}

}  // namespace
}  // namespace baton::dp::proxytest
