// One TCP connection, sans-IO (RFC 9293): segments and time in, segments and timers out.
//
// The whole state is TcpConnection, a trivially copyable record with no pointers, so a
// session can be copied to another core or box (ARCHITECTURE.md 4). Byte buffers live
// outside it in caller-owned storage; TcpEndpoint is a short-lived view that binds the
// record to that storage for one call.
//
// Safe-ACK (ARCHITECTURE.md 5): with AckPolicy::kAckByCursor the ACK field never passes
// the cursor the layer above advances with AckUpTo(); kAckOnArrival (default) acks what
// arrived in order.
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>

#include "dataplane/tcp/byte_ring.h"
#include "dataplane/tcp/congestion.h"
#include "dataplane/tcp/rtt.h"
#include "dataplane/tcp/rules.h"
#include "dataplane/tcp/sack.h"
#include "dataplane/tcp/segment.h"
#include "dataplane/tcp/seq.h"

namespace baton::dp::tcp {

inline constexpr uint64_t kNoDeadline = UINT64_MAX;
inline constexpr size_t kMaxOooRanges = 4;
// Largest segment Output() builds: header, options and payload.
inline constexpr size_t kMaxSegmentBytes = kTcpMaxHeaderLen + 9000;

enum class AckPolicy : uint8_t { kAckOnArrival, kAckByCursor };

struct TcpConfig {
  uint16_t mss_bytes = 1460;  // what we advertise: MTU minus IP and TCP headers
  bool window_scaling = true;
  bool timestamps = true;
  bool sack = true;
  AckPolicy ack_policy = AckPolicy::kAckOnArrival;
  CcAlgo cc = CcAlgo::kCubic;  // RFC 9438; kNewReno is the RFC 5681 alternative
  // RFC 6298 2.1, 2.4, 2.5: initial 1 s, minimum 1 s, maximum 60 s.
  uint32_t rto_initial_us = 1'000'000;
  uint32_t rto_min_us = 1'000'000;
  uint32_t rto_max_us = 60'000'000;
  // Delayed ACK: ack every second full-sized segment (RFC 9293 3.8.6.3, RFC 5681 4.2)
  // or after this delay, far below the 500 ms bound of RFC 9293 3.8.6.3.
  uint32_t delack_us = 40'000;
  uint32_t msl_us = 30'000'000;        // TIME-WAIT lasts 2*MSL (RFC 9293 3.4.2)
  uint8_t syn_retries = 6;             // RFC 9293 3.8.3: R2 for SYN >= 3 minutes at back-off
  uint8_t data_retries = 15;           // R2 for data (RFC 9293 3.8.3 / RFC 1122 4.2.3.5)
  uint32_t keepalive_idle_us = 0;      // 0: off (RFC 9293 3.8.4: MUST default to off)
  uint32_t keepalive_interval_us = 75'000'000;
  uint8_t keepalive_probes = 9;
  uint16_t challenge_acks_per_s = 10;  // RFC 5961 7: per-connection budget
  // Tail loss probe (RFC 8985 7), only on SACK connections: PTO = max(2*SRTT, tlp_min_us),
  // plus tlp_delack_us when one segment is in flight (the peer may delay its ACK;
  // RFC 8985 7.2 WCDelAckT; 40 ms is Linux's minimum delayed-ACK time).
  bool tlp = true;
  uint32_t tlp_min_us = 10'000;
  uint32_t tlp_delack_us = 40'000;
};

// Loss recovery the sender is in.
enum class Recovery : uint8_t {
  kNone,
  kNewReno,  // RFC 6582, peers without SACK
  kSackFast, // RFC 6675 5, entered on DupThresh duplicate ACKs or IsLost(SND.UNA)
  kSackRto,  // after a timeout on a SACK connection (RFC 6675 5.1): unSACKed data below
             // `recover` is resent in order, SACKed data is skipped
};

// Per-connection counters, for tests and for the owner to export.
struct TcpStats {
  uint32_t rto_count = 0;          // retransmission timeouts on data (not the handshake)
  uint32_t fast_retransmits = 0;   // recovery episodes entered on duplicate ACKs
  uint32_t sack_retransmits = 0;   // segments resent from the scoreboard (rules 1, 3, 4)
  uint32_t rescue_retransmits = 0; // of which RFC 6675 NextSeg rule (4)
  uint32_t tlp_probes = 0;         // RFC 8985 7.3 probes sent
  uint32_t tlp_repairs = 0;        // RFC 8985 7.4: a probe repaired a loss (cwnd reduced)
  uint32_t sack_cleared = 0;       // scoreboard discarded after a timeout (reneging, RFC 2018 8)
};

struct OooRange {
  SeqNum left;
  SeqNum right;
};

// Bits of InputResult::events and of the sticky TcpConnection::events.
inline constexpr uint16_t kEvConnected = 1 << 0;   // reached ESTABLISHED
inline constexpr uint16_t kEvData = 1 << 1;        // new in-order bytes readable
inline constexpr uint16_t kEvPeerFin = 1 << 2;     // peer closed its direction
inline constexpr uint16_t kEvReset = 1 << 3;       // connection reset by peer
inline constexpr uint16_t kEvClosed = 1 << 4;      // reached CLOSED
inline constexpr uint16_t kEvSendSpace = 1 << 5;   // acked data freed send ring room
inline constexpr uint16_t kEvTimedOut = 1 << 6;    // gave up retransmitting

struct InputResult {
  TcpDrop drop = TcpDrop::kNone;  // kNone: segment (or part of it) was accepted
  uint16_t events = 0;
};

// The connection record. Plain data only.
struct TcpConnection {
  TcpConfig cfg;
  TcpState state = TcpState::kClosed;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  uint16_t events = 0;  // sticky kEv* bits; the owner clears what it handled

