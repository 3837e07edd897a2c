// Two endpoints over a simulated link that drops, duplicates, reorders and delays
// segments (seeded PRNG, simulated clock). Every transfer must arrive whole and in
// order and the connection must close cleanly, within a step and time budget.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/tcp/syn_cookie.h"
#include "tests/tcp/sim.h"

namespace baton::dp::tcp::test {
namespace {

constexpr uint64_t kMaxSteps = 300'000;
constexpr uint64_t kMaxSimUs = 900'000'000;  // 15 simulated minutes

uint8_t Pattern(uint64_t seed, int dir, uint64_t i) {
  return static_cast<uint8_t>((i * 131 + static_cast<uint64_t>(dir) * 71 + seed * 7) ^ (i >> 9));
}

struct AppSide {
  uint64_t to_send = 0;
  uint64_t queued = 0;
  uint64_t received = 0;
  bool closed = false;
  bool close_when_done = true;
  bool slow_reader = false;     // reads at most 4 KiB per 20 ms: zero windows
  bool manual_ack = false;      // kAckByCursor: ack what the app consumed
  uint64_t next_read_us = 0;
  bool mismatch = false;
};

class Pair {
 public:
  Pair(uint64_t seed, LinkParams lp, const TcpConfig& ccfg, const TcpConfig& scfg,
       uint32_t snd_cap, uint32_t rcv_cap)
      : seed_(seed), sim(seed, lp),
        client(ccfg, 40000, 443, snd_cap, rcv_cap),
        server(scfg, 443, 40000, snd_cap, rcv_cap) {
    peers_[0] = &client;
    peers_[1] = &server;
    server.Ep().Listen(SeqNum(static_cast<uint32_t>(seed * 2654435761u)));
    client.Ep().Connect(SeqNum(static_cast<uint32_t>(0xfffff000u + seed)), 0);  // near wrap
  }

  // One app pass: queue data, close when all queued, read what arrived.
  void App(int i) {
    Peer& p = *peers_[i];
    AppSide& a = app[i];
    TcpEndpoint ep = p.Ep();
    const TcpState st = ep.state();
    std::array<uint8_t, 4096> buf;
    while (st != TcpState::kClosed && a.queued < a.to_send) {
      const size_t n = std::min<uint64_t>(buf.size(), a.to_send - a.queued);
      for (size_t k = 0; k < n; ++k) buf[k] = Pattern(seed_, i, a.queued + k);
      const uint32_t took = ep.Send(std::span(buf.data(), n));
      a.queued += took;
      if (took < n) break;
    }
    if (a.queued == a.to_send && !a.closed && a.close_when_done &&
        (st == TcpState::kEstablished || st == TcpState::kCloseWait)) {
      ep.Close();
      a.closed = true;
    }
    if (a.slow_reader && sim.now_us < a.next_read_us) return;
    int reads = 0;
    while (ep.Readable() > 0 && (!a.slow_reader || reads++ < 1)) {
      const uint32_t n = ep.Receive(buf);
      for (uint32_t k = 0; k < n; ++k) {
        if (buf[k] != Pattern(seed_, 1 - i, a.received + k)) a.mismatch = true;
      }
      a.received += n;
    }
    if (a.slow_reader) a.next_read_us = sim.now_us + 20'000;
    if (a.manual_ack) {
      // The layer above acknowledges what it consumed, and the FIN once all is read.
      const bool fin = (p.conn.events & kEvPeerFin) && ep.Readable() == 0;
      ep.AckUpTo(p.conn.irs + 1 + static_cast<uint32_t>(a.received) + (fin ? 1 : 0));
    }
  }

