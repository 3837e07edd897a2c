// Sender-side SACK: the scoreboard routines (RFC 6675 IsLost/SetPipe/NextSeg) on their
// own, then crafted segments from a scripted peer: several holes repaired in one
// recovery episode, a lost tail repaired by the loss probe (RFC 8985 7) before the RTO,
// and a peer that SACKs and then reneges (RFC 2018 8).
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "tests/tcp/sim.h"

namespace baton::dp::tcp::test {
namespace {

constexpr uint32_t kMss = 1000;

SackView ViewAt(uint32_t una, uint32_t max, uint32_t high_rxt, uint32_t rto_end = 0) {
  return {SeqNum(una), SeqNum(max), SeqNum(high_rxt), SeqNum(rto_end ? rto_end : una), kMss};
}

void Sack(SackScoreboard& sb, uint32_t l, uint32_t r, uint32_t una = 0, uint32_t max = 100'000) {
  const SackBlock b{SeqNum(l), SeqNum(r)};
  (void)SbUpdate(sb, std::span(&b, 1), SeqNum(una), SeqNum(max));
}

TEST(Scoreboard, UpdateMergesAndIgnoresDsackAndBogusBlocks) {
  SackScoreboard sb;
  const SackBlock b[3] = {{SeqNum(3000), SeqNum(4000)}, {SeqNum(5000), SeqNum(6000)},
                          {SeqNum(4000), SeqNum(5000)}};
  EXPECT_EQ(SbUpdate(sb, b, SeqNum(1000), SeqNum(10'000)), 3000u);
  ASSERT_EQ(sb.count, 1);  // touching ranges merge
  EXPECT_EQ(sb.range[0].left, SeqNum(3000));
  EXPECT_EQ(sb.range[0].right, SeqNum(6000));
  const SackBlock dup[2] = {{SeqNum(500), SeqNum(900)}, {SeqNum(3500), SeqNum(5500)}};
  EXPECT_EQ(SbUpdate(sb, dup, SeqNum(1000), SeqNum(10'000)), 0u);  // D-SACK + known
  const SackBlock bogus{SeqNum(9000), SeqNum(11'000)};
  EXPECT_EQ(SbUpdate(sb, std::span(&bogus, 1), SeqNum(1000), SeqNum(10'000)), 0u);
  SbTrim(sb, SeqNum(3500));
  EXPECT_EQ(sb.range[0].left, SeqNum(3500));
  EXPECT_TRUE(SbCovers(sb, SeqNum(3500)));
  SbTrim(sb, SeqNum(6000));
  EXPECT_EQ(sb.count, 0);
}

TEST(Scoreboard, FullBoardForgetsTheHighestRange) {
  SackScoreboard sb;
  for (uint32_t i = 0; i < kScoreboardRanges + 4; ++i) Sack(sb, 2000 + i * 2000, 3000 + i * 2000);
  EXPECT_EQ(sb.count, kScoreboardRanges);
  EXPECT_EQ(sb.range[0].left, SeqNum(2000));
  Sack(sb, 1000, 1500);  // a lower range still gets in
  EXPECT_EQ(sb.range[0].left, SeqNum(1000));
  EXPECT_EQ(sb.count, kScoreboardRanges);
}

TEST(Scoreboard, IsLostNeedsThreeSegmentsOrThreeRangesAbove) {
  SackScoreboard sb;
  Sack(sb, 2000, 4000);
  EXPECT_FALSE(SbIsLost(sb, SeqNum(1000), kMss));  // 2 MSS above: not yet
  Sack(sb, 4000, 4001);
  EXPECT_TRUE(SbIsLost(sb, SeqNum(1000), kMss));   // more than 2 MSS
  SackScoreboard small;
  Sack(small, 2000, 2010);
  Sack(small, 2100, 2110);
  EXPECT_FALSE(SbIsLost(small, SeqNum(1000), kMss));
  Sack(small, 2200, 2210);
  EXPECT_TRUE(SbIsLost(small, SeqNum(1000), kMss));  // DupThresh discontiguous ranges
}

TEST(Scoreboard, PipeAndNextSegFollowRfc6675) {
  // Sent [1000, 11000): holes [1000,2000) and [5000,6000) with 3 MSS SACKed above
  // each, [8000,9000) with 2 MSS above (not lost), SACKed [9000,11000).
  SackScoreboard sb;
  Sack(sb, 2000, 5000);
  Sack(sb, 6000, 8000);
  Sack(sb, 9000, 11000);
  SackView v = ViewAt(1000, 11000, 1000);
  EXPECT_EQ(SbPipe(sb, v), 1000u);  // only the hole that is not lost
  SackSeg s;
  ASSERT_TRUE(SbNextLost(sb, v, s));
  EXPECT_EQ(s.seq, SeqNum(1000));
  EXPECT_EQ(s.len, kMss);
  v.high_rxt = SeqNum(2000);  // first hole resent: counts once more
  EXPECT_EQ(SbPipe(sb, v), 2000u);
  ASSERT_TRUE(SbNextLost(sb, v, s));
  EXPECT_EQ(s.seq, SeqNum(5000));
  v.high_rxt = SeqNum(6000);
  EXPECT_FALSE(SbNextLost(sb, v, s));  // [8000,9000) is not lost yet
  ASSERT_TRUE(SbNextUnsacked(sb, v, s));  // rule (3) would send it
  EXPECT_EQ(s.seq, SeqNum(8000));
  // Rule (4): the highest unSACKed segment, here the top of the sent data.
  SackView top = ViewAt(1000, 12'500, 6000);
  ASSERT_TRUE(SbRescue(sb, top, s));
  EXPECT_EQ(s.seq, SeqNum(11'500));
  EXPECT_EQ(s.len, kMss);
  // After a timeout everything unSACKed below rto_lost_end counts as lost.
  SackView rto = ViewAt(1000, 11000, 1000, 11000);
  EXPECT_EQ(SbPipe(sb, rto), 0u);
  rto.high_rxt = SeqNum(6000);
  ASSERT_TRUE(SbNextLost(sb, rto, s));
  EXPECT_EQ(s.seq, SeqNum(8000));
}

// ---- Crafted segments against one sender --------------------------------------------

constexpr uint32_t kServerIss = 1000;
constexpr uint32_t kClientIss = 5000;

// A server that completed the handshake with a scripted client offering SACK and
// timestamps (1 ms RTT sample), and has `segs` full segments of data in flight.
class ScriptedPeer {
 public:
  explicit ScriptedPeer(TcpConfig cfg = Defaults()) : p(cfg, 443, 40000, 1 << 20, 65536) {
    p.Ep().Listen(SeqNum(kServerIss));
    Segment syn = Seg(kFlagSyn, kClientIss, 0);
    syn.opts.has_mss = true;
    syn.opts.mss_bytes = 1460;
    syn.opts.has_wscale = true;
    syn.opts.wscale_shift = 7;
    syn.opts.sack_permitted = true;
    syn.opts.has_timestamps = true;
    syn.opts.ts_val = ts_++;
    EXPECT_EQ(p.Ep().Input(syn, 0).drop, TcpDrop::kNone);
    EXPECT_EQ(p.Flush(0).size(), 1u);
    now = 1000;
    Ack(kServerIss + 1);
    EXPECT_EQ(p.Ep().state(), TcpState::kEstablished);
    mss = p.conn.snd_mss_bytes;
  }
  static TcpConfig Defaults() {
    TcpConfig c;
    c.rto_min_us = 200'000;
    return c;
  }

  // Queues and sends `n` full segments (cwnd opened first); returns the first's seq.
  uint32_t SendSegments(uint32_t n) {
    p.conn.cc.cwnd_bytes = 64 * mss;
    std::vector<uint8_t> data(n * mss, 0x5a);
    EXPECT_EQ(p.Ep().Send(data), n * mss);
    const uint32_t first = p.conn.snd_max.raw;
    const auto out = p.Flush(now);
    EXPECT_EQ(out.size(), n);
    return first;
  }
  // The peer's ACK with SACK blocks (given as [left, right) pairs).
  InputResult Ack(uint32_t ack, std::vector<std::pair<uint32_t, uint32_t>> blocks = {}) {
    Segment s = Seg(kFlagAck, kClientIss + 1, ack, 512);
    s.opts.has_timestamps = true;
    s.opts.ts_val = ts_++;
    s.opts.sack_count = static_cast<uint8_t>(blocks.size());
    for (size_t i = 0; i < blocks.size(); ++i) {
      s.opts.sack[i] = {SeqNum(blocks[i].first), SeqNum(blocks[i].second)};
    }
    return p.Ep().Input(s, now);
  }
  std::vector<Segment> Out() { return p.Flush(now); }
  // Fires the next timer; returns which deadline it was.
  uint64_t FireNext() {
    now = p.Ep().NextDeadline();
    p.Ep().OnTimer(now);
    return now;
  }

  Peer p;
  uint64_t now = 0;
  uint32_t mss = 0;

 private:
  uint32_t ts_ = 100;
};

std::vector<uint32_t> DataSeqs(const std::vector<Segment>& segs) {
  std::vector<uint32_t> v;
  for (const Segment& s : segs) {
    if (!s.payload.empty()) v.push_back(s.hdr.seq.raw);
  }
  return v;
}

TEST(SackRecovery, ThreeHolesInOneWindowRepairedInOneEpisode) {
  ScriptedPeer t;
  const uint32_t m = t.mss;
  const uint32_t b = t.SendSegments(20);
  const auto seg = [&](uint32_t i) { return b + i * m; };
  // Segments 3, 8 and 13 are lost; the peer reports the rest as a Linux receiver would,
  // one ACK per arrival, newest block first.
  t.now += 1000;
  (void)t.Ack(seg(3));
  EXPECT_TRUE(t.Out().empty());
  std::vector<uint32_t> resent;
  for (uint32_t i = 4; i < 20; ++i) {
    if (i == 8 || i == 13) continue;
    std::vector<std::pair<uint32_t, uint32_t>> blocks;
    const uint32_t top_left = i < 8 ? seg(4) : i < 13 ? seg(9) : seg(14);
    blocks.push_back({top_left, seg(i + 1)});
    if (i > 8) blocks.push_back({seg(4), seg(8)});
    if (i > 13) blocks.push_back({seg(9), seg(13)});
    (void)t.Ack(seg(3), blocks);
    for (uint32_t s : DataSeqs(t.Out())) resent.push_back(s);
  }
  EXPECT_EQ(t.p.conn.recovery, Recovery::kSackFast);
  EXPECT_EQ(t.p.conn.stats.fast_retransmits, 1u);
  // Every hole went out once, lowest first, before any timer fired. With no new data
  // left, NextSeg() rule (4) may add one rescue retransmission of the highest
  // unSACKed segment (seg 19 here, not yet SACKed when it went out).
  std::vector<uint32_t> holes;
  for (uint32_t s : resent) {
    if (s != seg(19)) holes.push_back(s);
  }
  EXPECT_LE(t.p.conn.stats.rescue_retransmits, 1u);
  EXPECT_EQ(holes, (std::vector<uint32_t>{seg(3), seg(8), seg(13)}));
  EXPECT_EQ(t.p.conn.stats.rto_count, 0u);
  // The repairs arrive: one cumulative ACK ends the episode (RecoveryPoint reached).
  (void)t.Ack(seg(20));
  EXPECT_EQ(t.p.conn.recovery, Recovery::kNone);
  EXPECT_EQ(t.p.conn.stats.fast_retransmits, 1u);
  EXPECT_EQ(t.p.conn.sacked.count, 0);
}

TEST(SackRecovery, NoSackPeerFallsBackToNewReno) {
  TcpConfig cfg = ScriptedPeer::Defaults();
  cfg.sack = false;
  ScriptedPeer t(cfg);
  ASSERT_FALSE(t.p.conn.sack_ok);
  const uint32_t b = t.SendSegments(10);
  for (int i = 0; i < 3; ++i) (void)t.Ack(b);
  EXPECT_EQ(t.p.conn.recovery, Recovery::kNewReno);
  const auto out = DataSeqs(t.Out());
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0], b);
}

TEST(TailLossProbe, LostLastSegmentIsResentBeforeTheRto) {
  ScriptedPeer t;
  const uint32_t m = t.mss;
  const uint32_t b = t.SendSegments(5);
  t.now += 1000;
  (void)t.Ack(b + 4 * m);  // everything but the last segment
  (void)t.Out();
  const uint64_t rto_at = t.p.conn.rtx_deadline_us;
  const uint64_t sent_at = t.now;
  const uint64_t fired = t.FireNext();
  EXPECT_LT(fired, rto_at);
  EXPECT_LT(fired - sent_at, 60'000u);  // 2*SRTT (>= 10 ms) + 40 ms for a lone segment
  const auto out = t.Out();
  ASSERT_EQ(DataSeqs(out), (std::vector<uint32_t>{b + 4 * m}));
  EXPECT_EQ(t.p.conn.stats.tlp_probes, 1u);
  EXPECT_EQ(t.p.conn.stats.rto_count, 0u);
  (void)t.Ack(b + 5 * m);
  EXPECT_EQ(t.p.Ep().Unacked(), 0u);
}

TEST(TailLossProbe, OffMeansTheRtoRepairsTheTail) {
  TcpConfig cfg = ScriptedPeer::Defaults();
  cfg.tlp = false;
  ScriptedPeer t(cfg);
  const uint32_t b = t.SendSegments(5);
  t.now += 1000;
  (void)t.Ack(b + 4 * t.mss);
  (void)t.Out();
  const uint64_t rto_at = t.p.conn.rtx_deadline_us;
  EXPECT_EQ(t.FireNext(), rto_at);
  EXPECT_EQ(DataSeqs(t.Out()), (std::vector<uint32_t>{b + 4 * t.mss}));
  EXPECT_EQ(t.p.conn.stats.tlp_probes, 0u);
  EXPECT_EQ(t.p.conn.stats.rto_count, 1u);
}

TEST(SackReneging, CumulativeAckStoppingAtSackedDataIsResentAfterRto) {
  ScriptedPeer t;
  const uint32_t m = t.mss;
  const uint32_t b = t.SendSegments(10);
  t.now += 1000;
  for (uint32_t i = 2; i <= 10; ++i) (void)t.Ack(b, {{b + m, b + i * m}});
  ASSERT_EQ(t.p.conn.recovery, Recovery::kSackFast);
  EXPECT_EQ(DataSeqs(t.Out()), (std::vector<uint32_t>{b}));  // only the hole
  // The peer takes the repair but has thrown away what it SACKed: its cumulative ACK
  // stops at the SACKed data and no block comes with it.
  (void)t.Ack(b + m);
  EXPECT_TRUE(DataSeqs(t.Out()).empty());  // the scoreboard still says "SACKed"
  const uint64_t rto_at = t.p.conn.rtx_deadline_us;
  EXPECT_EQ(t.FireNext(), rto_at);
  EXPECT_EQ(t.p.conn.stats.rto_count, 1u);
  EXPECT_EQ(t.p.conn.stats.sack_cleared, 1u);
  EXPECT_EQ(DataSeqs(t.Out()), (std::vector<uint32_t>{b + m}));
  // The data was kept in the send ring all along (RFC 2018 8).
  EXPECT_EQ(t.p.Ep().Unacked(), 9 * m);
  (void)t.Ack(b + 2 * m);
  EXPECT_EQ(DataSeqs(t.Out()), (std::vector<uint32_t>{b + 2 * m, b + 3 * m}));  // slow start
}

TEST(SackReneging, SilentPeerGetsSackedDataAfterTheSecondRto) {
  ScriptedPeer t;
  const uint32_t m = t.mss;
  const uint32_t b = t.SendSegments(10);
  t.now += 1000;
  for (uint32_t i = 2; i <= 10; ++i) (void)t.Ack(b, {{b + m, b + i * m}});
  EXPECT_EQ(DataSeqs(t.Out()), (std::vector<uint32_t>{b}));
  // The peer never acknowledges anything again.
  (void)t.FireNext();
  EXPECT_EQ(t.p.conn.stats.rto_count, 1u);
  EXPECT_EQ(t.p.conn.stats.sack_cleared, 0u);  // first timeout: scoreboard kept
  EXPECT_EQ(DataSeqs(t.Out()), (std::vector<uint32_t>{b}));
  (void)t.FireNext();
  EXPECT_EQ(t.p.conn.stats.rto_count, 2u);
  EXPECT_EQ(t.p.conn.stats.sack_cleared, 1u);  // second one: not trusted any more
  EXPECT_EQ(DataSeqs(t.Out()), (std::vector<uint32_t>{b}));
  // The peer finally takes the first segment; the formerly SACKed data follows.
  (void)t.Ack(b + m);
  EXPECT_EQ(DataSeqs(t.Out()), (std::vector<uint32_t>{b + m, b + 2 * m}));
}

}  // namespace
}  // namespace baton::dp::tcp::test
