#include "dataplane/tcp/connection.h"

#include <algorithm>
#include <array>

namespace baton::dp::tcp {
namespace {

// Bytes a SACK option with `blocks` blocks takes, NOP-padded to 4 (RFC 2018 3: 2 + 8n).
constexpr uint32_t SackOptionBytes(uint32_t blocks) noexcept {
  return blocks == 0 ? 0 : (2 + 8 * blocks + 3) / 4 * 4;
}

constexpr uint32_t kTsOptionBytes = 12;  // NOP NOP TS, RFC 7323 appendix A
constexpr uint16_t kDefaultMss = 536;    // RFC 9293 3.7.1: no MSS option means 536 (IPv4)
constexpr uint16_t kMinMss = 64;
constexpr uint16_t kMaxMss = 9000;
constexpr uint8_t kMaxWscale = 14;       // RFC 7323 2.3
constexpr uint32_t kSynTimeoutRto = 3'000'000;  // RFC 6298 5.7

bool ReceiveOpen(TcpState s) noexcept {
  return s == TcpState::kEstablished || s == TcpState::kFinWait1 || s == TcpState::kFinWait2;
}

bool SendOpen(TcpState s) noexcept {
  return s == TcpState::kEstablished || s == TcpState::kFinWait1 ||
         s == TcpState::kCloseWait || s == TcpState::kClosing || s == TcpState::kLastAck;
}

}  // namespace

RtoLimits TcpEndpoint::Limits() const noexcept {
  return {c_.cfg.rto_initial_us, c_.cfg.rto_min_us, c_.cfg.rto_max_us, 1000};
}

void TcpEndpoint::Init(TcpConnection& c, const TcpConfig& cfg, uint16_t local_port,
                       uint16_t remote_port, uint32_t snd_capacity_bytes,
                       uint32_t rcv_capacity_bytes, uint64_t /*now_us*/) noexcept {
  c = TcpConnection{};
  c.cfg = cfg;
  c.cfg.mss_bytes = std::clamp(cfg.mss_bytes, kMinMss, kMaxMss);
  c.local_port = local_port;
  c.remote_port = remote_port;
  c.snd_ring.capacity_bytes = snd_capacity_bytes;
  c.rcv_ring.capacity_bytes = rcv_capacity_bytes;
  // RFC 7323 2.3: the smallest shift that lets the field cover the whole buffer.
  while (c.rcv_wscale < kMaxWscale && (rcv_capacity_bytes >> c.rcv_wscale) > 0xffff) {
    ++c.rcv_wscale;
  }
  RttInit(c.rtt, {cfg.rto_initial_us, cfg.rto_min_us, cfg.rto_max_us, 1000});
}

void TcpEndpoint::Listen(SeqNum iss) noexcept {
  c_.iss = iss;
  c_.state = TcpState::kListen;
}

void TcpEndpoint::Connect(SeqNum iss, uint64_t /*now_us*/) noexcept {
  c_.iss = iss;
  c_.snd_una = c_.snd_nxt = c_.snd_max = iss;
  c_.snd_ring_seq = iss + 1;
  c_.recover = iss;
  c_.state = TcpState::kSynSent;  // RFC 9293 3.10.1: SYN goes out, SYN-SENT
}

InputResult TcpEndpoint::AcceptCookie(const Segment& ack, uint16_t peer_mss,
                                      uint64_t now_us) noexcept {
  // Rebuild what LISTEN + SYN would have recorded (RFC 4987 3.6), then let the
  // SYN-RECEIVED rules take the ACK as usual.
  Segment syn;
  syn.hdr.seq = ack.hdr.seq - 1;
  syn.hdr.flags = kFlagSyn;
  syn.hdr.window = ack.hdr.window;  // unscaled: scaling was not negotiated
  syn.opts.has_mss = true;
  syn.opts.mss_bytes = peer_mss;
  c_.iss = ack.hdr.ack - 1;
  c_.state = TcpState::kListen;
  TakeSynOptions(syn);
  c_.snd_una = c_.iss;
  c_.snd_nxt = c_.snd_max = c_.iss + 1;  // our SYN,ACK went out statelessly
  c_.snd_ring_seq = c_.iss + 1;
  c_.recover = c_.iss;
  c_.state = TcpState::kSynRcvd;
  return Input(ack, now_us);
}

SeqNum TcpEndpoint::AckField() const noexcept {
  if (c_.cfg.ack_policy == AckPolicy::kAckByCursor) return SeqMin(c_.ack_cursor, c_.rcv_nxt);
  return c_.rcv_nxt;
}

uint32_t TcpEndpoint::FlightBytes() const noexcept { return SeqDiff(c_.snd_nxt, c_.snd_una); }

uint32_t TcpEndpoint::UnsentBytes() const noexcept {
  const SeqNum end = SndDataEnd();
  return c_.snd_nxt < end ? SeqDiff(end, c_.snd_nxt) : 0;
}

void TcpEndpoint::QueueReset(SeqNum seq, SeqNum ack, bool with_ack) noexcept {
  c_.rst_pending = true;
  c_.rst_seq = seq;
  c_.rst_ack = ack;
  c_.rst_with_ack = with_ack;
}

void TcpEndpoint::EnterClosed(uint16_t why) noexcept {
  c_.state = TcpState::kClosed;
  c_.events |= static_cast<uint16_t>(why | kEvClosed);
  c_.rtx_deadline_us = c_.delack_deadline_us = c_.persist_deadline_us = kNoDeadline;
  c_.keepalive_deadline_us = c_.timewait_deadline_us = kNoDeadline;
  c_.ack_now = c_.probe_now = c_.keepalive_now = c_.rtx_one = c_.tlp_now = false;
  c_.tlp_deadline_us = kNoDeadline;
}

void TcpEndpoint::EnterTimeWait(uint64_t now_us) noexcept {
  // RFC 9293 3.10.7.4 eighth: TIME-WAIT lasts 2 MSL, restarted by a retransmitted FIN.
  c_.state = TcpState::kTimeWait;
  c_.rtx_deadline_us = c_.persist_deadline_us = c_.keepalive_deadline_us = kNoDeadline;
  c_.tlp_deadline_us = kNoDeadline;
  c_.tlp_now = false;
  c_.timewait_deadline_us = now_us + 2 * uint64_t{c_.cfg.msl_us};
}

void TcpEndpoint::Established(uint64_t now_us) noexcept {
  c_.state = c_.fin_queued ? TcpState::kFinWait1 : TcpState::kEstablished;
  c_.events |= kEvConnected;
  c_.retries = 0;
  c_.rtx_deadline_us = kNoDeadline;
  if (c_.cfg.keepalive_idle_us != 0) c_.keepalive_deadline_us = now_us + c_.cfg.keepalive_idle_us;
}

void TcpEndpoint::TakeSynOptions(const Segment& seg) noexcept {
  const TcpOptions& o = seg.opts;
  const TcpConfig& cfg = c_.cfg;
  c_.irs = seg.hdr.seq;
  c_.rcv_nxt = c_.irs + 1;
  c_.ack_cursor = c_.rcv_nxt;  // the SYN is always acknowledged
  c_.last_ack_sent = c_.rcv_nxt;
  // RFC 7323 2.2: scaling only when both SYNs carry the option; shift above 14 -> 14.
  c_.ws_ok = cfg.window_scaling && o.has_wscale;
  c_.snd_wscale = c_.ws_ok ? std::min(o.wscale_shift, kMaxWscale) : 0;
  if (!c_.ws_ok) c_.rcv_wscale = 0;
  // RFC 7323 3.2: timestamps only when both SYNs carry them.
  c_.ts_ok = cfg.timestamps && o.has_timestamps;
  if (c_.ts_ok) c_.ts_recent = o.ts_val;
  c_.sack_ok = cfg.sack && o.sack_permitted;  // RFC 2018 2
  // RFC 9293 3.7.1: effective send MSS = min(peer MSS, ours) minus option bytes.
  const uint16_t peer_mss = o.has_mss ? o.mss_bytes : kDefaultMss;
  const uint32_t mss = std::min<uint32_t>(peer_mss, cfg.mss_bytes) - (c_.ts_ok ? kTsOptionBytes : 0);
  c_.snd_mss_bytes = static_cast<uint16_t>(std::clamp<uint32_t>(mss, kMinMss, kMaxMss));
  // RFC 7323 2.2: the window in a SYN is never scaled.
  c_.snd_wnd_bytes = c_.max_snd_wnd_bytes = seg.hdr.window;
  c_.snd_wl1 = seg.hdr.seq;
  c_.snd_wl2 = seg.hdr.ack;
  c_.rcv_adv = c_.rcv_nxt + std::min<uint32_t>(rcv_.Free(), 0xffff);
  CongestionFor(cfg.cc).Init(c_.cc, c_.snd_mss_bytes);
}

// ---- Input -------------------------------------------------------------------------

InputResult TcpEndpoint::Input(const Segment& seg, uint64_t now_us) noexcept {
  const TcpRule& rule = RuleFor(c_.state, seg.hdr.flags);
  switch (rule.action) {
    case TcpAction::kDrop:
      return {rule.reason, 0};
    case TcpAction::kSendRst:
      // RFC 9293 3.10.7.1 / 3.10.7.2: reset built from the offending segment.
      if (seg.Has(kFlagAck)) QueueReset(seg.hdr.ack, SeqNum(0), false);
      else QueueReset(SeqNum(0), seg.hdr.seq + seg.SeqLen(), true);
      return {rule.reason, 0};
    case TcpAction::kPassiveOpen: return OnPassiveOpen(seg, now_us);
    case TcpAction::kSynSentSynAck: return OnSynSentSynAck(seg, now_us);
    case TcpAction::kSynSentAck: return OnSynSentAck(seg);
    case TcpAction::kSynSentRst: return OnSynSentRst(seg);
    case TcpAction::kSimultaneousOpen: return OnSimultaneousOpen(seg, now_us);
    case TcpAction::kRstCheck: return OnRstCheck(seg, now_us);
    case TcpAction::kSynChallenge: return OnSynChallenge(seg, now_us);
    case TcpAction::kProcess: return OnProcess(seg, now_us);
    case TcpAction::kCount: break;
  }
  return {TcpDrop::kNoAck, 0};
}

InputResult TcpEndpoint::OnPassiveOpen(const Segment& seg, uint64_t /*now_us*/) noexcept {
  // RFC 9293 3.10.7.2 third: RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, send SYN,ACK, go
  // SYN-RECEIVED. Data on the SYN is not acknowledged (the peer resends it).
  TakeSynOptions(seg);
  c_.snd_una = c_.snd_nxt = c_.snd_max = c_.iss;
  c_.snd_ring_seq = c_.iss + 1;
  c_.recover = c_.iss;
  c_.state = TcpState::kSynRcvd;
  return {};
}

InputResult TcpEndpoint::OnSynSentSynAck(const Segment& seg, uint64_t now_us) noexcept {
  // RFC 9293 3.10.7.3 first: acceptable iff ISS < SEG.ACK =< SND.NXT.
  if (!(c_.iss < seg.hdr.ack && seg.hdr.ack <= c_.snd_max)) {
    QueueReset(seg.hdr.ack, SeqNum(0), false);
    return {TcpDrop::kSynSentBadAck, 0};
  }
  TakeSynOptions(seg);
  c_.snd_una = seg.hdr.ack;
  if (c_.snd_nxt < c_.snd_una) c_.snd_nxt = c_.snd_una;
  if (c_.rtt_timing && seg.hdr.ack >= c_.rtt_seq) {
    RttSample(c_.rtt, static_cast<uint32_t>(now_us - c_.rtt_start_us), Limits());
  }
  c_.rtt_timing = false;
  if (c_.syn_timed_out && !c_.rtt.has_sample) c_.rtt.rto_us = std::max(c_.rtt.rto_us, kSynTimeoutRto);
  Established(now_us);
  c_.ack_now = true;  // RFC 9293 3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
  return {TcpDrop::kNone, kEvConnected};
}

InputResult TcpEndpoint::OnSynSentAck(const Segment& seg) noexcept {
  // RFC 9293 3.10.7.3 first: an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>.
  if (!(c_.iss < seg.hdr.ack && seg.hdr.ack <= c_.snd_max)) {
    QueueReset(seg.hdr.ack, SeqNum(0), false);
    return {TcpDrop::kSynSentBadAck, 0};
  }
  return {TcpDrop::kSynSentNoSynNoRst, 0};  // fifth: neither SYN nor RST
}

InputResult TcpEndpoint::OnSynSentRst(const Segment& seg) noexcept {
  // RFC 9293 3.10.7.3 second (and RFC 5961 3.2): only a RST whose ACK covers our SYN.
  if (!(c_.iss < seg.hdr.ack && seg.hdr.ack <= c_.snd_max)) return {TcpDrop::kSynSentBadAck, 0};
  EnterClosed(kEvReset);
  return {TcpDrop::kNone, static_cast<uint16_t>(kEvReset | kEvClosed)};
}

InputResult TcpEndpoint::OnSimultaneousOpen(const Segment& seg, uint64_t /*now_us*/) noexcept {
  // RFC 9293 3.10.7.3 fourth: SYN without ACK: go SYN-RECEIVED and send
  // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> (Output resends from ISS).
  TakeSynOptions(seg);
  c_.snd_nxt = c_.iss;
  c_.rtt_timing = false;  // Karn: the SYN goes out again
  c_.state = TcpState::kSynRcvd;
  return {};
}

bool TcpEndpoint::ChallengeAck(uint64_t now_us) noexcept {
  // RFC 5961 7: bound the challenge ACKs a blind attacker can provoke.
  if (now_us - c_.challenge_window_us >= 1'000'000) {
    c_.challenge_window_us = now_us;
    c_.challenge_acks = 0;
  }
  if (c_.challenge_acks >= c_.cfg.challenge_acks_per_s) return false;
  ++c_.challenge_acks;
  c_.ack_now = true;
  return true;
}

InputResult TcpEndpoint::OnRstCheck(const Segment& seg, uint64_t now_us) noexcept {
  // RFC 5961 3.2: reset only when SEG.SEQ == RCV.NXT; in window: challenge ACK.
  const uint32_t wnd = c_.rcv_adv > c_.rcv_nxt ? SeqDiff(c_.rcv_adv, c_.rcv_nxt) : 0;
  if (!SeqInRange(seg.hdr.seq, c_.rcv_nxt, c_.rcv_nxt + std::max(wnd, 1u))) {
    return {TcpDrop::kRstOutOfWindow, 0};
  }
  if (seg.hdr.seq == c_.rcv_nxt) {
    // RFC 9293 3.10.7.4 second: every synchronized state closes (a passive SYN-RECEIVED
    // would return to LISTEN; here the listener is not this record).
    EnterClosed(kEvReset);
    return {TcpDrop::kNone, static_cast<uint16_t>(kEvReset | kEvClosed)};
  }
  const bool sent = ChallengeAck(now_us);
  return {sent ? TcpDrop::kRstChallenged : TcpDrop::kChallengeRateLimited, 0};
}

InputResult TcpEndpoint::OnSynChallenge(const Segment& seg, uint64_t now_us) noexcept {
  if (c_.state == TcpState::kSynRcvd && !seg.Has(kFlagAck) && seg.hdr.seq == c_.irs) {
    // The peer did not get our SYN,ACK and resent its SYN: answer with SYN,ACK again.
    c_.snd_nxt = c_.iss;
    c_.rtt_timing = false;
    return {};
  }
  // RFC 5961 4.2 (RFC 9293 3.10.7.4 fourth): any other SYN gets a challenge ACK.
  const bool sent = ChallengeAck(now_us);
  return {sent ? TcpDrop::kSynChallenged : TcpDrop::kChallengeRateLimited, 0};
}

bool TcpEndpoint::SeqAcceptable(const Segment& seg) const noexcept {
  // RFC 9293 3.10.7.4 first: the four cases of segment length and receive window.
  const uint32_t len = seg.SeqLen();
  const uint32_t wnd = c_.rcv_adv > c_.rcv_nxt ? SeqDiff(c_.rcv_adv, c_.rcv_nxt) : 0;
  const SeqNum seq = seg.hdr.seq;
  if (len == 0) {
    return wnd == 0 ? seq == c_.rcv_nxt : SeqInRange(seq, c_.rcv_nxt, c_.rcv_nxt + wnd);
  }
  if (wnd == 0) return false;
  return SeqInRange(seq, c_.rcv_nxt, c_.rcv_nxt + wnd) ||
         SeqInRange(seq + (len - 1), c_.rcv_nxt, c_.rcv_nxt + wnd);
}

InputResult TcpEndpoint::OnProcess(const Segment& seg, uint64_t now_us) noexcept {
  const TcpHeader& h = seg.hdr;
  // RFC 7323 3.2: once negotiated, "a TCP SHOULD silently drop" a non-RST segment
  // without TSopt.
  if (c_.ts_ok && !seg.opts.has_timestamps) return {TcpDrop::kTimestampMissing, 0};
  // RFC 7323 5.3 R1 (PAWS): an older timestamp marks an old duplicate; ACK and drop.
  if (c_.ts_ok && seg.opts.has_timestamps &&
      static_cast<int32_t>(seg.opts.ts_val - c_.ts_recent) < 0) {
    c_.ack_now = true;
    return {TcpDrop::kPaws, 0};
  }
  if (!SeqAcceptable(seg)) {
    c_.ack_now = true;  // RFC 9293 3.10.7.4 first: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    if (c_.state == TcpState::kTimeWait && seg.Has(kFlagFin)) EnterTimeWait(now_us);
    return {TcpDrop::kOutOfWindow, 0};
  }
  // RFC 7323 4.3 (2): remember the timestamp of a segment at or before Last.ACK.sent.
  if (c_.ts_ok && seg.opts.has_timestamps && h.seq <= c_.last_ack_sent) {
    c_.ts_recent = seg.opts.ts_val;
  }
  if (c_.cfg.keepalive_idle_us != 0 && c_.keepalive_deadline_us != kNoDeadline) {
    c_.keepalive_deadline_us = now_us + c_.cfg.keepalive_idle_us;
    c_.keepalives_sent = 0;
  }
  uint16_t events = 0;
  const TcpDrop ack_drop = ProcessAck(seg, now_us, events);
  if (ack_drop != TcpDrop::kNone) return {ack_drop, events};
  if (c_.state == TcpState::kClosed) return {TcpDrop::kNone, events};  // LAST-ACK done

  // RFC 9293 3.10.7.4 seventh: segment text, in the states that still receive.
  if (!seg.payload.empty() && ReceiveOpen(c_.state)) PlaceData(seg, now_us, events);

  // Eighth: FIN, only once every byte before it has arrived.
  if (seg.Has(kFlagFin)) {
    const SeqNum fin_seq = h.seq + static_cast<uint32_t>(seg.payload.size());
    if (c_.state == TcpState::kTimeWait) {
      c_.ack_now = true;
      EnterTimeWait(now_us);
    } else if (ReceiveOpen(c_.state) && fin_seq == c_.rcv_nxt) {
      c_.rcv_nxt += 1;
      c_.ack_now = true;
      events |= kEvPeerFin;
      if (c_.state == TcpState::kEstablished) {
        c_.state = TcpState::kCloseWait;
      } else if (c_.state == TcpState::kFinWait1) {
        c_.state = TcpState::kClosing;  // our FIN not yet acknowledged (ProcessAck ran)
      } else {
        EnterTimeWait(now_us);  // FIN-WAIT-2
      }
    }
  }
  c_.events |= events;
  return {TcpDrop::kNone, events};
}

TcpDrop TcpEndpoint::ProcessAck(const Segment& seg, uint64_t now_us, uint16_t& events) noexcept {
  const TcpHeader& h = seg.hdr;
  const SeqNum ack = h.ack;
  if (c_.state == TcpState::kSynRcvd) {
    // RFC 9293 3.10.7.4 fifth, SYN-RECEIVED: SND.UNA < SEG.ACK =< SND.NXT establishes.
    if (!(c_.snd_una < ack && ack <= c_.snd_max)) {
      QueueReset(ack, SeqNum(0), false);
      return TcpDrop::kAckUnacceptableSynRcvd;
    }
    Established(now_us);
    events |= kEvConnected;
    c_.snd_wnd_bytes = uint32_t{h.window} << c_.snd_wscale;
    c_.max_snd_wnd_bytes = std::max(c_.max_snd_wnd_bytes, c_.snd_wnd_bytes);
    c_.snd_wl1 = h.seq;
    c_.snd_wl2 = ack;
    if (c_.syn_timed_out && !c_.rtt.has_sample) {
      c_.rtt.rto_us = std::max(c_.rtt.rto_us, kSynTimeoutRto);  // RFC 6298 5.7
    }
  }
  // A zero-window probe byte beyond SND.MAX may have been taken by the peer.
  const SeqNum max_ack = c_.snd_max + (c_.probe_outstanding ? 1u : 0u);
  if (ack > max_ack) {
    c_.ack_now = true;  // RFC 9293 3.10.7.4 fifth: ACK for unsent data: ACK and drop
    return TcpDrop::kAckUnsent;
  }
  // RFC 5961 5.2: acceptable only within MAX.SND.WND below SND.UNA.
  if (ack < c_.snd_una - c_.max_snd_wnd_bytes) {
    ChallengeAck(now_us);
    return TcpDrop::kAckTooOld;
  }
  const uint32_t seg_wnd = uint32_t{h.window} << c_.snd_wscale;
  // RFC 5681 2: the five conditions of a duplicate ACK.
  const bool classic_dup = ack == c_.snd_una && seg.payload.empty() && !seg.Has(kFlagFin) &&
                           seg_wnd == c_.snd_wnd_bytes && c_.snd_una < c_.snd_max;
  const bool new_ack = ack > c_.snd_una;
  if (new_ack) OnNewAck(seg, now_us, events);
  if (c_.sack_ok && IsSynchronized(c_.state)) {
    OnSackAck(seg, new_ack, classic_dup);
  } else if (classic_dup) {
    OnDupAck();
  }
  if (c_.tlp_outstanding) OnProbeAcked(seg);
  // RFC 9293 3.10.7.4 fifth: window update from a newer segment (SND.WL1/WL2).
  if (c_.snd_una <= ack && (c_.snd_wl1 < h.seq || (c_.snd_wl1 == h.seq && c_.snd_wl2 <= ack))) {
    c_.snd_wnd_bytes = seg_wnd;
    c_.max_snd_wnd_bytes = std::max(c_.max_snd_wnd_bytes, seg_wnd);
    c_.snd_wl1 = h.seq;
    c_.snd_wl2 = ack;
    if (seg_wnd > 0) {
      c_.persist_deadline_us = kNoDeadline;
      c_.persist_backoff = 0;
    }
  }
  if (new_ack) ArmTlp(now_us);  // RFC 8985 7.2: reschedule on an ACK that advances
  // Our FIN is acknowledged once SND.UNA passes the last data byte.
  const bool fin_acked = c_.fin_queued && c_.snd_una > SndDataEnd();
  if (fin_acked) {
    switch (c_.state) {
      case TcpState::kFinWait1: c_.state = TcpState::kFinWait2; break;
      case TcpState::kClosing: EnterTimeWait(now_us); break;
      case TcpState::kLastAck:
        EnterClosed(0);
        events |= kEvClosed;
        break;
      default: break;
    }
  }
  return TcpDrop::kNone;
}

void TcpEndpoint::OnNewAck(const Segment& seg, uint64_t now_us, uint16_t& events) noexcept {
  const SeqNum ack = seg.hdr.ack;
  const uint32_t acked = SeqDiff(ack, c_.snd_una);
  if (ack > c_.snd_ring_seq) {
    const uint32_t data = std::min(SeqDiff(ack, c_.snd_ring_seq), snd_.Size());
    if (data > 0) {
      snd_.Consume(data);
      c_.snd_ring_seq += data;
      events |= kEvSendSpace;
    }
  }
  c_.snd_una = ack;
  if (c_.snd_nxt < ack) c_.snd_nxt = ack;
  if (c_.snd_max < ack) c_.snd_max = ack;  // the peer took a zero-window probe byte
  c_.probe_outstanding = false;
  // Karn: only the timed segment, and only if it was not retransmitted, gives a sample.
  // RFC 7323 4.1 timestamp samples are not used yet: after a lost ACK the echo is
  // stale and inflates SRTT by seconds (seen under 20 % loss in the transfer tests).
  if (c_.rtt_timing && ack >= c_.rtt_seq) {
    RttSample(c_.rtt, static_cast<uint32_t>(now_us - c_.rtt_start_us), Limits());
    c_.rtt_timing = false;
  }
  c_.retries = 0;
  // RFC 6298 5.2 / 5.3: stop the timer when all is acked, else restart it.
  c_.rtx_deadline_us = c_.snd_una == c_.snd_nxt ? kNoDeadline : now_us + c_.rtt.rto_us;

  if (c_.sack_ok) SbTrim(c_.sacked, c_.snd_una);

  const CongestionControl& cc = CongestionFor(c_.cfg.cc);
  const uint32_t mss = c_.snd_mss_bytes;
  switch (c_.recovery) {
    case Recovery::kSackFast:
      // RFC 6675 5 (A): a cumulative ACK at or past RecoveryPoint ends recovery; the
      // scoreboard above it stays. Until then cwnd stays at ssthresh (step 4.2) and
      // Output() sends by pipe and NextSeg() (steps B and C).
      if (ack >= c_.recover) {
        c_.recovery = Recovery::kNone;
        c_.dupacks = 0;
      }
      return;
    case Recovery::kSackRto:
      // RFC 6675 5.1: after a timeout the window grows by slow start as usual; no new
      // recovery episode before SND.UNA reaches RecoveryPoint.
      if (ack >= c_.recover) c_.recovery = Recovery::kNone;
      break;
    case Recovery::kNone:
    case Recovery::kNewReno:
      break;
  }
  if (c_.recovery == Recovery::kNewReno) {
    if (ack >= c_.recover) {
      // RFC 6582 3.2 step 6, full ACK, option (1): cwnd = min(ssthresh, FlightSize + SMSS).
      const uint32_t flight = SeqDiff(c_.snd_max, c_.snd_una);
      c_.cc.cwnd_bytes = std::min(c_.cc.ssthresh_bytes, std::max(flight, mss) + mss);
      c_.recovery = Recovery::kNone;
      c_.dupacks = 0;
    } else {
      // Step 6, partial ACK: retransmit the first unacked segment, deflate by the
      // amount acked, add back one SMSS if at least one SMSS was acked.
      c_.rtx_one = true;
      c_.cc.cwnd_bytes = c_.cc.cwnd_bytes > acked ? c_.cc.cwnd_bytes - acked : 0;
      if (acked >= mss) c_.cc.cwnd_bytes += mss;
      c_.cc.cwnd_bytes = std::max(c_.cc.cwnd_bytes, mss);
    }
    return;
  }
  c_.dupacks = 0;
  cc.OnAck(c_.cc, acked, mss, now_us, c_.rtt.srtt_us);
}

void TcpEndpoint::OnDupAck() noexcept {
  const uint32_t mss = c_.snd_mss_bytes;
  if (c_.dupacks < UINT8_MAX) ++c_.dupacks;
  if (c_.recovery == Recovery::kNewReno) {
    c_.cc.cwnd_bytes += mss;  // RFC 6582 3.2 step 4: inflate per additional dup ACK
    return;
  }
  // RFC 6582 3.2 step 2: only if the ACK covers more than `recover` (no false restart).
  if (c_.dupacks == 3 && c_.snd_una >= c_.recover) {
    const uint32_t flight = SeqDiff(c_.snd_max, c_.snd_una);
    CongestionFor(c_.cfg.cc).OnFastRetransmit(c_.cc, flight, mss);
    c_.recover = c_.snd_max;  // step 3
    c_.cc.cwnd_bytes = c_.cc.ssthresh_bytes + 3 * mss;
    c_.recovery = Recovery::kNewReno;
    c_.rtx_one = true;
    c_.rtt_timing = false;  // Karn
    ++c_.stats.fast_retransmits;
  }
}

void TcpEndpoint::OnSackAck(const Segment& seg, bool new_ack, bool classic_dup) noexcept {
  // RFC 6675 5: Update() for every ACK that carries SACK information.
  const uint32_t newly_sacked =
      SbUpdate(c_.sacked, std::span(seg.opts.sack.data(), seg.opts.sack_count), c_.snd_una,
               c_.snd_max);
  if (c_.recovery != Recovery::kNone) return;  // step (B): Output() runs SetPipe/NextSeg
  if (new_ack) c_.dupacks = 0;                 // step (1)
  // RFC 6675 2: an ACK that SACKs new data is a duplicate ACK, even if it also moves
  // SND.UNA. An RFC 5681 duplicate without any SACK block counts too, so that a peer
  // that negotiated SACK but does not send blocks still gets fast retransmit.
  const bool dup = newly_sacked > 0 || (classic_dup && seg.opts.sack_count == 0);
  if (!dup) return;
  if (c_.dupacks < UINT8_MAX) ++c_.dupacks;  // step (2)
  // (2.a) DupThresh duplicates, or (2.b) IsLost(HighACK + 1). RFC 6675 5.1: no new
  // episode before SND.UNA reaches the RecoveryPoint of a timeout.
  if (c_.snd_una >= c_.recover &&
      (c_.dupacks >= kDupThresh || SbIsLost(c_.sacked, c_.snd_una, c_.snd_mss_bytes))) {
    EnterSackRecovery();
  }
}

void TcpEndpoint::EnterSackRecovery() noexcept {
  // RFC 6675 5 step (4).
  const uint32_t mss = c_.snd_mss_bytes;
  CongestionFor(c_.cfg.cc).OnFastRetransmit(c_.cc, SeqDiff(c_.snd_max, c_.snd_una), mss);
  c_.cc.cwnd_bytes = c_.cc.ssthresh_bytes;  // (4.2): cwnd = ssthresh, no inflation
  c_.recover = c_.snd_max;                  // (4.1): RecoveryPoint = HighData
  c_.recovery = Recovery::kSackFast;
  c_.high_rxt = c_.snd_una;
  c_.rescue_sent = false;
  c_.rtx_one = true;       // (4.3): the segment at HighACK goes out first
  c_.rtt_timing = false;   // Karn
  c_.tlp_outstanding = false;  // recovery owns the loss now (RFC 8985 7.4)
  c_.tlp_deadline_us = kNoDeadline;
  ++c_.stats.fast_retransmits;
}

void TcpEndpoint::OnProbeAcked(const Segment& seg) noexcept {
  // RFC 8985 7.4: did the probe repair a loss? A probe of new data needs no answer.
  if (!c_.tlp_was_rtx || c_.snd_una < c_.tlp_end_seq) {
    if (c_.snd_una >= c_.tlp_end_seq) c_.tlp_outstanding = false;
    return;
  }
  // RFC 2883: a first block below the cumulative ACK reports a duplicate: the original
  // arrived as well, so the probe was spurious.
  const bool dsack = seg.opts.sack_count > 0 && seg.opts.sack[0].right <= seg.hdr.ack &&
                     seg.opts.sack[0].left < c_.tlp_end_seq;
  if (dsack) {
    c_.tlp_outstanding = false;
  } else if (c_.snd_una > c_.tlp_end_seq) {
    // Acknowledged past the probe without a D-SACK for it: only the probe arrived, a
    // loss was repaired, and congestion control must respond as for fast recovery.
    CongestionFor(c_.cfg.cc).OnFastRetransmit(c_.cc, SeqDiff(c_.snd_max, c_.snd_una),
                                              c_.snd_mss_bytes);
    c_.cc.cwnd_bytes = c_.cc.ssthresh_bytes;
    c_.tlp_outstanding = false;
    ++c_.stats.tlp_repairs;
  }
  // Exactly at TLP.end_seq: wait for the D-SACK or for more data to be acknowledged.
}

bool TcpEndpoint::TlpAllowed() const noexcept {
  // RFC 8985 7.2: SACK negotiated, nothing SACKed, not in recovery; plus an RTT sample
  // to base the PTO on, data in flight, no timeout back-off, one probe at a time.
  return c_.cfg.tlp && c_.sack_ok && SendOpen(c_.state) && c_.recovery == Recovery::kNone &&
         c_.sacked.count == 0 && c_.snd_una < c_.snd_max && c_.rtt.has_sample &&
         c_.retries == 0 && !c_.probe_outstanding && c_.snd_wnd_bytes > 0 &&
         !(c_.tlp_outstanding && c_.snd_una < c_.tlp_end_seq);
}

void TcpEndpoint::ArmTlp(uint64_t now_us) noexcept {
  if (!TlpAllowed()) {
    c_.tlp_deadline_us = kNoDeadline;
    return;
  }
  // RFC 8985 7.2: PTO = 2 * SRTT, plus the peer's delayed-ACK time when a single
  // segment is in flight; never later than the RTO.
  uint64_t pto = std::max<uint64_t>(2 * uint64_t{c_.rtt.srtt_us}, c_.cfg.tlp_min_us);
  if (SeqDiff(c_.snd_max, c_.snd_una) <= c_.snd_mss_bytes) pto += c_.cfg.tlp_delack_us;
  const uint64_t at = now_us + pto;
  c_.tlp_deadline_us = at < c_.rtx_deadline_us ? at : kNoDeadline;
}

SackView TcpEndpoint::View() const noexcept {
  // Outside recovery HighRxt = HighACK (RFC 6675 5 step 2.c.1).
  const bool rec = SackRecovering();
  return {c_.snd_una, c_.snd_max, rec ? SeqMax(c_.high_rxt, c_.snd_una) : c_.snd_una,
          c_.recovery == Recovery::kSackRto ? c_.recover : c_.snd_una, c_.snd_mss_bytes};
}

void TcpEndpoint::ScheduleAck(bool full_segment, uint64_t now_us) noexcept {
  // Cursor policy: a new in-order segment does not move the ACK field, and an ACK that
  // repeats the last one would look like a duplicate ACK to the peer. Wait for AckUpTo.
  if (c_.cfg.ack_policy == AckPolicy::kAckByCursor && AckField() == c_.last_ack_sent) return;
  // RFC 9293 3.8.6.3 / RFC 5681 4.2: ACK at least every second full-sized segment.
  if (full_segment && ++c_.full_segs_unacked >= 2) c_.ack_now = true;
  if (!c_.ack_now && c_.delack_deadline_us == kNoDeadline) {
    c_.delack_deadline_us = now_us + c_.cfg.delack_us;
  }
}

void TcpEndpoint::PlaceData(const Segment& seg, uint64_t now_us, uint16_t& events) noexcept {
  std::span<const uint8_t> data = seg.payload;
  SeqNum seq = seg.hdr.seq;
  if (seq < c_.rcv_nxt) {  // trim the part we already have
    const uint32_t skip = SeqDiff(c_.rcv_nxt, seq);
    if (skip >= data.size()) {
      c_.ack_now = true;
      return;
    }
    data = data.subspan(skip);
    seq = c_.rcv_nxt;
  }
  // Trim to the advertised window, which never exceeds the ring's free space.
  const SeqNum limit = SeqMin(c_.rcv_adv, c_.rcv_nxt + rcv_.Free());
  if (seq >= limit) {
    c_.ack_now = true;
    return;
  }
  const uint32_t len = std::min<uint32_t>(static_cast<uint32_t>(data.size()), SeqDiff(limit, seq));
  data = data.first(len);

  if (seq == c_.rcv_nxt) {
    rcv_.WriteAt(rcv_.Size(), data);
    rcv_.Commit(len);
    c_.rcv_nxt += len;
    events |= kEvData;
    const bool had_holes = c_.ooo_count > 0;
    // Absorb parked ranges that now touch RCV.NXT.
    for (uint8_t i = 0; i < c_.ooo_count;) {
      const OooRange r = c_.ooo[i];
      if (r.left <= c_.rcv_nxt) {
        if (r.right > c_.rcv_nxt) {
          rcv_.Commit(SeqDiff(r.right, c_.rcv_nxt));
          c_.rcv_nxt = r.right;
        }
        std::copy(c_.ooo + i + 1, c_.ooo + c_.ooo_count, c_.ooo + i);
        --c_.ooo_count;
        i = 0;  // a merged range may unlock another
        continue;
      }
      ++i;
    }
    // RFC 5681 4.2: ACK at once when a segment fills (part of) a gap.
    if (had_holes) c_.ack_now = true;
    ScheduleAck(len >= c_.snd_mss_bytes, now_us);
    return;
  }

  // Out of order: park in the ring past the committed bytes and remember the range.
  rcv_.WriteAt(rcv_.Size() + SeqDiff(seq, c_.rcv_nxt), data);
  OooRange n{seq, seq + len};
  for (uint8_t i = 0; i < c_.ooo_count;) {
    const OooRange r = c_.ooo[i];
    if (n.left <= r.right && r.left <= n.right) {
      n = {SeqMin(n.left, r.left), SeqMax(n.right, r.right)};
      std::copy(c_.ooo + i + 1, c_.ooo + c_.ooo_count, c_.ooo + i);
      --c_.ooo_count;
      i = 0;
      continue;
    }
    ++i;
  }
  if (c_.ooo_count < kMaxOooRanges) {
    // Newest first: RFC 2018 4 wants the block with the latest segment first.
    std::copy_backward(c_.ooo, c_.ooo + c_.ooo_count, c_.ooo + c_.ooo_count + 1);
    c_.ooo[0] = n;
    ++c_.ooo_count;
  }
  // RFC 5681 4.2: an immediate duplicate ACK for *each* out-of-order segment. A burst
  // of them can arrive before the next Output(), so count what is owed (the sender
  // needs three to start fast retransmit).
  c_.ack_now = true;
  if (c_.dupacks_owed < 3) ++c_.dupacks_owed;
}

// ---- Application calls ------------------------------------------------------------

uint32_t TcpEndpoint::Send(std::span<const uint8_t> bytes) noexcept {
  if (c_.fin_queued) return 0;
  switch (c_.state) {
    case TcpState::kSynSent:
    case TcpState::kSynRcvd:
    case TcpState::kEstablished:
    case TcpState::kCloseWait:
      return snd_.Append(bytes);
    default:
      return 0;
  }
}

uint32_t TcpEndpoint::Receive(std::span<uint8_t> out) noexcept {
  const uint32_t n = rcv_.Read(out);
  if (n > 0 && ReceiveOpen(c_.state)) {
    // RFC 9293 3.8.6.2.2: announce a larger window once it grew by min(buffer/2, MSS).
    const SeqNum edge = c_.rcv_nxt + rcv_.Free();
    const uint32_t step = std::min<uint32_t>(rcv_.Capacity() / 2, c_.snd_mss_bytes);
    if (edge > c_.rcv_adv && SeqDiff(edge, c_.rcv_adv) >= step) c_.ack_now = true;
  }
  return n;
}

void TcpEndpoint::Close() noexcept {
  // RFC 9293 3.10.4.
  switch (c_.state) {
    case TcpState::kListen:
    case TcpState::kSynSent:
      EnterClosed(0);
      break;
    case TcpState::kSynRcvd:  // FIN after the handshake completes (Established())
      c_.fin_queued = true;
      break;
    case TcpState::kEstablished:
      c_.fin_queued = true;
      c_.state = TcpState::kFinWait1;
      break;
    case TcpState::kCloseWait:
      c_.fin_queued = true;
      c_.state = TcpState::kLastAck;
      break;
    default:
      break;  // already closing or closed
  }
}

void TcpEndpoint::Abort() noexcept {
  // RFC 9293 3.10.5: synchronized states send <SEQ=SND.NXT><CTL=RST> (SND.MAX here: the
  // highest sequence sent, which SND.NXT only differs from after a rewind).
  if (IsSynchronized(c_.state) && c_.state != TcpState::kTimeWait) {
    QueueReset(c_.snd_max, SeqNum(0), false);
  }
  EnterClosed(0);
}

void TcpEndpoint::AckUpTo(SeqNum seq) noexcept {
  if (!IsSynchronized(c_.state)) return;
  const SeqNum target = SeqMin(seq, c_.rcv_nxt);
  if (target <= c_.ack_cursor) return;
  c_.ack_cursor = target;
  if (c_.cfg.ack_policy == AckPolicy::kAckByCursor) c_.ack_now = true;
}

// ---- Timers ------------------------------------------------------------------------

uint64_t TcpEndpoint::NextDeadline() const noexcept {
  return std::min({c_.rtx_deadline_us, c_.delack_deadline_us, c_.persist_deadline_us,
                   c_.keepalive_deadline_us, c_.timewait_deadline_us, c_.tlp_deadline_us});
}

void TcpEndpoint::OnTimer(uint64_t now_us) noexcept {
  if (c_.timewait_deadline_us <= now_us) {
    EnterClosed(0);
    return;
  }
  if (c_.delack_deadline_us <= now_us) {
    c_.delack_deadline_us = kNoDeadline;
    c_.ack_now = true;
  }
  if (c_.rtx_deadline_us <= now_us) {
    c_.rtx_deadline_us = kNoDeadline;
    const bool handshake = c_.state == TcpState::kSynSent || c_.state == TcpState::kSynRcvd;
    const uint8_t limit = handshake ? c_.cfg.syn_retries : c_.cfg.data_retries;
    if (++c_.retries > limit) {
      if (IsSynchronized(c_.state)) QueueReset(c_.snd_max, SeqNum(0), false);
      EnterClosed(kEvTimedOut);
      return;
    }
    RttBackOff(c_.rtt, Limits());  // RFC 6298 5.5
    c_.rtt_timing = false;         // Karn
    if (handshake) {
      c_.syn_timed_out = true;
      c_.snd_nxt = c_.iss;  // resend SYN or SYN,ACK
    } else {
      ++c_.stats.rto_count;
      CongestionFor(c_.cfg.cc).OnRto(c_.cc, SeqDiff(c_.snd_max, c_.snd_una), c_.snd_mss_bytes);
      c_.recover = c_.snd_max;  // RFC 6582 3.2 step 1; RFC 6675 5.1: RecoveryPoint = HighData
      c_.dupacks = 0;
      c_.tlp_now = c_.tlp_outstanding = false;
      c_.tlp_deadline_us = kNoDeadline;
      if (c_.sack_ok) {
        // RFC 6675 5.1: keep using the scoreboard, so SACKed data is not sent again,
        // but do not trust it blindly (RFC 2018 8: the peer may have reneged). A
        // second timeout in a row, or a cumulative ACK that stopped at SACKed data,
        // discards it, and the segment at SND.UNA is resent whatever it says.
        if (c_.sacked.count > 0 && (c_.retries >= 2 || SbCovers(c_.sacked, c_.snd_una))) {
          SbClear(c_.sacked);
          ++c_.stats.sack_cleared;
        }
        c_.recovery = Recovery::kSackRto;
        c_.high_rxt = c_.snd_una;
        c_.rescue_sent = true;  // rule (4) belongs to fast recovery
        c_.rtx_one = true;
      } else {
        // RFC 5681 3.1 after a timeout: go back to SND.UNA.
        c_.recovery = Recovery::kNone;
        c_.rtx_one = false;
        c_.snd_nxt = c_.snd_una;
      }
    }
  }
  if (c_.tlp_deadline_us <= now_us) {
    c_.tlp_deadline_us = kNoDeadline;
    c_.tlp_now = TlpAllowed();  // RFC 8985 7.3 (conditions checked again when it fires)
  }
  if (c_.persist_deadline_us <= now_us) {
    c_.persist_deadline_us = kNoDeadline;
    c_.probe_now = true;
    if (c_.persist_backoff < 16) ++c_.persist_backoff;
  }
  if (c_.keepalive_deadline_us <= now_us) {
    // RFC 9293 3.8.4: after the configured probes go unanswered, the connection is dead.
    if (c_.keepalives_sent >= c_.cfg.keepalive_probes) {
      QueueReset(c_.snd_max, SeqNum(0), false);
      EnterClosed(kEvTimedOut);
      return;
    }
    c_.keepalive_now = true;
    ++c_.keepalives_sent;
    c_.keepalive_deadline_us = now_us + c_.cfg.keepalive_interval_us;
  }
}

// ---- Output ------------------------------------------------------------------------

uint16_t TcpEndpoint::WindowField() noexcept {
  const SeqNum ack = AckField();
  SeqNum edge = c_.rcv_nxt + rcv_.Free();
  if (edge > c_.rcv_adv) {
    // RFC 9293 3.8.6.2.2 (receiver SWS avoidance): move the edge in worthwhile steps.
    const uint32_t step = std::min<uint32_t>(rcv_.Capacity() / 2, c_.snd_mss_bytes);
    if (SeqDiff(edge, c_.rcv_adv) < step) edge = c_.rcv_adv;
  } else {
    edge = c_.rcv_adv;  // never shrink the window (RFC 9293 3.8.6.2.2)
  }
  const uint8_t shift = c_.ws_ok ? c_.rcv_wscale : 0;
  const uint32_t field = std::min<uint32_t>(SeqDiff(edge, ack) >> shift, 0xffff);
  c_.rcv_adv = SeqMax(c_.rcv_adv, ack + (field << shift));
  return static_cast<uint16_t>(field);
}

void TcpEndpoint::EmitSegment(uint64_t now_us, SegmentSink& sink, SeqNum seq, uint8_t flags,
                              uint32_t data_offset, uint32_t data_len) noexcept {
  TcpHeader h;
  h.src_port = c_.local_port;
  h.dst_port = c_.remote_port;
  h.seq = seq;
  h.flags = flags;
  TcpOptions o;
  const bool syn = flags & kFlagSyn;
  const bool ack = flags & kFlagAck;
  if (ack) h.ack = AckField();
  if (syn) {
    // Active SYN offers what the config allows; SYN,ACK answers what the peer offered.
    const bool active = c_.state == TcpState::kSynSent;
    o.has_mss = true;
    o.mss_bytes = c_.cfg.mss_bytes;
    o.has_wscale = active ? c_.cfg.window_scaling : c_.ws_ok;
    o.wscale_shift = c_.rcv_wscale;
    o.has_timestamps = active ? c_.cfg.timestamps : c_.ts_ok;
    o.sack_permitted = active ? c_.cfg.sack : c_.sack_ok;
    h.window = static_cast<uint16_t>(std::min<uint32_t>(rcv_.Free(), 0xffff));  // unscaled
  } else {
    o.has_timestamps = c_.ts_ok;
    if (ack) h.window = WindowField();
    if (ack && c_.sack_ok && c_.ooo_count > 0) {
      // RFC 2018 3: at most 3 blocks next to timestamps, 4 without. The segment must
      // still fit the MSS (RFC 6691): a full-sized retransmission carries fewer blocks.
      uint8_t blocks = static_cast<uint8_t>(std::min<size_t>(c_.ooo_count, c_.ts_ok ? 3 : 4));
      const uint32_t room = c_.snd_mss_bytes > data_len ? c_.snd_mss_bytes - data_len : 0;
      while (blocks > 0 && SackOptionBytes(blocks) > room) --blocks;
      o.sack_count = blocks;
      for (uint8_t i = 0; i < o.sack_count; ++i) o.sack[i] = {c_.ooo[i].left, c_.ooo[i].right};
    }
  }
  if (o.has_timestamps) {
    o.ts_val = static_cast<uint32_t>(now_us / 1000);  // 1 ms clock (RFC 7323 5.4)
    o.ts_ecr = ack ? c_.ts_recent : 0;
  }
  const RingPieces p = snd_.Peek(data_offset, data_len);
  std::array<uint8_t, kMaxSegmentBytes> buf;
  size_t n = 0;
  if (BuildSegment(h, o, p.a, p.b, buf, n) != BuildStatus::kOk) return;  // sizes bounded
  if (ack) {
    c_.last_ack_sent = h.ack;
    c_.ack_now = false;
    c_.delack_deadline_us = kNoDeadline;
    c_.full_segs_unacked = 0;
  }
  sink.Emit(std::span<const uint8_t>(buf.data(), n));
}

uint32_t TcpEndpoint::UsableForNewData() const noexcept {
  const uint32_t flight = FlightBytes();
  const uint32_t rwnd_room = c_.snd_wnd_bytes > flight ? c_.snd_wnd_bytes - flight : 0;
  // With SACK the congestion window is compared with pipe (RFC 6675 SetPipe()), which
  // leaves out SACKed and lost bytes; outside recovery this is RFC 6675 step (2.c).
  const uint32_t in_net = c_.sack_ok ? SbPipe(c_.sacked, View()) : flight;
  const uint32_t cwnd_room = c_.cc.cwnd_bytes > in_net ? c_.cc.cwnd_bytes - in_net : 0;
  return std::min(rwnd_room, cwnd_room);
}

bool TcpEndpoint::SendNewSegment(uint64_t now_us, SegmentSink& sink, bool ignore_cwnd) noexcept {
  // New data leaves room for the SACK blocks we owe the peer (RFC 6691: options come
  // out of the MSS), so they ride along instead of being dropped.
  const uint32_t sack_blocks = c_.sack_ok ? std::min<uint32_t>(c_.ooo_count, c_.ts_ok ? 3 : 4) : 0;
  const uint32_t mss = c_.snd_mss_bytes - std::min<uint32_t>(SackOptionBytes(sack_blocks), c_.snd_mss_bytes / 2);
  const uint32_t unsent = UnsentBytes();
  if (unsent > 0) {
    const uint32_t flight = FlightBytes();
    const uint32_t usable = ignore_cwnd
                                ? (c_.snd_wnd_bytes > flight ? c_.snd_wnd_bytes - flight : 0)
                                : UsableForNewData();
    const uint32_t len = std::min({mss, unsent, usable});
    if (len == 0) return false;
    // RFC 9293 3.8.6.2.1 sender SWS avoidance: no small segment unless it is the tail
    // of the queue or at least half the largest window the peer offered.
    if (len < mss && len < unsent && len < c_.max_snd_wnd_bytes / 2) return false;
    const bool with_fin = c_.fin_queued && len == unsent;
    const uint8_t flags = static_cast<uint8_t>(kFlagAck | (len == unsent ? kFlagPsh : 0) |
                                               (with_fin ? kFlagFin : 0));
    const bool is_new = c_.snd_nxt >= c_.snd_max;
    EmitSegment(now_us, sink, c_.snd_nxt, flags, SeqDiff(c_.snd_nxt, c_.snd_ring_seq), len);
    // Karn, and no sample while holes are open: the cumulative ACK for a segment sent
    // above a hole waits for the repair and would inflate SRTT.
    if (is_new && !c_.rtt_timing && c_.recovery == Recovery::kNone && c_.sacked.count == 0) {
      c_.rtt_timing = true;
      c_.rtt_seq = c_.snd_nxt + len;
      c_.rtt_start_us = now_us;
    }
    c_.snd_nxt += len + (with_fin ? 1 : 0);
    c_.snd_max = SeqMax(c_.snd_max, c_.snd_nxt);
    if (c_.rtx_deadline_us == kNoDeadline) c_.rtx_deadline_us = now_us + c_.rtt.rto_us;
    return true;
  }
  if (c_.fin_queued && c_.snd_nxt == SndDataEnd()) {
    EmitSegment(now_us, sink, c_.snd_nxt, kFlagAck | kFlagFin, 0, 0);
    c_.snd_nxt += 1;
    c_.snd_max = SeqMax(c_.snd_max, c_.snd_nxt);
    if (c_.rtx_deadline_us == kNoDeadline) c_.rtx_deadline_us = now_us + c_.rtt.rto_us;
    return true;
  }
  return false;
}

SeqNum TcpEndpoint::Retransmit(uint64_t now_us, SegmentSink& sink, SeqNum seq,
                               uint32_t seq_len) noexcept {
  // Resends [seq, seq + seq_len) of sequence space below SND.MAX; the FIN rides along
  // when the range reaches it. Returns the end of what was covered.
  const SeqNum data_end = SndDataEnd();
  const bool fin_sent = c_.fin_queued && c_.snd_max > data_end;
  if (fin_sent && seq + seq_len == data_end) ++seq_len;
  const uint32_t data_len = seq < data_end ? std::min(seq_len, SeqDiff(data_end, seq)) : 0;
  const bool fin = fin_sent && seq + seq_len > data_end;
  if (data_len == 0 && !fin) return seq;
  EmitSegment(now_us, sink, seq, static_cast<uint8_t>(kFlagAck | (fin ? kFlagFin : 0)),
              SeqDiff(seq, c_.snd_ring_seq), data_len);
  // Karn: the timed segment was sent twice, its ACK would be ambiguous.
  if (c_.rtt_timing && seq < c_.rtt_seq && c_.rtt_seq <= seq + seq_len) c_.rtt_timing = false;
  if (c_.rtx_deadline_us == kNoDeadline) c_.rtx_deadline_us = now_us + c_.rtt.rto_us;
  return seq + seq_len;
}

void TcpEndpoint::SendTlp(uint64_t now_us, SegmentSink& sink) noexcept {
  c_.tlp_now = false;
  if (!TlpAllowed()) return;
  // RFC 8985 7.3: a new segment if there is one and the peer's window takes it (cwnd
  // is not consulted), else the last segment sent, again.
  if (SendNewSegment(now_us, sink, /*ignore_cwnd=*/true)) {
    c_.tlp_was_rtx = false;
  } else {
    const SeqNum data_end = SndDataEnd();
    const SeqNum from = c_.snd_una < data_end
        ? data_end - std::min<uint32_t>(c_.snd_mss_bytes, SeqDiff(data_end, c_.snd_una))
        : c_.snd_una;
    if (Retransmit(now_us, sink, from, SeqDiff(SeqMin(data_end, c_.snd_max), from)) == from) {
      return;
    }
    c_.tlp_was_rtx = true;
  }
  ++c_.stats.tlp_probes;
  c_.tlp_outstanding = true;
  c_.tlp_end_seq = c_.snd_max;
  c_.rtx_deadline_us = now_us + c_.rtt.rto_us;  // 7.3: the RTO covers the probe
}

void TcpEndpoint::SendDataAndFin(uint64_t now_us, SegmentSink& sink) noexcept {
  const uint32_t mss = c_.snd_mss_bytes;
  const auto arm_rtx = [&] {
    if (c_.rtx_deadline_us == kNoDeadline) c_.rtx_deadline_us = now_us + c_.rtt.rto_us;
  };
  const auto fin_sent = [&] { return c_.fin_queued && c_.snd_max > SndDataEnd(); };

  if (c_.rtx_one && c_.sack_ok) {
    // RFC 6675 (4.3) on entering recovery, or after a timeout: the segment at SND.UNA,
    // up to the first SACKed byte. After a timeout it goes out even if the scoreboard
    // says it was SACKed (RFC 2018 8).
    c_.rtx_one = false;
    SeqNum end = c_.snd_max;
    if (c_.sacked.count > 0 && c_.sacked.range[0].left > c_.snd_una) {
      end = SeqMin(end, c_.sacked.range[0].left);
    }
    const SeqNum done =
        Retransmit(now_us, sink, c_.snd_una, std::min<uint32_t>(mss, SeqDiff(end, c_.snd_una)));
    if (done != c_.snd_una) {
      c_.high_rxt = SeqMax(c_.high_rxt, done);
      ++c_.stats.sack_retransmits;
    }
  } else if (c_.rtx_one) {
    // Fast retransmit / NewReno partial ACK: resend the first unacknowledged segment.
    c_.rtx_one = false;
    const uint32_t off = SeqDiff(c_.snd_una, c_.snd_ring_seq);
    const uint32_t avail = snd_.Size() > off ? snd_.Size() - off : 0;
    const uint32_t len = std::min(mss, avail);
    const bool with_fin = fin_sent() && len == avail;
    if (len > 0 || with_fin) {
      EmitSegment(now_us, sink, c_.snd_una,
                  static_cast<uint8_t>(kFlagAck | (with_fin ? kFlagFin : 0)), off, len);
      arm_rtx();
    }
  }
  if (c_.probe_now) {
    c_.probe_now = false;
    const uint32_t unsent = UnsentBytes();
    if (unsent > 0 && FlightBytes() == 0) {
      const uint32_t off = SeqDiff(c_.snd_nxt, c_.snd_ring_seq);
      if (c_.snd_wnd_bytes == 0) {
        // RFC 9293 3.8.6.1: probe a zero window with one new byte; SND.NXT stays, so
        // the byte is sent again normally once the window opens.
        EmitSegment(now_us, sink, c_.snd_nxt, kFlagAck, off, 1);
        c_.probe_outstanding = true;
      } else {
        // RFC 9293 3.8.6.2.1: the override timeout sends a small segment after all.
        const uint32_t len = std::min({mss, unsent, c_.snd_wnd_bytes});
        EmitSegment(now_us, sink, c_.snd_nxt, kFlagAck | kFlagPsh, off, len);
        c_.snd_nxt += len;
        c_.snd_max = SeqMax(c_.snd_max, c_.snd_nxt);
        arm_rtx();
      }
    }
  }
  if (c_.tlp_now) SendTlp(now_us, sink);

  bool sent_new = false;
  for (;;) {
    const bool recovering = SackRecovering();
    SackSeg next;
    if (recovering) {
      // RFC 6675 5 step (C): send while cwnd - pipe >= 1 SMSS.
      if (c_.cc.cwnd_bytes < SbPipe(c_.sacked, View()) + mss) break;
      if (SbNextLost(c_.sacked, View(), next)) {  // NextSeg() rule (1)
        c_.high_rxt = SeqMax(Retransmit(now_us, sink, next.seq, next.len), next.seq + next.len);
        ++c_.stats.sack_retransmits;
        continue;
      }
    }
    if (SendNewSegment(now_us, sink, /*ignore_cwnd=*/false)) {  // rule (2), or no recovery
      sent_new = true;
      continue;
    }
    if (recovering && SbNextUnsacked(c_.sacked, View(), next)) {  // rule (3)
      c_.high_rxt = SeqMax(Retransmit(now_us, sink, next.seq, next.len), next.seq + next.len);
      ++c_.stats.sack_retransmits;
      continue;
    }
    if (c_.recovery == Recovery::kSackFast && !c_.rescue_sent &&
        SbRescue(c_.sacked, View(), next)) {
      // Rule (4): once per episode; HighRxt is not moved.
      c_.rescue_sent = true;
      (void)Retransmit(now_us, sink, next.seq, next.len);
      ++c_.stats.sack_retransmits;
      ++c_.stats.rescue_retransmits;
      continue;
    }
    break;
  }
  if (sent_new) ArmTlp(now_us);  // RFC 8985 7.2: reschedule when new data goes out
  // Nothing in flight but data waiting: the persist timer keeps probing (3.8.6.1).
  if (UnsentBytes() > 0 && FlightBytes() == 0 && c_.rtx_deadline_us == kNoDeadline &&
      c_.persist_deadline_us == kNoDeadline) {
    const uint64_t backoff = std::min<uint64_t>(uint64_t{c_.rtt.rto_us} << c_.persist_backoff,
                                                c_.cfg.rto_max_us);
    c_.persist_deadline_us = now_us + backoff;
  }
}

void TcpEndpoint::Output(uint64_t now_us, SegmentSink& sink) noexcept {
  if (c_.rst_pending) {
    // The reset's numbers come from the segment that provoked it (QueueReset), not from
    // this connection's ACK state; no options (RFC 9293 3.10.7.1).
    c_.rst_pending = false;
    TcpHeader h;
    h.src_port = c_.local_port;
    h.dst_port = c_.remote_port;
    h.seq = c_.rst_seq;
    h.ack = c_.rst_with_ack ? c_.rst_ack : SeqNum(0);
    h.flags = static_cast<uint8_t>(kFlagRst | (c_.rst_with_ack ? kFlagAck : 0));
    std::array<uint8_t, kTcpHeaderLen> buf;
    size_t n = 0;
    if (BuildSegment(h, TcpOptions{}, {}, {}, buf, n) == BuildStatus::kOk) {
      sink.Emit(std::span<const uint8_t>(buf.data(), n));
    }
  }
  switch (c_.state) {
    case TcpState::kClosed:
    case TcpState::kListen:
      return;
    case TcpState::kSynSent:
    case TcpState::kSynRcvd:
      if (c_.snd_nxt == c_.iss) {
        const uint8_t flags = c_.state == TcpState::kSynSent ? kFlagSyn : kFlagSyn | kFlagAck;
        EmitSegment(now_us, sink, c_.iss, flags, 0, 0);
        if (c_.retries == 0 && !c_.rtt_timing) {
          c_.rtt_timing = true;
          c_.rtt_seq = c_.iss + 1;
          c_.rtt_start_us = now_us;
        }
        c_.snd_nxt = c_.iss + 1;
        c_.snd_max = SeqMax(c_.snd_max, c_.snd_nxt);
        if (c_.rtx_deadline_us == kNoDeadline) c_.rtx_deadline_us = now_us + c_.rtt.rto_us;
        }
      if (c_.state == TcpState::kSynSent) return;  // nothing to ACK yet
      break;
    default:
      if (SendOpen(c_.state)) SendDataAndFin(now_us, sink);
      break;
  }
  if (c_.keepalive_now) {
    // RFC 9293 3.8.4: <SEQ=SND.NXT-1> with no data elicits an ACK from a live peer.
    c_.keepalive_now = false;
    EmitSegment(now_us, sink, c_.snd_nxt - 1, kFlagAck, 0, 0);
  }
  // Pure ACKs carry SND.MAX: after a go-back-N rewind SND.NXT sits below what the peer
  // has already received, and an ACK with an old sequence number would be dropped as
  // unacceptable (RFC 9293 3.10.7.4 first check), losing its acknowledgement.
  if (c_.ack_now) EmitSegment(now_us, sink, c_.snd_max, kFlagAck, 0, 0);
  for (; c_.dupacks_owed > 1; --c_.dupacks_owed) {
    EmitSegment(now_us, sink, c_.snd_max, kFlagAck, 0, 0);
  }
  c_.dupacks_owed = 0;
}

size_t BuildResetFor(const Segment& seg, std::span<uint8_t> out) noexcept {
  if (seg.Has(kFlagRst)) return 0;  // RFC 9293 3.10.7.1: never answer a reset
  TcpHeader h;
  h.src_port = seg.hdr.dst_port;
  h.dst_port = seg.hdr.src_port;
  if (seg.Has(kFlagAck)) {
    h.seq = seg.hdr.ack;  // <SEQ=SEG.ACK><CTL=RST>
    h.flags = kFlagRst;
  } else {
    h.ack = seg.hdr.seq + seg.SeqLen();  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    h.flags = kFlagRst | kFlagAck;
  }
  size_t n = 0;
  if (BuildSegment(h, TcpOptions{}, {}, {}, out, n) != BuildStatus::kOk) return 0;
  return n;
}

}  // namespace baton::dp::tcp
