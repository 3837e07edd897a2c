// The TCP state machine's first dispatch: a constexpr (state x flag pattern) table that
// defaults to drop with a named reason (STYLE.md 8). Each cell names the RFC 9293
// section it follows; the handler for the action then applies the sequence, ACK and
// RFC 5961 checks that need the connection's numbers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/tcp/segment.h"

namespace baton::dp::tcp {

template <typename E>
constexpr size_t TcpIdx(E e) noexcept { return static_cast<size_t>(e); }

// RFC 9293 3.3.2. Names say what the state awaits where that reads better.
enum class TcpState : uint8_t {
  kClosed,
  kListen,
  kSynSent,
  kSynRcvd,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
  kCount
};

inline constexpr std::array<std::string_view, TcpIdx(TcpState::kCount)> kTcpStateText = {
    "CLOSED",     "LISTEN",     "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
    "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",  "LAST-ACK",     "TIME-WAIT"};

// What the first dispatch decides.
enum class TcpAction : uint8_t {
  kDrop,            // silently discard (reason says why)
  kSendRst,         // answer with a reset built from the segment (RFC 9293 3.10.7.1/.2)
  kPassiveOpen,     // LISTEN + SYN: record peer, go SYN-RECEIVED, send SYN,ACK
  kSynSentSynAck,   // SYN-SENT + SYN,ACK: check ACK, go ESTABLISHED
  kSynSentAck,      // SYN-SENT + bare ACK: unacceptable ACK gets a reset, else drop
  kSynSentRst,      // SYN-SENT + RST,ACK: reset if the ACK is acceptable
  kSimultaneousOpen,// SYN-SENT + SYN: go SYN-RECEIVED, send SYN,ACK
  kRstCheck,        // synchronized + RST: RFC 5961 3.2 exact-match check
  kSynChallenge,    // synchronized + SYN: RFC 5961 4.2 challenge ACK
  kProcess,         // synchronized + ACK: sequence check, ACK, data, FIN (3.10.7.4)
  kCount
};

// Reasons a segment is discarded or answered with a reset. Published by the layer
// above as per-core counters.
enum class TcpDrop : uint8_t {
  kNone,
  kRstInClosed,          // RFC 9293 3.10.7.1: an incoming RST is discarded
  kNoConnection,         // CLOSED: answered with RST
  kRstInListen,          // 3.10.7.2 first: ignore RST
  kAckInListen,          // 3.10.7.2 second: RST for any ACK
  kNoSynInListen,        // 3.10.7.2 fourth: "drop the segment and return"
  kSynFin,               // SYN and FIN together: never legitimate
  kSynSentNoSynNoRst,    // 3.10.7.3 fifth: neither SYN nor RST
  kSynSentRstNoAck,      // 3.10.7.3 second: RST without ACK is dropped
  kSynSentBadAck,        // 3.10.7.3 first: unacceptable ACK, answered with RST
  kNoAck,                // 3.10.7.4 fifth: ACK bit off
  kOutOfWindow,          // 3.10.7.4 first: not acceptable, answered with ACK
  kPaws,                 // RFC 7323 5.3: timestamp older than TS.Recent
  kRstOutOfWindow,       // RFC 5961 3.2: RST outside the window
  kRstChallenged,        // RFC 5961 3.2: in-window RST not exactly at RCV.NXT
  kSynChallenged,        // RFC 5961 4.2: SYN in a synchronized state
  kAckTooOld,            // RFC 5961 5.2: ACK below SND.UNA - MAX.SND.WND
  kAckUnsent,            // 3.10.7.4 fifth: ACK for data not yet sent
  kAckUnacceptableSynRcvd,  // 3.10.7.4: SYN-RECEIVED and ACK out of range: RST
  kOooNoSlot,            // out-of-order data and no free reassembly range
  kChallengeRateLimited, // RFC 5961 7: challenge ACK budget spent
  kRstInTimeWait,        // RFC 1337 3 fix F1: TIME-WAIT ignores RST (no assassination)
  kTimestampMissing,     // RFC 7323 3.2: TSopt negotiated but absent
  kCount
};

inline constexpr std::array<std::string_view, TcpIdx(TcpDrop::kCount)> kTcpDropText = {
    "none",
    "RST for no connection",
    "segment for no connection",
    "RST in LISTEN",
    "ACK in LISTEN",
    "no SYN in LISTEN",
    "SYN with FIN",
    "SYN-SENT: neither SYN nor RST",
    "SYN-SENT: RST without ACK",
    "SYN-SENT: unacceptable ACK",
    "ACK bit off",
    "sequence outside the receive window",
    "PAWS: old timestamp",
    "RST outside the window",
    "RST in window but not at RCV.NXT",
    "SYN in synchronized state",
    "ACK too old",
    "ACK for unsent data",
    "SYN-RECEIVED: unacceptable ACK",
    "out-of-order data, no reassembly slot",
    "challenge ACK rate limited",
    "RST in TIME-WAIT",
    "timestamp option missing",
};

struct TcpRule {
  TcpAction action;
  TcpDrop reason;  // kNone unless action is kDrop or kSendRst
};

// The pattern index: FIN, SYN, RST and ACK bits (PSH and URG do not change dispatch).
inline constexpr size_t kFlagPatterns = 16;
constexpr size_t FlagPattern(uint8_t flags) noexcept {
  return (flags & kFlagFin ? 1u : 0u) | (flags & kFlagSyn ? 2u : 0u) |
         (flags & kFlagRst ? 4u : 0u) | (flags & kFlagAck ? 8u : 0u);
}
constexpr uint8_t FlagsOfPattern(size_t p) noexcept {
  return static_cast<uint8_t>((p & 1 ? kFlagFin : 0) | (p & 2 ? kFlagSyn : 0) |
                              (p & 4 ? kFlagRst : 0) | (p & 8 ? kFlagAck : 0));
}

constexpr bool IsSynchronized(TcpState s) noexcept {
  return s != TcpState::kClosed && s != TcpState::kListen && s != TcpState::kSynSent;
}

inline constexpr auto kTcpRules = [] {
  using S = TcpState;
  using A = TcpAction;
  using D = TcpDrop;
  std::array<std::array<TcpRule, kFlagPatterns>, TcpIdx(S::kCount)> t{};
  for (auto& row : t) row.fill({A::kDrop, D::kNoAck});
  for (size_t p = 0; p < kFlagPatterns; ++p) {
    const uint8_t f = FlagsOfPattern(p);
    const bool syn = f & kFlagSyn, ack = f & kFlagAck, rst = f & kFlagRst, fin = f & kFlagFin;

    // RFC 9293 3.10.7.1: CLOSED. RST is discarded; anything else gets a reset.
    t[TcpIdx(S::kClosed)][p] = rst ? TcpRule{A::kDrop, D::kRstInClosed}
                                   : TcpRule{A::kSendRst, D::kNoConnection};

    // RFC 9293 3.10.7.2: LISTEN. RST first, then ACK, then SYN; never data.
    TcpRule listen{A::kDrop, D::kNoSynInListen};
    if (rst) listen = {A::kDrop, D::kRstInListen};
    else if (ack) listen = {A::kSendRst, D::kAckInListen};
    else if (syn && fin) listen = {A::kDrop, D::kSynFin};
    else if (syn) listen = {A::kPassiveOpen, D::kNone};
    t[TcpIdx(S::kListen)][p] = listen;

    // RFC 9293 3.10.7.3: SYN-SENT. ACK check first, then RST, then SYN.
    TcpRule sent{A::kDrop, D::kSynSentNoSynNoRst};
    if (rst) sent = ack ? TcpRule{A::kSynSentRst, D::kNone} : TcpRule{A::kDrop, D::kSynSentRstNoAck};
    else if (syn && fin) sent = {A::kDrop, D::kSynFin};
    else if (syn) sent = ack ? TcpRule{A::kSynSentSynAck, D::kNone} : TcpRule{A::kSimultaneousOpen, D::kNone};
    else if (ack) sent = {A::kSynSentAck, D::kNone};
    t[TcpIdx(S::kSynSent)][p] = sent;

    // RFC 9293 3.10.7.4 for every synchronized state: RST (second check, with RFC 5961
    // 3.2), SYN (fourth check, RFC 5961 4.2), ACK required (fifth check).
    TcpRule sync{A::kDrop, D::kNoAck};
    if (rst) sync = {A::kRstCheck, D::kNone};
    else if (syn) sync = {A::kSynChallenge, D::kNone};
    else if (ack) sync = {A::kProcess, D::kNone};
    for (size_t s = TcpIdx(S::kSynRcvd); s < TcpIdx(S::kCount); ++s) t[s][p] = sync;
    // RFC 1337 3 (fix F1), deliberately over RFC 9293 3.10.7.4: a RST must not cut
    // TIME-WAIT short, or an old duplicate could be accepted by a new incarnation.
    if (rst) t[TcpIdx(S::kTimeWait)][p] = {A::kDrop, D::kRstInTimeWait};
  }
  return t;
}();

constexpr const TcpRule& RuleFor(TcpState s, uint8_t flags) noexcept {
  return kTcpRules[TcpIdx(s)][FlagPattern(flags)];
}

}  // namespace baton::dp::tcp
