// SYN cookies (RFC 4987 3.6): round trip, MSS encoding, key/tuple/time binding.
#include <array>

#include <gtest/gtest.h>

#include "dataplane/tcp/syn_cookie.h"

namespace baton::dp::tcp {
namespace {

const std::array<uint8_t, 4> kVip = {192, 0, 2, 1};
const std::array<uint8_t, 4> kClient = {198, 51, 100, 7};
const FlowAddrs kFlow{kVip, 443, kClient, 40000};
const IsnKey kKey{0x1234, 0x5678};

TEST(SynCookie, RoundTripRecoversMss) {
  const uint64_t now = 1'000'000'000;
  const uint16_t offers[] = {536, 1460, 1400, 9000, 1000};
  const uint16_t expect[] = {536, 1460, 1400, 1460, 536};
  for (size_t i = 0; i < std::size(offers); ++i) {
    const SeqNum c = SynCookieIsn(kKey, kFlow, SeqNum(777), offers[i], now);
    uint16_t mss = 0;
    ASSERT_TRUE(SynCookieCheck(kKey, kFlow, SeqNum(777), c, now + 5'000'000, mss)) << i;
    EXPECT_EQ(mss, expect[i]) << i;
  }
}

TEST(SynCookie, BoundToKeyTupleClientIsnAndTime) {
  const uint64_t now = 1'000'000'000;
  const SeqNum c = SynCookieIsn(kKey, kFlow, SeqNum(777), 1460, now);
  uint16_t mss = 0;
  EXPECT_FALSE(SynCookieCheck(IsnKey{0x1234, 0x5679}, kFlow, SeqNum(777), c, now, mss));
  const FlowAddrs other_port{kVip, 443, kClient, 40001};
  EXPECT_FALSE(SynCookieCheck(kKey, other_port, SeqNum(777), c, now, mss));
  EXPECT_FALSE(SynCookieCheck(kKey, kFlow, SeqNum(778), c, now, mss));
  EXPECT_FALSE(SynCookieCheck(kKey, kFlow, SeqNum(777), c + 1, now, mss));
  // Valid in its 64 s slot and the next; not two slots later.
  EXPECT_TRUE(SynCookieCheck(kKey, kFlow, SeqNum(777), c, now + 64'000'000, mss));
  EXPECT_FALSE(SynCookieCheck(kKey, kFlow, SeqNum(777), c, now + 3 * 64'000'000, mss));
  // Nor 32 slots later, when the 5-bit counter has wrapped (the hash covers the slot).
  EXPECT_FALSE(SynCookieCheck(kKey, kFlow, SeqNum(777), c, now + 32 * 64'000'000, mss));
}

TEST(SynCookie, SynAckCarriesCookieAndOnlyMss) {
  Segment syn;
  syn.hdr.src_port = 40000;
  syn.hdr.dst_port = 443;
  syn.hdr.seq = SeqNum(777);
  syn.hdr.flags = kFlagSyn;
  std::array<uint8_t, 64> buf{};
  const size_t n = BuildSynCookieSynAck(syn, SeqNum(0xabcdef01u), 1460, 29200, buf);
  Segment sa;
  ASSERT_EQ(ParseSegment(std::span(buf.data(), n), sa), ParseStatus::kOk);
  EXPECT_EQ(sa.hdr.flags, kFlagSyn | kFlagAck);
  EXPECT_EQ(sa.hdr.seq, SeqNum(0xabcdef01u));
  EXPECT_EQ(sa.hdr.ack, SeqNum(778));
  EXPECT_EQ(sa.hdr.src_port, 443);
  EXPECT_TRUE(sa.opts.has_mss);
  EXPECT_FALSE(sa.opts.has_wscale || sa.opts.has_timestamps || sa.opts.sack_permitted);
}

}  // namespace
}  // namespace baton::dp::tcp