  // Send side (RFC 9293 3.3.1).
  SeqNum iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
  SeqNum snd_ring_seq;  // sequence number of the send ring's first byte
  uint32_t snd_wnd_bytes = 0;
  uint32_t max_snd_wnd_bytes = 0;
  uint16_t snd_mss_bytes = 536;  // payload per segment after options (RFC 9293 3.7.1)
  uint8_t snd_wscale = 0;        // peer's shift, applied to windows it sends
  uint8_t rcv_wscale = 0;        // our shift
  bool ws_ok = false, ts_ok = false, sack_ok = false;
  bool fin_queued = false;       // Close() called: FIN follows the last data byte
  RingState snd_ring;

  // Receive side.
  SeqNum irs, rcv_nxt;
  SeqNum rcv_adv;                // right edge of the window last advertised
  SeqNum ack_cursor;             // AckUpTo() position (kAckByCursor)
  SeqNum last_ack_sent;
  RingState rcv_ring;
  OooRange ooo[kMaxOooRanges] = {};
  uint8_t ooo_count = 0;
  uint8_t full_segs_unacked = 0;
  uint8_t dupacks_owed = 0;      // out-of-order arrivals since the last Output()

  // Timestamps (RFC 7323).
  uint32_t ts_recent = 0;

  // RTO (RFC 6298) and Karn's timed segment.
  RttState rtt;
  bool rtt_timing = false;
  SeqNum rtt_seq;
  uint64_t rtt_start_us = 0;
  uint8_t retries = 0;
  bool syn_timed_out = false;  // RFC 6298 5.7

  // Congestion control and loss recovery (RFC 5681, RFC 6582, RFC 6675).
  CcState cc;
  SeqNum recover;        // NewReno `recover`, RFC 6675 RecoveryPoint (exclusive end)
  uint8_t dupacks = 0;
  Recovery recovery = Recovery::kNone;
  bool rtx_one = false;  // Output retransmits the first unacked segment
  bool rescue_sent = false;  // RFC 6675 NextSeg rule (4) used in this episode
  SeqNum high_rxt;       // RFC 6675 HighRxt (exclusive end)
  SackScoreboard sacked; // what the peer SACKed above SND.UNA (RFC 2018, RFC 6675)

  // Tail loss probe (RFC 8985 7).
  bool tlp_now = false;
  bool tlp_outstanding = false;  // a probe is unacknowledged (7.3: one at a time)
  bool tlp_was_rtx = false;      // ... and it resent data rather than sending new data
  SeqNum tlp_end_seq;            // TLP.end_seq

