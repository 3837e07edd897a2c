// Crafted segments against one endpoint: handshake options, resets, RFC 5961 checks,
// PAWS, delayed ACK, AckUpTo, SYN back-off.
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "tests/tcp/sim.h"

namespace baton::dp::tcp::test {
namespace {

constexpr uint32_t kServerIss = 1000;
constexpr uint32_t kClientIss = 5000;

Segment SynWithOptions() {
  Segment syn = Seg(kFlagSyn, kClientIss, 0);
  syn.opts.has_mss = true;
  syn.opts.mss_bytes = 1460;
  syn.opts.has_wscale = true;
  syn.opts.wscale_shift = 7;
  syn.opts.sack_permitted = true;
  syn.opts.has_timestamps = true;
  syn.opts.ts_val = 100;
  return syn;
}

// A server that went LISTEN -> SYN-RECEIVED -> ESTABLISHED on crafted segments.
std::unique_ptr<Peer> EstablishedServer(TcpConfig cfg = {}) {
  auto p = std::make_unique<Peer>(cfg, 443, 40000, 65536, 65536);
  p->Ep().Listen(SeqNum(kServerIss));
  EXPECT_EQ(p->Ep().Input(SynWithOptions(), 0).drop, TcpDrop::kNone);
  EXPECT_EQ(p->Flush(0).size(), 1u);
  Segment ack = Seg(kFlagAck, kClientIss + 1, kServerIss + 1, 512);
  ack.opts.has_timestamps = true;
  ack.opts.ts_val = 101;
  const InputResult r = p->Ep().Input(ack, 1000);
  EXPECT_EQ(r.drop, TcpDrop::kNone);
  EXPECT_TRUE(r.events & kEvConnected);
  EXPECT_EQ(p->Ep().state(), TcpState::kEstablished);
  return p;
}

Segment DataSeg(uint32_t seq, std::span<const uint8_t> payload, uint32_t ts_val = 102) {
  Segment s = Seg(kFlagAck, seq, kServerIss + 1, 512, payload);
  s.opts.has_timestamps = true;
  s.opts.ts_val = ts_val;
  return s;
}

TEST(Handshake, PassiveOpenAnswersWithNegotiatedOptions) {
  Peer p(TcpConfig{}, 443, 40000, 65536, 1 << 20);
  p.Ep().Listen(SeqNum(kServerIss));
  ASSERT_EQ(p.Ep().Input(SynWithOptions(), 0).drop, TcpDrop::kNone);
  EXPECT_EQ(p.Ep().state(), TcpState::kSynRcvd);
  const auto out = p.Flush(0);
  ASSERT_EQ(out.size(), 1u);
  const Segment& sa = out[0];
  EXPECT_EQ(sa.hdr.flags, kFlagSyn | kFlagAck);
  EXPECT_EQ(sa.hdr.seq, SeqNum(kServerIss));
  EXPECT_EQ(sa.hdr.ack, SeqNum(kClientIss + 1));
  EXPECT_EQ(sa.hdr.window, 65535);  // never scaled in a SYN (RFC 7323 2.2)
  EXPECT_TRUE(sa.opts.has_mss);
  EXPECT_EQ(sa.opts.mss_bytes, 1460);
  EXPECT_TRUE(sa.opts.has_wscale);
  EXPECT_EQ(sa.opts.wscale_shift, 5);  // 1 MiB >> 5 fits 16 bits
  EXPECT_TRUE(sa.opts.sack_permitted);
  EXPECT_TRUE(sa.opts.has_timestamps);
  EXPECT_EQ(sa.opts.ts_ecr, 100u);
  EXPECT_EQ(p.conn.snd_wscale, 7);
  EXPECT_EQ(p.conn.snd_mss_bytes, 1460 - 12);
}

TEST(Handshake, SynWithoutOptionsGetsPlainSynAck) {
  Peer p(TcpConfig{}, 443, 40000, 1 << 20, 1 << 20);
  p.Ep().Listen(SeqNum(kServerIss));
  ASSERT_EQ(p.Ep().Input(Seg(kFlagSyn, kClientIss, 0), 0).drop, TcpDrop::kNone);
  const auto out = p.Flush(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].opts.has_mss);
  EXPECT_FALSE(out[0].opts.has_wscale);
  EXPECT_FALSE(out[0].opts.has_timestamps);
  EXPECT_FALSE(out[0].opts.sack_permitted);
  EXPECT_EQ(p.conn.snd_mss_bytes, 536);  // RFC 9293 3.7.1 default
  EXPECT_EQ(p.conn.rcv_wscale, 0);
}

TEST(Handshake, ListenAnswersAckWithReset) {
  Peer p(TcpConfig{}, 443, 40000, 4096, 4096);
  p.Ep().Listen(SeqNum(kServerIss));
  EXPECT_EQ(p.Ep().Input(Seg(kFlagAck, 7, 12345), 0).drop, TcpDrop::kAckInListen);
  const auto out = p.Flush(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.flags, kFlagRst);
  EXPECT_EQ(out[0].hdr.seq, SeqNum(12345));  // <SEQ=SEG.ACK><CTL=RST>
  EXPECT_EQ(p.Ep().state(), TcpState::kListen);
  EXPECT_EQ(p.Ep().Input(Seg(kFlagRst, 7, 0), 0).drop, TcpDrop::kRstInListen);
  EXPECT_TRUE(p.Flush(0).empty());
}

TEST(Handshake, ResetForNoConnection) {
  std::array<uint8_t, 64> buf{};
  const std::array<uint8_t, 10> data{};
  const size_t n = BuildResetFor(Seg(kFlagSyn, 100, 0, 0, data), buf);
  Segment r;
  ASSERT_EQ(ParseSegment(std::span(buf.data(), n), r), ParseStatus::kOk);
  EXPECT_EQ(r.hdr.flags, kFlagRst | kFlagAck);
  EXPECT_EQ(r.hdr.ack, SeqNum(111));  // SEG.SEQ + SEG.LEN (SYN counts)
  EXPECT_EQ(r.hdr.src_port, 443);
  EXPECT_EQ(BuildResetFor(Seg(kFlagRst, 1, 0), buf), 0u);
}

TEST(Handshake, ClosedRecordAnswersSynWithResetAck) {
  Peer p(TcpConfig{}, 443, 40000, 4096, 4096);
  const std::array<uint8_t, 5> data{};
  EXPECT_EQ(p.Ep().Input(Seg(kFlagSyn, 100, 0, 0, data), 0).drop, TcpDrop::kNoConnection);
  const auto out = p.Flush(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.flags, kFlagRst | kFlagAck);
  EXPECT_EQ(out[0].hdr.seq, SeqNum(0));
  EXPECT_EQ(out[0].hdr.ack, SeqNum(106));  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
  EXPECT_FALSE(out[0].opts.has_timestamps);
}

TEST(Handshake, SynRcvdResetsUnacceptableAck) {
  Peer p(TcpConfig{}, 443, 40000, 4096, 4096);
  p.Ep().Listen(SeqNum(kServerIss));
  ASSERT_EQ(p.Ep().Input(Seg(kFlagSyn, kClientIss, 0), 0).drop, TcpDrop::kNone);
  (void)p.Flush(0);
  EXPECT_EQ(p.Ep().Input(Seg(kFlagAck, kClientIss + 1, kServerIss + 50), 0).drop,
            TcpDrop::kAckUnacceptableSynRcvd);
  const auto out = p.Flush(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.flags, kFlagRst);
  EXPECT_EQ(p.Ep().state(), TcpState::kSynRcvd);
}

TEST(Handshake, DuplicateSynInSynRcvdResendsSynAck) {
  Peer p(TcpConfig{}, 443, 40000, 4096, 4096);
  p.Ep().Listen(SeqNum(kServerIss));
  ASSERT_EQ(p.Ep().Input(Seg(kFlagSyn, kClientIss, 0), 0).drop, TcpDrop::kNone);
  ASSERT_EQ(p.Flush(0).size(), 1u);
  EXPECT_EQ(p.Ep().Input(Seg(kFlagSyn, kClientIss, 0), 10).drop, TcpDrop::kNone);
  const auto out = p.Flush(10);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.flags, kFlagSyn | kFlagAck);
}

