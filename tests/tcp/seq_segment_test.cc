// Units: sequence-number compare, option parsing (malformed table), segment build and
// parse, the byte ring, RFC 6298 arithmetic and the RFC 6528 ISN.
#include <array>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/tcp/byte_ring.h"
#include "dataplane/tcp/isn.h"
#include "dataplane/tcp/rtt.h"
#include "dataplane/tcp/segment.h"
#include "dataplane/tcp/seq.h"

namespace baton::dp::tcp {
namespace {

TEST(SeqNum, ComparesAcrossWrap) {
  const SeqNum hi(0xfffffff0u), lo(0x10u);
  EXPECT_TRUE(hi < lo);  // lo is 0x20 after hi, past the wrap
  EXPECT_TRUE(lo > hi);
  EXPECT_FALSE(lo < hi);
  EXPECT_TRUE(hi <= hi);
  EXPECT_EQ(SeqDiff(lo, hi), 0x20u);
  EXPECT_EQ(hi + 0x20u, lo);
  EXPECT_TRUE(SeqInRange(SeqNum(2), hi, lo));
  EXPECT_FALSE(SeqInRange(lo, hi, lo));
  EXPECT_EQ(SeqMax(hi, lo), lo);
  EXPECT_EQ(SeqMin(hi, lo), hi);
  static_assert(SeqNum(1) < SeqNum(2) && SeqNum(0x80000000u) > SeqNum(1));
}

struct OptionCase {
  std::string_view name;
  std::vector<uint8_t> bytes;
  ParseStatus want;
};

class OptionParse : public ::testing::TestWithParam<OptionCase> {};

TEST_P(OptionParse, Status) {
  TcpOptions o;
  EXPECT_EQ(ParseOptions(GetParam().bytes, o), GetParam().want) << GetParam().name;
}

const OptionCase kOptionCases[] = {
    {"empty", {}, ParseStatus::kOk},
    {"nops then eol then junk", {1, 1, 0, 0xff, 0xff}, ParseStatus::kOk},
    {"mss", {2, 4, 0x05, 0xb4}, ParseStatus::kOk},
    {"unknown kind skipped", {30, 4, 0, 0, 2, 4, 1, 0}, ParseStatus::kOk},
    {"kind without length", {2}, ParseStatus::kOptionTruncated},
    {"mss runs past end", {2, 4, 0x05}, ParseStatus::kOptionTruncated},
    {"unknown runs past end", {30, 8, 0, 0}, ParseStatus::kOptionTruncated},
    {"length zero", {30, 0, 1, 1}, ParseStatus::kOptionBadLength},
    {"length one", {30, 1, 1, 1}, ParseStatus::kOptionBadLength},
    {"mss length 3", {2, 3, 5, 1}, ParseStatus::kMssBadLength},
    {"mss length 6", {2, 6, 5, 0xb4, 0, 0}, ParseStatus::kMssBadLength},
    {"wscale length 4", {3, 4, 7, 0}, ParseStatus::kWscaleBadLength},
    {"sack-permitted length 3", {4, 3, 0}, ParseStatus::kSackPermBadLength},
    {"sack no blocks", {5, 2}, ParseStatus::kSackBadLength},
    {"sack length 0", {5, 0}, ParseStatus::kSackBadLength},
    {"sack ragged", {5, 6, 0, 0, 0, 1}, ParseStatus::kSackBadLength},
    {"sack five blocks", [] {
       std::vector<uint8_t> v(42, 0);
       v[0] = 5;
       v[1] = 42;
       return v;
     }(), ParseStatus::kSackBadLength},
    {"timestamps length 8", {8, 8, 0, 0, 0, 1, 0, 0}, ParseStatus::kTimestampBadLength},
    {"timestamps truncated", {8, 10, 0, 0, 0, 1, 0, 0}, ParseStatus::kOptionTruncated},
};

INSTANTIATE_TEST_SUITE_P(Malformed, OptionParse, ::testing::ValuesIn(kOptionCases));

TEST(OptionParse, ValuesOfAllKinds) {
  const std::vector<uint8_t> b = {2, 4, 0x05, 0xb4,             // MSS 1460
                                  1, 3, 3, 7,                   // NOP, WS 7
                                  4, 2,                         // SACK-permitted
                                  8, 10, 0, 0, 0, 9, 0, 0, 0, 4,  // TS 9, 4
                                  5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 1, 0, 0, 0, 1, 8,
                                  0, 0};
  TcpOptions o;
  ASSERT_EQ(ParseOptions(b, o), ParseStatus::kOk);
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss_bytes, 1460);
  EXPECT_TRUE(o.has_wscale);
  EXPECT_EQ(o.wscale_shift, 7);
  EXPECT_TRUE(o.sack_permitted);
  EXPECT_TRUE(o.has_timestamps);
  EXPECT_EQ(o.ts_val, 9u);
  EXPECT_EQ(o.ts_ecr, 4u);
  ASSERT_EQ(o.sack_count, 2);
  EXPECT_EQ(o.sack[0].left, SeqNum(10));
  EXPECT_EQ(o.sack[0].right, SeqNum(20));
  EXPECT_EQ(o.sack[1].left, SeqNum(256));
  EXPECT_EQ(o.sack[1].right, SeqNum(264));
}

TEST(Segment, RejectsBadHeaders) {
  Segment s;
  std::vector<uint8_t> b(19, 0);
  EXPECT_EQ(ParseSegment(b, s), ParseStatus::kTruncatedHeader);
  b.assign(20, 0);
  b[12] = 4 << 4;  // data offset 16 bytes
  EXPECT_EQ(ParseSegment(b, s), ParseStatus::kBadDataOffset);
  b[12] = 6 << 4;  // 24 bytes, only 20 given
  EXPECT_EQ(ParseSegment(b, s), ParseStatus::kBadDataOffset);
  b[12] = 5 << 4;
  EXPECT_EQ(ParseSegment(b, s), ParseStatus::kOk);
  EXPECT_TRUE(s.payload.empty());
}

TEST(Segment, BuildParseRoundTrip) {
  TcpHeader h;
  h.src_port = 443;
  h.dst_port = 51000;
  h.seq = SeqNum(0xfffffffeu);
  h.ack = SeqNum(77);
  h.flags = kFlagAck | kFlagPsh;
  h.window = 1234;
  TcpOptions o;
  o.has_timestamps = true;
  o.ts_val = 5;
  o.ts_ecr = 6;
  o.sack_count = 3;
  for (uint8_t i = 0; i < 3; ++i) o.sack[i] = {SeqNum(100u * i), SeqNum(100u * i + 50)};
  const std::array<uint8_t, 3> pa = {1, 2, 3};
  const std::array<uint8_t, 2> pb = {4, 5};
  std::array<uint8_t, 128> buf{};
  size_t n = 0;
  ASSERT_EQ(BuildSegment(h, o, pa, pb, buf, n), BuildStatus::kOk);
  EXPECT_EQ(n, kTcpHeaderLen + 40 + 5);
  Segment s;
  ASSERT_EQ(ParseSegment(std::span(buf.data(), n), s), ParseStatus::kOk);
  EXPECT_EQ(s.hdr.seq, h.seq);
  EXPECT_EQ(s.hdr.ack, h.ack);
  EXPECT_EQ(s.hdr.flags, h.flags);
  EXPECT_EQ(s.hdr.window, 1234);
  EXPECT_EQ(s.opts.sack_count, 3);
  EXPECT_EQ(s.opts.sack[2].right, SeqNum(250));
  EXPECT_EQ(s.opts.ts_ecr, 6u);
  ASSERT_EQ(s.payload.size(), 5u);
  EXPECT_EQ(s.payload[3], 4);
  // A fourth block does not fit next to timestamps; a small buffer is refused.
  o.sack_count = 4;
  EXPECT_EQ(BuildSegment(h, o, {}, {}, buf, n), BuildStatus::kTooManyOptions);
  o.sack_count = 0;
  EXPECT_EQ(BuildSegment(h, o, pa, {}, std::span(buf.data(), 30), n), BuildStatus::kNoRoom);
}

TEST(Segment, SynOptionsRoundTrip) {
  TcpHeader h;
  h.flags = kFlagSyn;
  TcpOptions o;
  o.has_mss = true;
  o.mss_bytes = 1460;
  o.has_wscale = true;
  o.wscale_shift = 9;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.ts_val = 42;
  std::array<uint8_t, 64> buf{};
  size_t n = 0;
  ASSERT_EQ(BuildSegment(h, o, {}, {}, buf, n), BuildStatus::kOk);
  EXPECT_EQ(n % 4, 0u);
  Segment s;
  ASSERT_EQ(ParseSegment(std::span(buf.data(), n), s), ParseStatus::kOk);
  EXPECT_EQ(s.opts.mss_bytes, 1460);
  EXPECT_EQ(s.opts.wscale_shift, 9);
  EXPECT_TRUE(s.opts.sack_permitted);
  EXPECT_EQ(s.opts.ts_val, 42u);
}

TEST(ByteRing, WrapsAndParksBeyondEnd) {
  std::array<uint8_t, 8> store{};
  RingState st{8, 0, 0};
  ByteRing r(store, st);
  const std::array<uint8_t, 6> a = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(r.Append(a), 6u);
  std::array<uint8_t, 4> out{};
  EXPECT_EQ(r.Read(out), 4u);
  EXPECT_EQ(out[3], 4);
  EXPECT_EQ(r.Append(a), 6u);  // wraps
  EXPECT_EQ(r.Free(), 0u);
  EXPECT_EQ(r.Append(a), 0u);
  const RingPieces p = r.Peek(0, 8);
  EXPECT_EQ(p.a.size() + p.b.size(), 8u);
  std::array<uint8_t, 8> all{};
  EXPECT_EQ(r.Read(all), 8u);
  EXPECT_EQ(all, (std::array<uint8_t, 8>{5, 6, 1, 2, 3, 4, 5, 6}));
  r.WriteAt(2, std::array<uint8_t, 2>{9, 9});  // parked, not committed
  EXPECT_EQ(r.Size(), 0u);
  r.WriteAt(0, std::array<uint8_t, 2>{7, 8});
  r.Commit(4);
  EXPECT_EQ(r.Read(all), 4u);
  EXPECT_EQ(all[0], 7);
  EXPECT_EQ(all[3], 9);
}

TEST(Rtt, Rfc6298Arithmetic) {
  const RtoLimits lim{1'000'000, 200'000, 60'000'000, 1000};
  RttState r;
  RttInit(r, lim);
  EXPECT_EQ(r.rto_us, 1'000'000u);
  RttSample(r, 100'000, lim);
  EXPECT_EQ(r.srtt_us, 100'000u);
  EXPECT_EQ(r.rttvar_us, 50'000u);
  EXPECT_EQ(r.rto_us, 300'000u);  // SRTT + 4*RTTVAR
  RttSample(r, 200'000, lim);
  EXPECT_EQ(r.rttvar_us, 62'500u);  // 3/4*50000 + 1/4*100000
  EXPECT_EQ(r.srtt_us, 112'500u);   // 7/8*100000 + 1/8*200000
  EXPECT_EQ(r.rto_us, 362'500u);
  RttSample(r, 1, lim);
  EXPECT_GE(r.rto_us, lim.min_us);
  for (int i = 0; i < 20; ++i) RttBackOff(r, lim);
  EXPECT_EQ(r.rto_us, lim.max_us);
}

TEST(Isn, SipHashReferenceVectors) {
  // Key 00..0f (little-endian words), messages 00..(n-1): the paper's appendix vectors.
  const IsnKey key{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
  std::array<uint8_t, 15> msg{};
  for (uint8_t i = 0; i < msg.size(); ++i) msg[i] = i;
  EXPECT_EQ(SipHash24(key, {}), 0x726fdb47dd0e0e31ull);
  EXPECT_EQ(SipHash24(key, msg), 0xa129ca6149be45e5ull);
}

TEST(Isn, DependsOnTupleKeyAndClock) {
  const IsnKey key{1, 2};
  const std::array<uint8_t, 4> a = {10, 0, 0, 1}, b = {10, 0, 0, 2};
  const SeqNum i1 = Rfc6528Isn(key, a, 443, b, 40000, 0);
  EXPECT_EQ(Rfc6528Isn(key, a, 443, b, 40000, 0), i1);
  EXPECT_NE(Rfc6528Isn(key, a, 443, b, 40001, 0), i1);
  EXPECT_NE(Rfc6528Isn(IsnKey{1, 3}, a, 443, b, 40000, 0), i1);
  // RFC 6528 3: M ticks every 4 microseconds.
  EXPECT_EQ(Rfc6528Isn(key, a, 443, b, 40000, 400), i1 + 100);
}

}  // namespace
}  // namespace baton::dp::tcp