  // Pending output.
  bool ack_now = false;
  bool probe_now = false;      // zero-window probe (RFC 9293 3.8.6.1)
  bool probe_outstanding = false;  // a probe byte at SND.NXT is beyond SND.MAX
  bool keepalive_now = false;  // keepalive probe (RFC 9293 3.8.4)
  bool rst_pending = false;
  bool rst_with_ack = false;
  SeqNum rst_seq, rst_ack;
  uint8_t persist_backoff = 0;
  uint8_t keepalives_sent = 0;
  uint16_t challenge_acks = 0;
  uint64_t challenge_window_us = 0;

  // Timers: absolute deadlines in microseconds, kNoDeadline when off.
  uint64_t rtx_deadline_us = kNoDeadline;
  uint64_t delack_deadline_us = kNoDeadline;
  uint64_t persist_deadline_us = kNoDeadline;
  uint64_t keepalive_deadline_us = kNoDeadline;
  uint64_t timewait_deadline_us = kNoDeadline;
  uint64_t tlp_deadline_us = kNoDeadline;  // PTO (RFC 8985 7.2)

  TcpStats stats;
};
static_assert(std::is_trivially_copyable_v<TcpConnection>);
static_assert(std::is_standard_layout_v<TcpConnection>);

// Where Output() puts segments: the bytes are a whole TCP segment with a zero checksum.
class SegmentSink {
 public:
  virtual ~SegmentSink() = default;
  virtual void Emit(std::span<const uint8_t> tcp_segment) noexcept = 0;
};

class TcpEndpoint {
 public:
  // `snd_storage` and `rcv_storage` must be the same arrays (and sizes) on every call
  // for one connection; the record keeps offsets into them.
  TcpEndpoint(TcpConnection& c, std::span<uint8_t> snd_storage,
              std::span<uint8_t> rcv_storage) noexcept
      : c_(c), snd_(snd_storage, c.snd_ring), rcv_(rcv_storage, c.rcv_ring) {}

  // Resets the record. Ring capacities are taken from the storage sizes.
  static void Init(TcpConnection& c, const TcpConfig& cfg, uint16_t local_port,
                   uint16_t remote_port, uint32_t snd_capacity_bytes,
                   uint32_t rcv_capacity_bytes, uint64_t now_us) noexcept;

  // Passive open: wait for a SYN; `iss` from Rfc6528Isn() over the SYN's 4-tuple.
  void Listen(SeqNum iss) noexcept;
  // Active open: SYN goes out on the next Output().
  void Connect(SeqNum iss, uint64_t now_us) noexcept;
  // SYN cookies: a fresh record (after Init) takes the ACK whose cookie SynCookieCheck()
  // accepted, with the MSS it returned; it becomes ESTABLISHED (data on the ACK is
  // taken too). No window scaling, timestamps or SACK on such a connection.
  [[nodiscard]] InputResult AcceptCookie(const Segment& ack, uint16_t peer_mss,
                                         uint64_t now_us) noexcept;

  [[nodiscard]] InputResult Input(const Segment& seg, uint64_t now_us) noexcept;
  // Emits every segment due now (SYN, data, retransmissions, FIN, ACK, RST, probes).
  void Output(uint64_t now_us, SegmentSink& sink) noexcept;
  // Fires due timers; call Output() afterwards.
  void OnTimer(uint64_t now_us) noexcept;
  uint64_t NextDeadline() const noexcept;

  // Queues bytes; returns how many fit in the send ring (0 after Close()).
  [[nodiscard]] uint32_t Send(std::span<const uint8_t> bytes) noexcept;
  // Reads received in-order bytes; returns how many.
  [[nodiscard]] uint32_t Receive(std::span<uint8_t> out) noexcept;
  // Copies up to out.size() received in-order bytes without consuming them.
  uint32_t Peek(std::span<uint8_t> out) const noexcept {
    const uint32_t n = std::min<uint32_t>(rcv_.Size(), static_cast<uint32_t>(out.size()));
    const RingPieces p = rcv_.Peek(0, n);
    std::copy(p.a.begin(), p.a.end(), out.begin());
    std::copy(p.b.begin(), p.b.end(), out.begin() + static_cast<std::ptrdiff_t>(p.a.size()));
    return n;
  }
  uint32_t Readable() const noexcept { return rcv_.Size(); }
  // Bytes Send() would take now (0 once Close() was called).
  uint32_t SendSpace() const noexcept { return c_.fin_queued ? 0 : snd_.Free(); }
  // Bytes queued and not yet acknowledged by the peer.
  uint32_t Unacked() const noexcept { return snd_.Size(); }
  void Close() noexcept;
  void Abort() noexcept;
  // kAckByCursor: acknowledge received sequence space up to `seq` (clamped to RCV.NXT).
  void AckUpTo(SeqNum seq) noexcept;

