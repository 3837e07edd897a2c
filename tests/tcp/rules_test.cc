// Properties of the (state x flag pattern) table: every cell has a defined verdict.
#include <gtest/gtest.h>

#include "dataplane/tcp/rules.h"

namespace baton::dp::tcp {
namespace {

constexpr bool IsDropOrReset(TcpAction a) {
  return a == TcpAction::kDrop || a == TcpAction::kSendRst;
}

TEST(TcpRules, EveryCellHasAVerdictAndDropsAreNamed) {
  for (size_t s = 0; s < TcpIdx(TcpState::kCount); ++s) {
    for (size_t p = 0; p < kFlagPatterns; ++p) {
      const TcpRule& r = kTcpRules[s][p];
      EXPECT_LT(TcpIdx(r.action), TcpIdx(TcpAction::kCount));
      EXPECT_LT(TcpIdx(r.reason), TcpIdx(TcpDrop::kCount));
      EXPECT_EQ(IsDropOrReset(r.action), r.reason != TcpDrop::kNone)
          << kTcpStateText[s] << " pattern " << p;
    }
  }
  for (std::string_view t : kTcpDropText) EXPECT_FALSE(t.empty());
}

TEST(TcpRules, PatternIndexIgnoresPshAndUrg) {
  for (size_t p = 0; p < kFlagPatterns; ++p) {
    const uint8_t f = FlagsOfPattern(p);
    EXPECT_EQ(FlagPattern(f), p);
    EXPECT_EQ(FlagPattern(static_cast<uint8_t>(f | kFlagPsh | kFlagUrg)), p);
  }
}

TEST(TcpRules, ClosedResetsEverythingButResets) {
  for (size_t p = 0; p < kFlagPatterns; ++p) {
    const TcpRule& r = kTcpRules[TcpIdx(TcpState::kClosed)][p];
    if (FlagsOfPattern(p) & kFlagRst) { EXPECT_EQ(r.action, TcpAction::kDrop); }
    else { EXPECT_EQ(r.action, TcpAction::kSendRst); }
  }
}

TEST(TcpRules, ListenNeverAcceptsDataOrAcks) {
  int opens = 0;
  for (size_t p = 0; p < kFlagPatterns; ++p) {
    const uint8_t f = FlagsOfPattern(p);
    const TcpRule& r = kTcpRules[TcpIdx(TcpState::kListen)][p];
    EXPECT_NE(r.action, TcpAction::kProcess);
    if (f & kFlagRst) { EXPECT_EQ(r.reason, TcpDrop::kRstInListen); }
    else if (f & kFlagAck) { EXPECT_EQ(r.action, TcpAction::kSendRst); }
    if (r.action == TcpAction::kPassiveOpen) {
      ++opens;
      EXPECT_EQ(f, kFlagSyn);  // only a bare SYN opens
    }
  }
  EXPECT_EQ(opens, 1);
}

TEST(TcpRules, SynSentCompletesOnlyOnSynAck) {
  for (size_t p = 0; p < kFlagPatterns; ++p) {
    const uint8_t f = FlagsOfPattern(p);
    const TcpRule& r = kTcpRules[TcpIdx(TcpState::kSynSent)][p];
    EXPECT_NE(r.action, TcpAction::kProcess);
    if (r.action == TcpAction::kSynSentSynAck) { EXPECT_EQ(f, kFlagSyn | kFlagAck); }
    if ((f & kFlagRst) && !(f & kFlagAck)) { EXPECT_EQ(r.reason, TcpDrop::kSynSentRstNoAck); }
  }
}

TEST(TcpRules, SynchronizedStatesCheckRstThenSynThenAck) {
  for (size_t s = 0; s < TcpIdx(TcpState::kCount); ++s) {
    const auto state = static_cast<TcpState>(s);
    if (!IsSynchronized(state)) continue;
    for (size_t p = 0; p < kFlagPatterns; ++p) {
      const uint8_t f = FlagsOfPattern(p);
      const TcpRule& r = kTcpRules[s][p];
      if ((f & kFlagRst) && state == TcpState::kTimeWait) {
        EXPECT_EQ(r.reason, TcpDrop::kRstInTimeWait);  // RFC 1337 F1
      } else if (f & kFlagRst) { EXPECT_EQ(r.action, TcpAction::kRstCheck); }  // RFC 5961 3
      else if (f & kFlagSyn) { EXPECT_EQ(r.action, TcpAction::kSynChallenge); }  // RFC 5961 4
      else if (f & kFlagAck) { EXPECT_EQ(r.action, TcpAction::kProcess); }
      else { EXPECT_EQ(r.reason, TcpDrop::kNoAck); }  // no ACK: never processed
      // Data is only ever processed with ACK set.
      if (r.action == TcpAction::kProcess) { EXPECT_TRUE(f & kFlagAck); }
    }
  }
}

TEST(TcpRules, SynWithFinNeverOpens) {
  const uint8_t f = kFlagSyn | kFlagFin;
  EXPECT_EQ(RuleFor(TcpState::kListen, f).reason, TcpDrop::kSynFin);
  EXPECT_EQ(RuleFor(TcpState::kSynSent, f).reason, TcpDrop::kSynFin);
}

}  // namespace
}  // namespace baton::dp::tcp
