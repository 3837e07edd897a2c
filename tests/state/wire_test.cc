// Wire forms of tcp::TcpConnection and of the session record: round trips, every wire
// byte carried, byte order, refusals.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "dataplane/state/wire.h"

namespace baton::dp::state {
namespace {

using tcp::SeqNum;
using tcp::TcpConnection;

using WireBuf = std::array<uint8_t, kTcpWireBytes>;

WireBuf Encode(const TcpConnection& c) {
  WireBuf b{};
  EXPECT_EQ(ToWire(c, b), kTcpWireBytes);
  return b;
}

// A record with non-default values in every part (scalars, arrays, nested structs).
TcpConnection Busy() {
  TcpConnection c{};
  c.cfg.mss_bytes = 0x1234;
  c.cfg.window_scaling = false;
  c.cfg.ack_policy = tcp::AckPolicy::kAckByCursor;
  c.cfg.cc = tcp::CcAlgo::kNewReno;
  c.cfg.rto_max_us = 0xdeadbeef;
  c.cfg.challenge_acks_per_s = 77;
  c.cfg.tlp_delack_us = 123456;
  c.state = tcp::TcpState::kFinWait2;
  c.local_port = 443;
  c.remote_port = 51000;
  c.events = tcp::kEvData | tcp::kEvPeerFin;
  c.iss = SeqNum(0xfffffff0u);
  c.snd_una = SeqNum(1);
  c.snd_nxt = SeqNum(2);
  c.snd_max = SeqNum(3);
  c.snd_wl1 = SeqNum(4);
  c.snd_wl2 = SeqNum(5);
  c.snd_ring_seq = SeqNum(6);
  c.snd_wnd_bytes = 65535u << 3;
  c.max_snd_wnd_bytes = 1u << 30;
  c.snd_mss_bytes = 1448;
  c.snd_wscale = 7;
  c.rcv_wscale = 9;
  c.ws_ok = c.ts_ok = c.sack_ok = c.fin_queued = true;
  c.snd_ring = {1 << 20, 17, 4096};
  c.irs = SeqNum(100);
  c.rcv_nxt = SeqNum(101);
  c.rcv_adv = SeqNum(102);
  c.ack_cursor = SeqNum(103);
  c.last_ack_sent = SeqNum(104);
  c.rcv_ring = {1 << 19, 5, 6};
  for (uint32_t i = 0; i < tcp::kMaxOooRanges; ++i) c.ooo[i] = {SeqNum(200 + i), SeqNum(300 + i)};
  c.ooo_count = 4;
  c.full_segs_unacked = 1;
  c.dupacks_owed = 2;
  c.ts_recent = 0xabcdef01;
  c.rtt = {1000, 500, 200000, true};
  c.rtt_timing = true;
  c.rtt_seq = SeqNum(555);
  c.rtt_start_us = 0x0102030405060708ull;
  c.retries = 3;
  c.syn_timed_out = true;
  c.cc.cwnd_bytes = 14480;
  c.cc.ssthresh_bytes = 0x7fffffff;
  c.cc.acked_accum_bytes = 9;
  for (uint32_t i = 0; i < 5; ++i) c.cc.algo_private[i] = 0x11111111u * (i + 1);
  c.recover = SeqNum(777);
  c.dupacks = 3;
  c.recovery = tcp::Recovery::kSackRto;
  c.rtx_one = c.rescue_sent = true;
  c.high_rxt = SeqNum(888);
  for (uint32_t i = 0; i < tcp::kScoreboardRanges; ++i)
    c.sacked.range[i] = {SeqNum(1000 + 10 * i), SeqNum(1005 + 10 * i)};
  c.sacked.count = uint8_t(tcp::kScoreboardRanges);
  c.tlp_now = c.tlp_outstanding = c.tlp_was_rtx = true;
  c.tlp_end_seq = SeqNum(999);
  c.ack_now = c.probe_now = c.probe_outstanding = c.keepalive_now = true;
  c.rst_pending = c.rst_with_ack = true;
  c.rst_seq = SeqNum(31);
  c.rst_ack = SeqNum(32);
  c.persist_backoff = 4;
  c.keepalives_sent = 5;
  c.challenge_acks = 6;
  c.challenge_window_us = 7;
  c.rtx_deadline_us = 8;
  c.delack_deadline_us = 9;
  c.persist_deadline_us = 10;
  c.keepalive_deadline_us = 11;
  c.timewait_deadline_us = 12;
  c.tlp_deadline_us = tcp::kNoDeadline;
  c.stats = {1, 2, 3, 4, 5, 6, 7};
  return c;
}

TEST(TcpWire, HeaderAndSize) {
  const WireBuf b = Encode(TcpConnection{});
  EXPECT_EQ(b[0], kTcpWireVersion);
  EXPECT_EQ(b[1], 0);
  EXPECT_EQ(size_t(b[2]) << 8 | b[3], kTcpWireBytes - 4);
  std::array<uint8_t, kTcpWireBytes - 1> small{};
  EXPECT_EQ(ToWire(TcpConnection{}, small), 0u);
}

TEST(TcpWire, RoundTripDefaultAndBusy) {
  for (const TcpConnection& in : {TcpConnection{}, Busy()}) {
    const WireBuf b = Encode(in);
    TcpConnection out{};
    ASSERT_EQ(FromWire(b, out), WireStatus::kOk);
    EXPECT_EQ(Encode(out), b);
  }
  // Spot checks that values land in the right fields after a round trip.
  const TcpConnection in = Busy();
  TcpConnection out{};
  ASSERT_EQ(FromWire(Encode(in), out), WireStatus::kOk);
  EXPECT_EQ(out.cfg.mss_bytes, 0x1234);
  EXPECT_EQ(out.cfg.ack_policy, tcp::AckPolicy::kAckByCursor);
  EXPECT_EQ(out.cfg.cc, tcp::CcAlgo::kNewReno);
  EXPECT_FALSE(out.cfg.window_scaling);
  EXPECT_EQ(out.state, tcp::TcpState::kFinWait2);
  EXPECT_EQ(out.iss, SeqNum(0xfffffff0u));
  EXPECT_EQ(out.snd_ring.head, 17u);
  EXPECT_EQ(out.ooo[3].right, SeqNum(303));
  EXPECT_EQ(out.rtt_start_us, 0x0102030405060708ull);
  EXPECT_EQ(out.cc.algo_private[4], 0x55555555u);
  EXPECT_EQ(out.recovery, tcp::Recovery::kSackRto);
  EXPECT_EQ(out.sacked.range[15].left, SeqNum(1150));
  EXPECT_EQ(out.sacked.count, tcp::kScoreboardRanges);
  EXPECT_TRUE(out.rst_with_ack);
  EXPECT_EQ(out.tlp_deadline_us, tcp::kNoDeadline);
  EXPECT_EQ(out.stats.sack_cleared, 7u);
}

TEST(TcpWire, BigEndianOnTheWire) {
  const WireBuf b = Encode(Busy());
  EXPECT_EQ(b[4], 0x12);  // cfg.mss_bytes, the first field
  EXPECT_EQ(b[5], 0x34);
}

// Every body byte belongs to some field: changing it (flipping the low bit keeps every
// enum and bool of Busy() in range) survives decode and re-encode. Together with the member-count pins in wire.cc
// this says no field is dropped in either direction.
TEST(TcpWire, EveryWireByteIsCarried) {
  const WireBuf base = Encode(Busy());
  for (size_t i = 4; i < kTcpWireBytes; ++i) {
    WireBuf m = base;
    m[i] ^= 1;
    TcpConnection c{};
    ASSERT_EQ(FromWire(m, c), WireStatus::kOk) << "byte " << i;
    ASSERT_EQ(Encode(c), m) << "byte " << i << " is not carried by any field";
  }
}

TEST(TcpWire, RefusesBadInputAndLeavesTheRecordAlone) {
  const WireBuf good = Encode(Busy());
  TcpConnection c = TcpConnection{};
  const WireBuf before = Encode(c);
  EXPECT_EQ(FromWire(std::span(good).first(3), c), WireStatus::kTooShort);
  EXPECT_EQ(FromWire(std::span(good).first(kTcpWireBytes - 1), c), WireStatus::kTooShort);
  WireBuf v = good;
  v[0] = kTcpWireVersion + 1;
  EXPECT_EQ(FromWire(v, c), WireStatus::kBadVersion);
  WireBuf l = good;
  l[3] ^= 1;
  EXPECT_EQ(FromWire(l, c), WireStatus::kBadLength);
  // Out-of-range enums and booleans: exactly the enum and bool bytes refuse 0xff.
  EXPECT_EQ(Encode(c), before) << "a refused record leaves the target unchanged";
  size_t refused = 0;
  for (size_t i = 4; i < kTcpWireBytes; ++i) {
    WireBuf m = good;
    m[i] = 0xff;
    TcpConnection t{};
    const WireStatus st = FromWire(m, t);
    if (st == WireStatus::kBadValue) {
      ++refused;
      ASSERT_EQ(Encode(t), before) << "byte " << i;
    } else {
      ASSERT_EQ(st, WireStatus::kOk) << "byte " << i;
    }
  }
  EXPECT_EQ(refused, 4u + 22u);  // ack_policy, cc, state, recovery; 22 booleans
}

// ---- The session record --------------------------------------------------------------

using SessionBuf = std::array<uint8_t, kSessionWireBytes>;

SessionBuf EncodeSession(const Session& s) {
  SessionBuf b{};
  EXPECT_EQ(ToWire(s, b), kSessionWireBytes);
  return b;
}

Session BusySession() {
  Session s{};
  s.client = Busy();
  s.backend = Busy();
  s.backend.local_port = 20001;
  s.backend.state = tcp::TcpState::kSynSent;
  s.client_flow = {0xc6120110, 0xc6126464, 40001, 443};
  s.backend_flow = {0xc6120365, 0xc612030b, 80, 20001};
  s.tried_backends = 0x8000000000000001ull;
  s.connect_deadline_us = 1;
  s.idle_deadline_us = 2;
  s.handshake_deadline_us = 3;
  s.last_to_client_us = 4;
  s.tls_start_us = 41;
  s.request_start_us = 42;
  s.connect_start_us = 43;
  s.config_generation = 0x01020304;
  s.listener = 5;
  s.pool = 6;
  s.backend_index = 7;
  s.attempts = 8;
  s.half_open = s.backend_open = s.fin_from_client = s.fin_from_backend = true;
  s.fin_to_backend = s.fin_to_client = s.counted_on_backend = s.proxy_header = true;
  s.tls = s.tls_over = true;
  s.small_records = 9;
  return s;
}

TEST(SessionWire, RoundTripAndOwnerLocalFieldsStayHome) {
  Session in = BusySession();
  in.scheduled_us = 12345;  // the owner's timer heap: not shipped
  in.dirty = true;
  const SessionBuf b = EncodeSession(in);
  EXPECT_EQ(b[0], kSessionWireVersion);
  EXPECT_EQ(size_t(b[2]) << 8 | b[3], kSessionWireBytes - 4);
  Session out{};
  ASSERT_EQ(FromWire(b, out), WireStatus::kOk);
  EXPECT_EQ(EncodeSession(out), b);
  EXPECT_EQ(out.client_flow, in.client_flow);
  EXPECT_EQ(out.backend_flow, in.backend_flow);
  EXPECT_EQ(out.backend.state, tcp::TcpState::kSynSent);
  EXPECT_EQ(out.tried_backends, 0x8000000000000001ull);
  EXPECT_EQ(out.backend_index, 7);
  EXPECT_EQ(out.small_records, 9);
  EXPECT_TRUE(out.tls_over);
  EXPECT_EQ(out.scheduled_us, tcp::kNoDeadline);
  EXPECT_FALSE(out.dirty);
  // The client connection's body comes first, right after the header.
  EXPECT_EQ(b[4], 0x12);
}

TEST(SessionWire, EveryWireByteIsCarriedAndBadInputRefused) {
  const SessionBuf base = EncodeSession(BusySession());
  for (size_t i = 4; i < kSessionWireBytes; ++i) {
    SessionBuf m = base;
    m[i] ^= 1;
    Session s{};
    ASSERT_EQ(FromWire(m, s), WireStatus::kOk) << "byte " << i;
    ASSERT_EQ(EncodeSession(s), m) << "byte " << i << " is not carried by any field";
  }
  Session s = BusySession();
  const SessionBuf before = EncodeSession(s);
  EXPECT_EQ(FromWire(std::span(base).first(kSessionWireBytes - 1), s), WireStatus::kTooShort);
  SessionBuf v = base;
  v[0] = kTcpWireVersion + 7;
  EXPECT_EQ(FromWire(v, s), WireStatus::kBadVersion);
  SessionBuf bad = base;
  bad[4 + kTcpWireBytes - 4 + 2] = 0xff;  // the backend body's window_scaling boolean
  EXPECT_EQ(FromWire(bad, s), WireStatus::kBadValue);
  EXPECT_EQ(EncodeSession(s), before) << "a refused record leaves the target unchanged";
  // A TCP record is not a session record.
  std::array<uint8_t, kTcpWireBytes> tcp_only{};
  ASSERT_EQ(ToWire(s.client, tcp_only), kTcpWireBytes);
  EXPECT_NE(FromWire(tcp_only, s), WireStatus::kOk);
}

}  // namespace
}  // namespace baton::dp::state