  TcpState state() const noexcept { return c_.state; }
  SeqNum RcvNxt() const noexcept { return c_.rcv_nxt; }
  // The ACK field Output() would send now.
  SeqNum AckField() const noexcept;

 private:
  // First-dispatch handlers, one per TcpAction.
  InputResult OnPassiveOpen(const Segment& seg, uint64_t now_us) noexcept;
  InputResult OnSynSentSynAck(const Segment& seg, uint64_t now_us) noexcept;
  InputResult OnSynSentAck(const Segment& seg) noexcept;
  InputResult OnSynSentRst(const Segment& seg) noexcept;
  InputResult OnSimultaneousOpen(const Segment& seg, uint64_t now_us) noexcept;
  InputResult OnRstCheck(const Segment& seg, uint64_t now_us) noexcept;
  InputResult OnSynChallenge(const Segment& seg, uint64_t now_us) noexcept;
  InputResult OnProcess(const Segment& seg, uint64_t now_us) noexcept;

  void TakeSynOptions(const Segment& seg) noexcept;
  bool SeqAcceptable(const Segment& seg) const noexcept;
  bool ChallengeAck(uint64_t now_us) noexcept;
  TcpDrop ProcessAck(const Segment& seg, uint64_t now_us, uint16_t& events) noexcept;
  void OnNewAck(const Segment& seg, uint64_t now_us, uint16_t& events) noexcept;
  void OnDupAck() noexcept;
  void OnSackAck(const Segment& seg, bool new_ack, bool classic_dup) noexcept;
  void EnterSackRecovery() noexcept;
  void OnProbeAcked(const Segment& seg) noexcept;
  void ArmTlp(uint64_t now_us) noexcept;
  bool TlpAllowed() const noexcept;
  SackView View() const noexcept;
  bool SackRecovering() const noexcept {
    return c_.recovery == Recovery::kSackFast || c_.recovery == Recovery::kSackRto;
  }
  uint32_t UsableForNewData() const noexcept;
  bool SendNewSegment(uint64_t now_us, SegmentSink& sink, bool ignore_cwnd) noexcept;
  SeqNum Retransmit(uint64_t now_us, SegmentSink& sink, SeqNum seq, uint32_t seq_len) noexcept;
  void SendTlp(uint64_t now_us, SegmentSink& sink) noexcept;
  void PlaceData(const Segment& seg, uint64_t now_us, uint16_t& events) noexcept;
  void ScheduleAck(bool full_segment, uint64_t now_us) noexcept;
  void QueueReset(SeqNum seq, SeqNum ack, bool with_ack) noexcept;
  void EnterTimeWait(uint64_t now_us) noexcept;
  void EnterClosed(uint16_t why) noexcept;
  void Established(uint64_t now_us) noexcept;

  uint32_t FlightBytes() const noexcept;
  uint32_t UnsentBytes() const noexcept;
  SeqNum SndDataEnd() const noexcept { return c_.snd_ring_seq + snd_.Size(); }
  uint16_t WindowField() noexcept;
  void EmitSegment(uint64_t now_us, SegmentSink& sink, SeqNum seq, uint8_t flags,
                   uint32_t data_offset, uint32_t data_len) noexcept;
  void SendDataAndFin(uint64_t now_us, SegmentSink& sink) noexcept;
  RtoLimits Limits() const noexcept;

  TcpConnection& c_;
  ByteRing snd_;
  ByteRing rcv_;
};

// A reset for a segment that matches no connection (RFC 9293 3.10.7.1): writes it into
// `out` and returns its length, or 0 when the segment was itself a reset.
[[nodiscard]] size_t BuildResetFor(const Segment& seg, std::span<uint8_t> out) noexcept;

}  // namespace baton::dp::tcp