TEST(Handshake, SynBacksOffThenGivesUp) {
  TcpConfig cfg;
  Peer c(cfg, 40000, 443, 4096, 4096);
  c.Ep().Connect(SeqNum(kClientIss), 0);
  ASSERT_EQ(c.Flush(0).size(), 1u);
  uint64_t now = 0, expect_rto = cfg.rto_initial_us;
  for (int i = 0; i < cfg.syn_retries; ++i) {
    EXPECT_EQ(c.Ep().NextDeadline(), now + expect_rto) << i;
    now = c.Ep().NextDeadline();
    c.Ep().OnTimer(now);
    const auto out = c.Flush(now);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].hdr.flags, kFlagSyn);
    expect_rto = std::min<uint64_t>(expect_rto * 2, cfg.rto_max_us);  // RFC 6298 5.5
  }
  now = c.Ep().NextDeadline();
  c.Ep().OnTimer(now);
  EXPECT_EQ(c.Ep().state(), TcpState::kClosed);
  EXPECT_TRUE(c.conn.events & kEvTimedOut);
}

TEST(Rfc5961, ResetOnlyAtRcvNxt) {
  auto p = EstablishedServer();
  const uint32_t rcv_nxt = kClientIss + 1;
  // Outside the window: silently dropped.
  EXPECT_EQ(p->Ep().Input(Seg(kFlagRst, rcv_nxt + 1'000'000, 0), 2000).drop,
            TcpDrop::kRstOutOfWindow);
  EXPECT_TRUE(p->Flush(2000).empty());
  // In the window, not exact: challenge ACK, connection stays.
  EXPECT_EQ(p->Ep().Input(Seg(kFlagRst, rcv_nxt + 10, 0), 2000).drop, TcpDrop::kRstChallenged);
  auto out = p->Flush(2000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.flags, kFlagAck);
  EXPECT_EQ(out[0].hdr.ack, SeqNum(rcv_nxt));
  EXPECT_EQ(p->Ep().state(), TcpState::kEstablished);
  // Exact: reset.
  const InputResult r = p->Ep().Input(Seg(kFlagRst, rcv_nxt, 0), 2000);
  EXPECT_EQ(r.drop, TcpDrop::kNone);
  EXPECT_TRUE(r.events & kEvReset);
  EXPECT_EQ(p->Ep().state(), TcpState::kClosed);
}

