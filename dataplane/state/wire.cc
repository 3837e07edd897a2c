#include "dataplane/state/wire.h"

#include <utility>

#include "dataplane/net/bytes.h"

namespace baton::dp::state {
namespace {

using tcp::AckPolicy;
using tcp::CcAlgo;
using tcp::Recovery;
using tcp::SeqNum;
using tcp::TcpConnection;
using tcp::TcpState;

// ---- The pins -----------------------------------------------------------------------
// Member count of an aggregate (arrays count per element): the largest N for which
// T{f1, ..., fN} is well-formed with a value that converts to anything.
struct AnyField {
  template <class U>
  constexpr operator U() const noexcept;  // unevaluated only
};
template <class T, size_t... I>
constexpr bool InitWith(std::index_sequence<I...>) {
  return requires { T{(void(I), AnyField{})...}; };
}
template <class T, size_t N = 0>
constexpr size_t FieldCount() {
  if constexpr (InitWith<T>(std::make_index_sequence<N + 1>{})) {
    return FieldCount<T, N + 1>();
  } else {
    return N;
  }
}

// A field added to the TCP record (even into padding) changes one of these. Then add it
// to Fields() below, bump kTcpWireVersion if peers must tell the layouts apart, and
// update the numbers.
static_assert(sizeof(TcpConnection) == 520 && FieldCount<TcpConnection>() == 73);
static_assert(sizeof(tcp::TcpConfig) == 56 && FieldCount<tcp::TcpConfig>() == 20);
static_assert(sizeof(tcp::RingState) == 12 && FieldCount<tcp::RingState>() == 3);
static_assert(sizeof(tcp::RttState) == 16 && FieldCount<tcp::RttState>() == 4);
static_assert(sizeof(tcp::CcState) == 32 && FieldCount<tcp::CcState>() == 8);
static_assert(sizeof(tcp::SackScoreboard) == 132 && FieldCount<tcp::SackScoreboard>() == 17);
static_assert(sizeof(tcp::SackRange) == 8 && FieldCount<tcp::SackRange>() == 2);
static_assert(sizeof(tcp::OooRange) == 8 && FieldCount<tcp::OooRange>() == 2);
static_assert(sizeof(tcp::TcpStats) == 28 && FieldCount<tcp::TcpStats>() == 7);
static_assert(sizeof(SeqNum) == 4);
static_assert(sizeof(Session) == 1160 && FieldCount<Session>() == 30);
static_assert(sizeof(FlowKey) == 12 && FieldCount<FlowKey>() == 4);

// ---- Wire enums: numbers fixed here, never the C++ enumerator values ---------------
enum class WireTcpState : uint8_t {
  kClosed = 0, kListen = 1, kSynSent = 2, kSynRcvd = 3, kEstablished = 4, kFinWait1 = 5,
  kFinWait2 = 6, kCloseWait = 7, kClosing = 8, kLastAck = 9, kTimeWait = 10,
};
constexpr uint8_t kWireInvalid = 0xff;

constexpr uint8_t ToWire(TcpState s) noexcept {
  switch (s) {
    case TcpState::kClosed: return uint8_t(WireTcpState::kClosed);
    case TcpState::kListen: return uint8_t(WireTcpState::kListen);
    case TcpState::kSynSent: return uint8_t(WireTcpState::kSynSent);
    case TcpState::kSynRcvd: return uint8_t(WireTcpState::kSynRcvd);
    case TcpState::kEstablished: return uint8_t(WireTcpState::kEstablished);
    case TcpState::kFinWait1: return uint8_t(WireTcpState::kFinWait1);
    case TcpState::kFinWait2: return uint8_t(WireTcpState::kFinWait2);
    case TcpState::kCloseWait: return uint8_t(WireTcpState::kCloseWait);
    case TcpState::kClosing: return uint8_t(WireTcpState::kClosing);
    case TcpState::kLastAck: return uint8_t(WireTcpState::kLastAck);
    case TcpState::kTimeWait: return uint8_t(WireTcpState::kTimeWait);
    case TcpState::kCount: break;
  }
  return kWireInvalid;
}
constexpr bool FromWire(uint8_t v, TcpState& s) noexcept {
  switch (WireTcpState(v)) {
    case WireTcpState::kClosed: s = TcpState::kClosed; return true;
    case WireTcpState::kListen: s = TcpState::kListen; return true;
    case WireTcpState::kSynSent: s = TcpState::kSynSent; return true;
    case WireTcpState::kSynRcvd: s = TcpState::kSynRcvd; return true;
    case WireTcpState::kEstablished: s = TcpState::kEstablished; return true;
    case WireTcpState::kFinWait1: s = TcpState::kFinWait1; return true;
    case WireTcpState::kFinWait2: s = TcpState::kFinWait2; return true;
    case WireTcpState::kCloseWait: s = TcpState::kCloseWait; return true;
    case WireTcpState::kClosing: s = TcpState::kClosing; return true;
    case WireTcpState::kLastAck: s = TcpState::kLastAck; return true;
    case WireTcpState::kTimeWait: s = TcpState::kTimeWait; return true;
  }
  return false;
}

enum class WireCcAlgo : uint8_t { kNewReno = 0, kCubic = 1 };
constexpr uint8_t ToWire(CcAlgo a) noexcept {
  switch (a) {
    case CcAlgo::kNewReno: return uint8_t(WireCcAlgo::kNewReno);
    case CcAlgo::kCubic: return uint8_t(WireCcAlgo::kCubic);
    case CcAlgo::kCount: break;
  }
  return kWireInvalid;
}
constexpr bool FromWire(uint8_t v, CcAlgo& a) noexcept {
  switch (WireCcAlgo(v)) {
    case WireCcAlgo::kNewReno: a = CcAlgo::kNewReno; return true;
    case WireCcAlgo::kCubic: a = CcAlgo::kCubic; return true;
  }
  return false;
}

enum class WireAckPolicy : uint8_t { kAckOnArrival = 0, kAckByCursor = 1 };
constexpr uint8_t ToWire(AckPolicy p) noexcept {
  switch (p) {
    case AckPolicy::kAckOnArrival: return uint8_t(WireAckPolicy::kAckOnArrival);
    case AckPolicy::kAckByCursor: return uint8_t(WireAckPolicy::kAckByCursor);
  }
  return kWireInvalid;
}
constexpr bool FromWire(uint8_t v, AckPolicy& p) noexcept {
  switch (WireAckPolicy(v)) {
    case WireAckPolicy::kAckOnArrival: p = AckPolicy::kAckOnArrival; return true;
    case WireAckPolicy::kAckByCursor: p = AckPolicy::kAckByCursor; return true;
  }
  return false;
}

enum class WireRecovery : uint8_t { kNone = 0, kNewReno = 1, kSackFast = 2, kSackRto = 3 };
constexpr uint8_t ToWire(Recovery r) noexcept {
  switch (r) {
    case Recovery::kNone: return uint8_t(WireRecovery::kNone);
    case Recovery::kNewReno: return uint8_t(WireRecovery::kNewReno);
    case Recovery::kSackFast: return uint8_t(WireRecovery::kSackFast);
    case Recovery::kSackRto: return uint8_t(WireRecovery::kSackRto);
  }
  return kWireInvalid;
}
constexpr bool FromWire(uint8_t v, Recovery& r) noexcept {
  switch (WireRecovery(v)) {
    case WireRecovery::kNone: r = Recovery::kNone; return true;
    case WireRecovery::kNewReno: r = Recovery::kNewReno; return true;
    case WireRecovery::kSackFast: r = Recovery::kSackFast; return true;
    case WireRecovery::kSackRto: r = Recovery::kSackRto; return true;
  }
  return false;
}

// ---- Byte order -------------------------------------------------------------------
inline void StoreBe64(uint8_t* p, uint64_t v) noexcept {
  StoreBe32(p, uint32_t(v >> 32));
  StoreBe32(p + 4, uint32_t(v));
}
inline uint64_t LoadBe64(const uint8_t* p) noexcept {
  return uint64_t(LoadBe32(p)) << 32 | LoadBe32(p + 4);
}

// ---- Three walkers over one field list ---------------------------------------------
// Counts bytes (constexpr: gives kTcpWireBytes).
struct Sizer {
  size_t n = 0;
  constexpr void U8(uint8_t) noexcept { n += 1; }
  constexpr void U16(uint16_t) noexcept { n += 2; }
  constexpr void U32(uint32_t) noexcept { n += 4; }
  constexpr void U64(uint64_t) noexcept { n += 8; }
  constexpr void Bool(bool) noexcept { n += 1; }
  constexpr void Seq(SeqNum) noexcept { n += 4; }
  template <class E>
  constexpr void Enum(E) noexcept { n += 1; }
};

// Writes; the caller checked the size.
struct Writer {
  uint8_t* p;
  void U8(uint8_t v) noexcept { *p++ = v; }
  void U16(uint16_t v) noexcept { StoreBe16(p, v); p += 2; }
  void U32(uint32_t v) noexcept { StoreBe32(p, v); p += 4; }
  void U64(uint64_t v) noexcept { StoreBe64(p, v); p += 8; }
  void Bool(bool v) noexcept { U8(v ? 1 : 0); }
  void Seq(SeqNum s) noexcept { U32(s.raw); }
  template <class E>
  void Enum(E e) noexcept { U8(ToWire(e)); }
};

// Reads with a sticky failure (STYLE.md 11); the caller checked the size.
struct Reader {
  const uint8_t* p;
  bool ok = true;
  void U8(uint8_t& v) noexcept { v = *p++; }
  void U16(uint16_t& v) noexcept { v = LoadBe16(p); p += 2; }
  void U32(uint32_t& v) noexcept { v = LoadBe32(p); p += 4; }
  void U64(uint64_t& v) noexcept { v = LoadBe64(p); p += 8; }
  void Bool(bool& v) noexcept {
    const uint8_t b = *p++;
    ok &= b <= 1;
    v = b == 1;
  }
  void Seq(SeqNum& s) noexcept { U32(s.raw); }
  template <class E>
  void Enum(E& e) noexcept { ok &= FromWire(*p++, e); }
};

// Every field of TcpConnection, in declaration order. `C` is TcpConnection for the
// reader and const TcpConnection for the writer and the sizer.
template <class IO, class C>
constexpr void Fields(IO& io, C& c) noexcept {
  auto& f = c.cfg;
  io.U16(f.mss_bytes);
  io.Bool(f.window_scaling);
  io.Bool(f.timestamps);
  io.Bool(f.sack);
  io.Enum(f.ack_policy);
  io.Enum(f.cc);
  io.U32(f.rto_initial_us);
  io.U32(f.rto_min_us);
  io.U32(f.rto_max_us);
  io.U32(f.delack_us);
  io.U32(f.msl_us);
  io.U8(f.syn_retries);
  io.U8(f.data_retries);
  io.U32(f.keepalive_idle_us);
  io.U32(f.keepalive_interval_us);
  io.U8(f.keepalive_probes);
  io.U16(f.challenge_acks_per_s);
  io.Bool(f.tlp);
  io.U32(f.tlp_min_us);
  io.U32(f.tlp_delack_us);

  io.Enum(c.state);
  io.U16(c.local_port);
  io.U16(c.remote_port);
  io.U16(c.events);

  io.Seq(c.iss);
  io.Seq(c.snd_una);
  io.Seq(c.snd_nxt);
  io.Seq(c.snd_max);
  io.Seq(c.snd_wl1);
  io.Seq(c.snd_wl2);
  io.Seq(c.snd_ring_seq);
  io.U32(c.snd_wnd_bytes);
  io.U32(c.max_snd_wnd_bytes);
  io.U16(c.snd_mss_bytes);
  io.U8(c.snd_wscale);
  io.U8(c.rcv_wscale);
  io.Bool(c.ws_ok);
  io.Bool(c.ts_ok);
  io.Bool(c.sack_ok);
  io.Bool(c.fin_queued);
  io.U32(c.snd_ring.capacity_bytes);
  io.U32(c.snd_ring.head);
  io.U32(c.snd_ring.size_bytes);

  io.Seq(c.irs);
  io.Seq(c.rcv_nxt);
  io.Seq(c.rcv_adv);
  io.Seq(c.ack_cursor);
  io.Seq(c.last_ack_sent);
  io.U32(c.rcv_ring.capacity_bytes);
  io.U32(c.rcv_ring.head);
  io.U32(c.rcv_ring.size_bytes);
  for (auto& r : c.ooo) {
    io.Seq(r.left);
    io.Seq(r.right);
  }
  io.U8(c.ooo_count);
  io.U8(c.full_segs_unacked);
  io.U8(c.dupacks_owed);

  io.U32(c.ts_recent);

  io.U32(c.rtt.srtt_us);
  io.U32(c.rtt.rttvar_us);
  io.U32(c.rtt.rto_us);
  io.Bool(c.rtt.has_sample);
  io.Bool(c.rtt_timing);
  io.Seq(c.rtt_seq);
  io.U64(c.rtt_start_us);
  io.U8(c.retries);
  io.Bool(c.syn_timed_out);

  io.U32(c.cc.cwnd_bytes);
  io.U32(c.cc.ssthresh_bytes);
  io.U32(c.cc.acked_accum_bytes);
  for (auto& w : c.cc.algo_private) io.U32(w);
  io.Seq(c.recover);
  io.U8(c.dupacks);
  io.Enum(c.recovery);
  io.Bool(c.rtx_one);
  io.Bool(c.rescue_sent);
  io.Seq(c.high_rxt);
  for (auto& r : c.sacked.range) {
    io.Seq(r.left);
    io.Seq(r.right);
  }
  io.U8(c.sacked.count);

  io.Bool(c.tlp_now);
  io.Bool(c.tlp_outstanding);
  io.Bool(c.tlp_was_rtx);
  io.Seq(c.tlp_end_seq);

  io.Bool(c.ack_now);
  io.Bool(c.probe_now);
  io.Bool(c.probe_outstanding);
  io.Bool(c.keepalive_now);
  io.Bool(c.rst_pending);
  io.Bool(c.rst_with_ack);
  io.Seq(c.rst_seq);
  io.Seq(c.rst_ack);
  io.U8(c.persist_backoff);
  io.U8(c.keepalives_sent);
  io.U16(c.challenge_acks);
  io.U64(c.challenge_window_us);

  io.U64(c.rtx_deadline_us);
  io.U64(c.delack_deadline_us);
  io.U64(c.persist_deadline_us);
  io.U64(c.keepalive_deadline_us);
  io.U64(c.timewait_deadline_us);
  io.U64(c.tlp_deadline_us);

  io.U32(c.stats.rto_count);
  io.U32(c.stats.fast_retransmits);
  io.U32(c.stats.sack_retransmits);
  io.U32(c.stats.rescue_retransmits);
  io.U32(c.stats.tlp_probes);
  io.U32(c.stats.tlp_repairs);
  io.U32(c.stats.sack_cleared);
}

template <class IO, class K>
constexpr void FlowFields(IO& io, K& k) noexcept {
  io.U32(k.remote_ip);
  io.U32(k.local_ip);
  io.U16(k.remote_port);
  io.U16(k.local_port);
}

// Every field of Session but the owner-local ones (wire.h), in declaration order.
template <class IO, class S>
constexpr void SessionFields(IO& io, S& s) noexcept {
  Fields(io, s.client);
  Fields(io, s.backend);
  FlowFields(io, s.client_flow);
  FlowFields(io, s.backend_flow);
  io.U64(s.tried_backends);
  io.U64(s.connect_deadline_us);
  io.U64(s.idle_deadline_us);
  io.U64(s.handshake_deadline_us);
  io.U64(s.last_to_client_us);
  io.U64(s.tls_start_us);
  io.U64(s.request_start_us);
  io.U64(s.connect_start_us);
  io.U32(s.config_generation);
  io.U16(s.listener);
  io.U16(s.pool);
  io.U16(s.backend_index);
  io.U8(s.attempts);
  io.Bool(s.half_open);
  io.Bool(s.backend_open);
  io.Bool(s.fin_from_client);
  io.Bool(s.fin_from_backend);
  io.Bool(s.fin_to_backend);
  io.Bool(s.fin_to_client);
  io.Bool(s.counted_on_backend);
  io.Bool(s.proxy_header);
  io.Bool(s.tls);
  io.Bool(s.tls_over);
  io.U8(s.small_records);
}

constexpr size_t kHeaderBytes = 4;
constexpr size_t BodyBytes() {
  Sizer s;
  const TcpConnection c{};
  Fields(s, c);
  return s.n;
}
static_assert(kHeaderBytes + BodyBytes() == kTcpWireBytes, "update kTcpWireBytes in wire.h");
constexpr size_t SessionBodyBytes() {
  Sizer z;
  const Session s{};
  SessionFields(z, s);
  return z.n;
}
static_assert(kHeaderBytes + SessionBodyBytes() == kSessionWireBytes, "update kSessionWireBytes in wire.h");

// Header, then the body; nothing written when `out` is short.
template <class T, class F>
size_t Write(uint8_t version, size_t total, const T& record, std::span<uint8_t> out, F fields) noexcept {
  if (out.size() < total) return 0;
  Writer w{out.data()};
  w.U8(version);
  w.U8(0);
  w.U16(uint16_t(total - kHeaderBytes));
  fields(w, record);
  return total;
}

// Checks the header, reads into a temporary, and only a whole good record reaches `out`.
template <class T, class F>
WireStatus Read(uint8_t version, size_t total, std::span<const uint8_t> in, T& out, F fields) noexcept {
  if (in.size() < kHeaderBytes) return WireStatus::kTooShort;
  if (in[0] != version) return WireStatus::kBadVersion;
  const size_t body = LoadBe16(&in[2]);
  if (body != total - kHeaderBytes) return WireStatus::kBadLength;
  if (in.size() < kHeaderBytes + body) return WireStatus::kTooShort;
  T tmp{};
  Reader r{in.data() + kHeaderBytes};
  fields(r, tmp);
  if (!r.ok) return WireStatus::kBadValue;
  out = tmp;
  return WireStatus::kOk;
}

}  // namespace

size_t ToWire(const tcp::TcpConnection& c, std::span<uint8_t> out) noexcept {
  return Write(kTcpWireVersion, kTcpWireBytes, c, out, [](Writer& w, const TcpConnection& x) { Fields(w, x); });
}

WireStatus FromWire(std::span<const uint8_t> in, tcp::TcpConnection& c) noexcept {
  return Read(kTcpWireVersion, kTcpWireBytes, in, c, [](Reader& r, TcpConnection& x) { Fields(r, x); });
}

size_t ToWire(const Session& s, std::span<uint8_t> out) noexcept {
  return Write(kSessionWireVersion, kSessionWireBytes, s, out,
               [](Writer& w, const Session& x) { SessionFields(w, x); });
}

WireStatus FromWire(std::span<const uint8_t> in, Session& s) noexcept {
  return Read(kSessionWireVersion, kSessionWireBytes, in, s, [](Reader& r, Session& x) { SessionFields(r, x); });
}

}  // namespace baton::dp::state