  // Runs until both sides are CLOSED and the link is empty; false on budget exhaustion.
  bool Run(uint64_t max_steps = kMaxSteps, uint64_t max_us = kMaxSimUs) {
    for (steps = 0; steps < max_steps; ++steps) {
      App(0);
      App(1);
      sim.Transmit(0, client);
      sim.Transmit(1, server);
      if (Done()) return true;
      uint64_t t = std::min({sim.NextDelivery(), client.Ep().NextDeadline(),
                             server.Ep().NextDeadline()});
      for (int i = 0; i < 2; ++i) {
        if (app[i].slow_reader && peers_[i]->Ep().Readable() > 0) {
          t = std::min(t, std::max(app[i].next_read_us, sim.now_us + 1));
        }
      }
      if (t == UINT64_MAX) return false;  // stuck: nothing will ever happen again
      sim.now_us = std::max(sim.now_us, t);
      if (sim.now_us > max_us) return false;
      sim.Deliver(peers_);
      for (Peer* p : peers_) {
        if (p->Ep().NextDeadline() <= sim.now_us) p->Ep().OnTimer(sim.now_us);
      }
    }
    return false;
  }

  bool Done() {
    return client.Ep().state() == TcpState::kClosed &&
           server.Ep().state() == TcpState::kClosed && sim.NextDelivery() == UINT64_MAX;
  }