TEST(Rfc5961, SynInEstablishedGetsRateLimitedChallengeAcks) {
  TcpConfig cfg;
  cfg.challenge_acks_per_s = 3;
  auto p = EstablishedServer(cfg);
  int acks = 0;
  for (int i = 0; i < 10; ++i) {
    const TcpDrop d = p->Ep().Input(Seg(kFlagSyn, 777, 0), 2000 + i).drop;
    EXPECT_TRUE(d == TcpDrop::kSynChallenged || d == TcpDrop::kChallengeRateLimited);
    acks += static_cast<int>(p->Flush(2000 + i).size());
  }
  EXPECT_EQ(acks, 3);
  EXPECT_EQ(p->Ep().state(), TcpState::kEstablished);
  // A new second refills the budget.
  EXPECT_EQ(p->Ep().Input(Seg(kFlagSyn, 777, 0), 1'500'000).drop, TcpDrop::kSynChallenged);
}

TEST(Rfc5961, AckForUnsentDataIsAnsweredAndDropped) {
  auto p = EstablishedServer();
  EXPECT_EQ(p->Ep().Input(DataSeg(kClientIss + 1, {}), 2000).drop, TcpDrop::kNone);
  Segment s = DataSeg(kClientIss + 1, {});
  s.hdr.ack = SeqNum(kServerIss + 500);
  EXPECT_EQ(p->Ep().Input(s, 2000).drop, TcpDrop::kAckUnsent);
  EXPECT_EQ(p->Flush(2000).size(), 1u);
}

TEST(Paws, OldTimestampIsDroppedWithAck) {
  auto p = EstablishedServer();
  const std::array<uint8_t, 100> data{};
  EXPECT_EQ(p->Ep().Input(DataSeg(kClientIss + 1, data, 50), 2000).drop, TcpDrop::kPaws);
  EXPECT_EQ(p->Ep().Readable(), 0u);
  EXPECT_EQ(p->Flush(2000).size(), 1u);
  EXPECT_EQ(p->Ep().Input(DataSeg(kClientIss + 1, data, 200), 2000).drop, TcpDrop::kNone);
  EXPECT_EQ(p->Ep().Readable(), 100u);
}

TEST(Paws, SegmentWithoutTimestampIsDroppedOnceNegotiated) {
  auto p = EstablishedServer();
  const std::array<uint8_t, 10> data{};
  EXPECT_EQ(p->Ep().Input(Seg(kFlagAck, kClientIss + 1, kServerIss + 1, 512, data), 2000).drop,
            TcpDrop::kTimestampMissing);
  EXPECT_EQ(p->Ep().Readable(), 0u);
  EXPECT_TRUE(p->Flush(2000).empty());  // silently
}

TEST(DelayedAck, SmallSegmentWaitsFullPairAcksAtOnce) {
  TcpConfig cfg;
  auto p = EstablishedServer(cfg);
  const std::array<uint8_t, 100> small{};
  ASSERT_EQ(p->Ep().Input(DataSeg(kClientIss + 1, small), 2000).drop, TcpDrop::kNone);
  EXPECT_TRUE(p->Flush(2000).empty());
  EXPECT_EQ(p->Ep().NextDeadline(), 2000u + cfg.delack_us);
  p->Ep().OnTimer(2000 + cfg.delack_us);
  auto out = p->Flush(2000 + cfg.delack_us);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.ack, SeqNum(kClientIss + 101));

  std::vector<uint8_t> full(p->conn.snd_mss_bytes);
  uint32_t seq = kClientIss + 101;
  ASSERT_EQ(p->Ep().Input(DataSeg(seq, full), 50'000).drop, TcpDrop::kNone);
  EXPECT_TRUE(p->Flush(50'000).empty());
  seq += static_cast<uint32_t>(full.size());
  ASSERT_EQ(p->Ep().Input(DataSeg(seq, full), 50'001).drop, TcpDrop::kNone);
  out = p->Flush(50'001);  // RFC 5681 4.2: every second full-sized segment
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.ack, SeqNum(seq + static_cast<uint32_t>(full.size())));
}

TEST(Reassembly, OutOfOrderIsParkedSackedAndMerged) {
  auto p = EstablishedServer();
  std::array<uint8_t, 100> a{}, b{};
  a.fill(1);
  b.fill(2);
  ASSERT_EQ(p->Ep().Input(DataSeg(kClientIss + 101, b), 2000).drop, TcpDrop::kNone);
  EXPECT_EQ(p->Ep().Readable(), 0u);
  auto out = p->Flush(2000);  // immediate duplicate ACK with one SACK block
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.ack, SeqNum(kClientIss + 1));
  ASSERT_EQ(out[0].opts.sack_count, 1);
  EXPECT_EQ(out[0].opts.sack[0].left, SeqNum(kClientIss + 101));
  EXPECT_EQ(out[0].opts.sack[0].right, SeqNum(kClientIss + 201));
  ASSERT_EQ(p->Ep().Input(DataSeg(kClientIss + 1, a), 2001).drop, TcpDrop::kNone);
  EXPECT_EQ(p->Ep().Readable(), 200u);
  out = p->Flush(2001);  // gap filled: immediate ACK
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.ack, SeqNum(kClientIss + 201));
  EXPECT_EQ(out[0].opts.sack_count, 0);
  std::array<uint8_t, 200> got{};
  EXPECT_EQ(p->Ep().Receive(got), 200u);
  EXPECT_EQ(got[99], 1);
  EXPECT_EQ(got[100], 2);
}

TEST(AckUpTo, CursorHoldsBackAcknowledgement) {
  TcpConfig cfg;
  cfg.ack_policy = AckPolicy::kAckByCursor;
  auto p = EstablishedServer(cfg);
  const std::array<uint8_t, 1000> data{};
  ASSERT_EQ(p->Ep().Input(DataSeg(kClientIss + 1, data), 2000).drop, TcpDrop::kNone);
  EXPECT_EQ(p->Ep().Readable(), 1000u);  // readable at once...
  EXPECT_TRUE(p->Flush(2000).empty());   // ...but not acknowledged
  EXPECT_EQ(p->Ep().NextDeadline(), kNoDeadline);
  EXPECT_EQ(p->Ep().AckField(), SeqNum(kClientIss + 1));
  std::array<uint8_t, 1000> got{};
  EXPECT_EQ(p->Ep().Receive(got), 1000u);
  EXPECT_TRUE(p->Flush(2000).empty());  // reading does not acknowledge either

  p->Ep().AckUpTo(SeqNum(kClientIss + 1 + 400));
  auto out = p->Flush(3000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.ack, SeqNum(kClientIss + 401));
  // A retransmission of the held bytes is answered with the cursor, not RCV.NXT.
  EXPECT_EQ(p->Ep().Input(DataSeg(kClientIss + 1, data), 4000).drop, TcpDrop::kOutOfWindow);
  out = p->Flush(4000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.ack, SeqNum(kClientIss + 401));
  // The cursor never passes RCV.NXT.
  p->Ep().AckUpTo(SeqNum(kClientIss + 1'000'000));
  out = p->Flush(5000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].hdr.ack, SeqNum(kClientIss + 1001));
}

}  // namespace
}  // namespace baton::dp::tcp::test