  uint64_t seed_;
  Sim sim;
  Peer client;
  Peer server;
  Peer* peers_[2];
  AppSide app[2];
  uint64_t steps = 0;
};

void ExpectCleanTransfer(const Pair& p) {
  for (int i = 0; i < 2; ++i) {
    const Peer& peer = i == 0 ? p.client : p.server;
    EXPECT_EQ(p.app[i].received, p.app[1 - i].to_send) << "side " << i;
    EXPECT_FALSE(peer.conn.events & kEvReset) << "side " << i;
    EXPECT_FALSE(p.app[i].mismatch) << "side " << i << " got bytes out of order";
    EXPECT_FALSE(peer.conn.events & (kEvReset | kEvTimedOut)) << "side " << i;
    EXPECT_TRUE(peer.conn.events & kEvPeerFin) << "side " << i;
    EXPECT_EQ(peer.conn.snd_ring.size_bytes, 0u) << "side " << i;
  }
}

class LossyTransfer : public ::testing::TestWithParam<uint64_t> {};

TEST_P(LossyTransfer, OneMebibyteEachWayArrivesWholeAndCloses) {
  const uint64_t seed = GetParam();
  std::mt19937_64 knobs(seed * 977 + 1);
  LinkParams lp;
  lp.drop = static_cast<double>(knobs() % 6) / 100.0;     // 0..5 %
  lp.duplicate = static_cast<double>(knobs() % 3) / 100.0;
  lp.delay_us = 1'000 + knobs() % 20'000;
  lp.jitter_us = knobs() % 20'000;                        // reordering
  TcpConfig ccfg, scfg;
  ccfg.msl_us = scfg.msl_us = 5'000'000;
  if (seed % 5 == 0) ccfg.window_scaling = ccfg.timestamps = ccfg.sack = false;
  if (seed % 7 == 0) scfg.timestamps = false;
  if (seed % 3 == 1) ccfg.cc = scfg.cc = CcAlgo::kNewReno;  // CUBIC (default) otherwise
  if (seed % 4 == 1) ccfg.ack_policy = scfg.ack_policy = AckPolicy::kAckByCursor;
  const uint32_t rcv_caps[] = {16 << 10, 64 << 10, 256 << 10};
  const uint32_t snd_caps[] = {32 << 10, 128 << 10};
  Pair p(seed, lp, ccfg, scfg, snd_caps[seed % 2], rcv_caps[seed % 3]);
  constexpr uint64_t kBytes = 1 << 20;
  p.app[0].to_send = p.app[1].to_send = kBytes;
  p.app[0].manual_ack = p.app[1].manual_ack = seed % 4 == 1;
  p.app[1].slow_reader = seed % 6 == 2;
  ASSERT_TRUE(p.Run()) << "seed " << seed << " steps " << p.steps << " t=" << p.sim.now_us
                       << " client " << kTcpStateText[TcpIdx(p.client.Ep().state())]
                       << " server " << kTcpStateText[TcpIdx(p.server.Ep().state())]
                       << " rcvd " << p.app[0].received << "/" << p.app[1].received;
  ExpectCleanTransfer(p);
}

INSTANTIATE_TEST_SUITE_P(Seeds, LossyTransfer, ::testing::Range<uint64_t>(0, 200));

TEST(Transfer, SimultaneousOpen) {
  TcpConfig cfg;
  cfg.msl_us = 1'000'000;
  Pair p(1, LinkParams{}, cfg, cfg, 8192, 8192);
  // Turn the server into a second active opener: the SYNs cross on the link.
  p.server.Ep().Connect(SeqNum(777), 0);
  p.app[0].to_send = p.app[1].to_send = 20'000;
  bool saw_syn_rcvd = false;
  p.sim.keep = [&](int, const Segment&) {
    saw_syn_rcvd |= p.client.Ep().state() == TcpState::kSynRcvd;
    return true;
  };
  ASSERT_TRUE(p.Run());
  EXPECT_TRUE(saw_syn_rcvd);  // RFC 9293 3.5 figure 7 path
  ExpectCleanTransfer(p);
}

TEST(Transfer, SimultaneousCloseGoesThroughClosing) {
  TcpConfig cfg;
  cfg.msl_us = 1'000'000;
  Pair p(2, LinkParams{}, cfg, cfg, 8192, 8192);
  p.app[0].to_send = p.app[1].to_send = 1000;
  p.app[0].close_when_done = p.app[1].close_when_done = false;
  // Run until both are established and data exchanged, then close both at once.
  for (int i = 0; i < 200 && (p.app[0].received < 1000 || p.app[1].received < 1000); ++i) {
    ASSERT_FALSE(p.Run(1));
  }
  p.client.Ep().Close();
  p.server.Ep().Close();
  p.app[0].closed = p.app[1].closed = true;
  p.sim.Transmit(0, p.client);
  p.sim.Transmit(1, p.server);
  bool both_closing = false;
  p.sim.keep = [&](int, const Segment&) { return true; };
  for (int i = 0; i < 50 && !p.Done(); ++i) {
    (void)p.Run(1);
    both_closing |= p.client.Ep().state() == TcpState::kClosing &&
                    p.server.Ep().state() == TcpState::kClosing;
  }
  EXPECT_TRUE(both_closing);
  ASSERT_TRUE(p.Run());
  ExpectCleanTransfer(p);
}

TEST(Transfer, FastRetransmitBeatsTheTimer) {
  TcpConfig cfg;
  cfg.msl_us = 1'000'000;
  Pair p(3, LinkParams{.delay_us = 10'000}, cfg, cfg, 256 << 10, 256 << 10);
  p.app[0].to_send = 200'000;
  int dropped = 0;
  uint64_t retransmit_at = 0, drop_at = 0;
  SeqNum lost;
  p.sim.keep = [&](int from, const Segment& s) {
    if (from == 0 && !s.payload.empty()) {
      if (dropped == 0 && s.hdr.seq > p.client.conn.iss + 40'000) {
        ++dropped;
        lost = s.hdr.seq;
        drop_at = p.sim.now_us;
        return false;
      }
      if (dropped == 1 && s.hdr.seq == lost && retransmit_at == 0) retransmit_at = p.sim.now_us;
    }
    return true;
  };
  ASSERT_TRUE(p.Run());
  ASSERT_EQ(dropped, 1);
  ASSERT_NE(retransmit_at, 0u);
  EXPECT_LT(retransmit_at - drop_at, 100'000u);  // a few RTTs, far below RTO (>= 1 s)
  ExpectCleanTransfer(p);
}

TEST(Transfer, ZeroWindowIsProbedUntilTheReaderWakes) {
  TcpConfig cfg;
  cfg.msl_us = 1'000'000;
  Pair p(4, LinkParams{}, cfg, cfg, 64 << 10, 8 << 10);
  p.app[0].to_send = 100'000;
  p.app[1].slow_reader = true;
  p.app[1].next_read_us = 30'000'000;  // asleep for 30 s
  int probes = 0;
  p.sim.keep = [&](int from, const Segment& s) {
    if (from == 0 && s.payload.size() == 1 && p.client.conn.snd_wnd_bytes == 0) ++probes;
    return true;
  };
  ASSERT_TRUE(p.Run());
  EXPECT_GE(probes, 3);        // persist timer kept probing, with back-off
  EXPECT_LT(probes, 30);
  ExpectCleanTransfer(p);
}

TEST(Transfer, HeldAcksKeepSenderData) {
  TcpConfig cfg;
  cfg.msl_us = 1'000'000;
  cfg.ack_policy = AckPolicy::kAckByCursor;
  Pair p(5, LinkParams{}, cfg, cfg, 64 << 10, 64 << 10);
  p.app[0].to_send = 4000;  // fits the initial window: no ACK needed to send it all
  p.app[0].close_when_done = p.app[1].close_when_done = false;
  // The server app reads everything but never advances the cursor.
  for (int i = 0; i < 400 && p.app[1].received < 4000; ++i) (void)p.Run(1);
  ASSERT_EQ(p.app[1].received, 4000u);
  (void)p.Run(40);  // let time pass: the client retransmits, nothing is freed
  EXPECT_GT(p.sim.now_us, 1'000'000u);
  EXPECT_EQ(p.client.conn.snd_ring.size_bytes, 4000u);
  EXPECT_EQ(p.client.conn.snd_una, p.client.conn.iss + 1);
  // Now the layer above says the bytes are safe.
  p.server.Ep().AckUpTo(p.server.Ep().RcvNxt());
  for (int i = 0; i < 50 && p.client.conn.snd_ring.size_bytes > 0; ++i) (void)p.Run(1);
  EXPECT_EQ(p.client.conn.snd_ring.size_bytes, 0u);
  EXPECT_FALSE(p.client.conn.events & kEvTimedOut);
}

}  // namespace
}  // namespace baton::dp::tcp::test

namespace baton::dp::tcp::test {
namespace {

TEST(Transfer, KeepaliveProbesIdlePeerAndGivesUpOnSilence) {
  TcpConfig ccfg, scfg;
  ccfg.keepalive_idle_us = 10'000'000;
  ccfg.keepalive_interval_us = 1'000'000;
  ccfg.keepalive_probes = 3;
  Pair p(6, LinkParams{}, ccfg, scfg, 8192, 8192);
  p.app[0].to_send = 100;
  p.app[0].close_when_done = p.app[1].close_when_done = false;
  int probes = 0;
  bool silent = false;
  p.sim.keep = [&](int from, const Segment& s) {
    if (from == 0 && s.payload.empty() && s.hdr.seq + 1 == p.client.conn.snd_nxt) ++probes;
    return !(silent && from == 1);
  };
  // An idle but live peer answers every probe; the connection stays up.
  (void)p.Run(10'000, 60'000'000);
  EXPECT_EQ(p.client.Ep().state(), TcpState::kEstablished);
  EXPECT_GE(probes, 4);
  EXPECT_FALSE(p.client.conn.events & kEvTimedOut);
  // The peer goes silent: after the configured probes the connection is declared dead.
  silent = true;
  (void)p.Run(10'000, 200'000'000);
  EXPECT_EQ(p.client.Ep().state(), TcpState::kClosed);
  EXPECT_TRUE(p.client.conn.events & kEvTimedOut);
}

}  // namespace
}  // namespace baton::dp::tcp::test

namespace baton::dp::tcp::test {
namespace {

TEST(Transfer, RecordCopiedMidTransferContinuesElsewhere) {
  // The record is plain bytes: copy it (and the ring storage) to "another core" in the
  // middle of a lossy transfer and let that copy finish the connection.
  TcpConfig cfg;
  cfg.msl_us = 1'000'000;
  Pair p(7, LinkParams{.drop = 0.02, .duplicate = 0.01, .delay_us = 3'000, .jitter_us = 4'000},
         cfg, cfg, 32 << 10, 32 << 10);
  p.app[0].to_send = p.app[1].to_send = 300'000;
  for (int i = 0; i < 400; ++i) (void)p.Run(1);
  ASSERT_GT(p.app[1].received, 0u);
  ASSERT_LT(p.app[1].received, 300'000u);
  std::vector<uint8_t> raw(sizeof(TcpConnection));
  std::memcpy(raw.data(), &p.server.conn, sizeof(TcpConnection));
  std::vector<uint8_t> snd = p.server.snd_buf, rcv = p.server.rcv_buf;  // new addresses
  std::memset(static_cast<void*>(&p.server.conn), 0xa5, sizeof(TcpConnection));
  p.server.snd_buf.assign(p.server.snd_buf.size(), 0xee);
  p.server.rcv_buf.assign(p.server.rcv_buf.size(), 0xee);
  p.server.snd_buf.swap(snd);
  p.server.rcv_buf.swap(rcv);
  std::memcpy(static_cast<void*>(&p.server.conn), raw.data(), sizeof(TcpConnection));
  ASSERT_TRUE(p.Run());
  ExpectCleanTransfer(p);
}

TEST(Transfer, AbortSendsResetThePeerSees) {
  TcpConfig cfg;
  Pair p(8, LinkParams{}, cfg, cfg, 8192, 8192);
  p.app[0].close_when_done = p.app[1].close_when_done = false;
  for (int i = 0; i < 20 && p.server.Ep().state() != TcpState::kEstablished; ++i) (void)p.Run(1);
  ASSERT_EQ(p.client.Ep().state(), TcpState::kEstablished);
  p.client.Ep().Abort();
  EXPECT_EQ(p.client.Ep().state(), TcpState::kClosed);
  ASSERT_TRUE(p.Run());
  EXPECT_TRUE(p.server.conn.events & kEvReset);  // RST at SND.MAX == peer's RCV.NXT
}

}  // namespace
}  // namespace baton::dp::tcp::test

namespace baton::dp::tcp::test {
namespace {

TEST(Transfer, SynCookieConnectionCarriesDataBothWays) {
  TcpConfig cfg;
  cfg.msl_us = 1'000'000;
  Pair p(9, LinkParams{.drop = 0.02, .delay_us = 2'000, .jitter_us = 3'000}, cfg, cfg,
         32 << 10, 32 << 10);
  p.app[0].to_send = p.app[1].to_send = 200'000;
  const std::array<uint8_t, 4> vip = {192, 0, 2, 1}, client = {198, 51, 100, 7};
  const FlowAddrs flow{vip, 443, client, 40000};
  const IsnKey key{42, 43};
  // The listener answers the SYN without a record.
  const auto syns = p.client.Flush(0);
  ASSERT_EQ(syns.size(), 1u);
  const SeqNum cookie = SynCookieIsn(key, flow, syns[0].hdr.seq, syns[0].opts.mss_bytes, 0);
  std::array<uint8_t, 64> buf{};
  const size_t n = BuildSynCookieSynAck(syns[0], cookie, 1460, 32768, buf);
  Segment synack;
  ASSERT_EQ(ParseSegment(std::span(buf.data(), n), synack), ParseStatus::kOk);
  (void)p.client.Ep().Input(synack, 2'000);
  ASSERT_EQ(p.client.Ep().state(), TcpState::kEstablished);
  const auto acks = p.client.Flush(2'000);
  ASSERT_EQ(acks.size(), 1u);
  // The ACK comes back: check the cookie, then build the record from it.
  uint16_t mss = 0;
  ASSERT_TRUE(SynCookieCheck(key, flow, acks[0].hdr.seq - 1, acks[0].hdr.ack - 1, 4'000, mss));
  EXPECT_EQ(mss, 1460);
  TcpEndpoint::Init(p.server.conn, cfg, 443, 40000, 32 << 10, 32 << 10, 4'000);
  EXPECT_EQ(p.server.Ep().AcceptCookie(acks[0], mss, 4'000).drop, TcpDrop::kNone);
  EXPECT_EQ(p.server.Ep().state(), TcpState::kEstablished);
  EXPECT_FALSE(p.server.conn.ws_ok || p.server.conn.ts_ok || p.server.conn.sack_ok);
  EXPECT_FALSE(p.client.conn.ws_ok || p.client.conn.ts_ok || p.client.conn.sack_ok);
  p.sim.now_us = 4'000;
  ASSERT_TRUE(p.Run());
  ExpectCleanTransfer(p);
}

}  // namespace
}  // namespace baton::dp::tcp::test

namespace baton::dp::tcp::test {
namespace {

// Loss recovery, benchmark style but in simulated time (deterministic per seed, no
// wall clock): 4 MiB one way over a 1 ms RTT link with random loss, SACK (RFC 6675 +
// TLP) against NewReno without SACK. The RTO floor is the proxy's 200 ms.
struct RecoveryRun {
  uint64_t done_us = 0;  // simulated time at which the receiver had every byte
  TcpStats stats;
};

RecoveryRun RunOneWay(uint64_t seed, double loss, bool sack) {
  TcpConfig cfg;
  cfg.sack = sack;
  cfg.rto_min_us = 200'000;
  cfg.msl_us = 1'000'000;
  Pair p(seed, LinkParams{.drop = loss, .delay_us = 500}, cfg, cfg, 256 << 10, 256 << 10);
  constexpr uint64_t kBytes = 4 << 20;
  p.app[0].to_send = kBytes;
  RecoveryRun r;
  for (uint64_t i = 0; i < 2'000'000 && p.app[1].received < kBytes; ++i) {
    if (p.Run(1) || p.sim.now_us > kMaxSimUs) break;
  }
  r.done_us = p.sim.now_us;
  EXPECT_EQ(p.app[1].received, kBytes) << "seed " << seed << " loss " << loss << " sack " << sack;
  EXPECT_TRUE(p.Run()) << "seed " << seed << " loss " << loss << " sack " << sack;
  ExpectCleanTransfer(p);
  r.stats = p.client.conn.stats;
  return r;
}

class LossRecovery : public ::testing::TestWithParam<int> {};

TEST_P(LossRecovery, SackBeatsNewRenoInSimulatedTime) {
  const int loss_pct = GetParam();
  constexpr int kSeeds = 20;
  uint64_t t_sack = 0, t_reno = 0, rto_sack = 0, rto_reno = 0, fr = 0, srtx = 0, tlp = 0;
  int sack_faster = 0;
  for (uint64_t seed = 0; seed < kSeeds; ++seed) {
    const RecoveryRun s = RunOneWay(1000 + seed, loss_pct / 100.0, true);
    const RecoveryRun n = RunOneWay(1000 + seed, loss_pct / 100.0, false);
    t_sack += s.done_us;
    t_reno += n.done_us;
    rto_sack += s.stats.rto_count;
    rto_reno += n.stats.rto_count;
    fr += s.stats.fast_retransmits;
    srtx += s.stats.sack_retransmits;
    tlp += s.stats.tlp_probes;
    sack_faster += s.done_us < n.done_us;
  }
  std::printf("[ loss %d%% ] 4 MiB, RTT 1 ms, %d seeds, mean simulated time: SACK %.3f s "
              "(RTOs %.2f, recoveries %.1f, SACK rtx %.1f, TLPs %.2f), NewReno %.3f s "
              "(RTOs %.2f); ratio %.2f, SACK faster on %d seeds\n",
              loss_pct, kSeeds, t_sack / 1e6 / kSeeds, double(rto_sack) / kSeeds,
              double(fr) / kSeeds, double(srtx) / kSeeds, double(tlp) / kSeeds,
              t_reno / 1e6 / kSeeds, double(rto_reno) / kSeeds, double(t_reno) / double(t_sack),
              sack_faster);
  EXPECT_LT(t_sack * 2, t_reno);  // at least twice as fast over the 20 seeds
  EXPECT_LT(rto_sack * 2, rto_reno);
  EXPECT_GE(sack_faster, kSeeds - 2);
}

INSTANTIATE_TEST_SUITE_P(LossPct, LossRecovery, ::testing::Values(1, 3, 5));

}  // namespace
}  // namespace baton::dp::tcp::test
