#include "dataplane/proxy/engine.h"

#include <time.h>

#include <algorithm>
#include <new>

#include "dataplane/lb/proxy_protocol.h"
#include "dataplane/proxy/request_latency.h"
#include "dataplane/tcp/syn_cookie.h"

namespace baton::dp {
namespace {

using tcp::kFlagAck;
using tcp::kFlagFin;
using tcp::kFlagRst;
using tcp::kFlagSyn;
using tcp::kNoDeadline;
using tcp::TcpState;

constexpr uint64_t kUsPerMs = 1000;
constexpr uint32_t kPumpChunk = 16 * 1024;

// TLS record framing (RFC 8446 5.1, 5.2; RFC 5246 6.2.3).
constexpr uint32_t kTlsHeaderBytes = crypto::tls::kRecordHeaderBytes;
constexpr uint32_t kTlsMaxPlainBytes = crypto::tls::kMaxPlaintextBytes;
constexpr uint32_t kTlsMaxRecordBytes = crypto::tls::kMaxRecordBytes;
// What sealing adds to a record: header, content type, tag (TLS 1.2: explicit nonce).
constexpr uint32_t kTlsRecordOverhead = 32;
// Room the client's send ring must have before a client record goes into the TLS server:
// during the handshake for our whole flight (certificates, tickets), later for a reply
// (KeyUpdate, alert). Checked up front so the server's output always fits.
constexpr uint32_t kTlsFlightRoom = 32 * 1024;
constexpr uint32_t kTlsReplyRoom = 1024;
// At the start of a burst (nothing sent to the client for kBurstGapUs) this many records
// go out one TCP segment each, so the client can act on the first bytes before a whole
// 16 KiB record arrived; then records grow to the maximum for bulk.
constexpr uint8_t kSmallRecordsPerBurst = 8;
constexpr uint64_t kBurstGapUs = 1'000'000;
constexpr size_t kTls12CachedSessions = 4096;  // TLS 1.2 session ids remembered per worker

std::array<uint8_t, 4> Be(uint32_t ip) noexcept {
  return {uint8_t(ip >> 24), uint8_t(ip >> 16), uint8_t(ip >> 8), uint8_t(ip)};
}

// Can this side of a session take bytes to send (or has it stopped for good)?
bool Sendable(TcpState s) noexcept { return s == TcpState::kEstablished || s == TcpState::kCloseWait; }

// Puts TLS records or plaintext into a TCP connection's send ring. PumpTls() checks the
// room first, so a short write means a bug; the TLS server treats it as internal_error.
class RingSink final : public crypto::tls::OutputSink {
 public:
  explicit RingSink(tcp::TcpEndpoint* ep) noexcept : ep_(ep) {}
  bool Append(crypto::ByteView bytes) noexcept override {
    if (ep_ == nullptr) return bytes.empty();
    return ep_->Send(bytes) == bytes.size();
  }

 private:
  tcp::TcpEndpoint* ep_;
};

// Sends a connection's segments through the L3 stack.
class Emitter final : public tcp::SegmentSink {
 public:
  Emitter(L3Stack& l3, uint16_t port, uint32_t src, uint32_t dst, uint64_t now_us, FrameSink& sink)
      : l3_(l3), port_(port), src_(src), dst_(dst), now_us_(now_us), sink_(sink) {}
  void Emit(std::span<const uint8_t> segment) noexcept override {
    (void)l3_.SendTcp(port_, src_, dst_, segment, now_us_, sink_);  // drops are counted there
  }

 private:
  L3Stack& l3_;
  uint16_t port_;
  uint32_t src_, dst_;
  uint64_t now_us_;
  FrameSink& sink_;
};

}  // namespace

ProxyEngine::ProxyEngine(const ConfigSnapshot& config, uint16_t front, uint16_t back, uint16_t worker,
                         uint16_t workers, L3Stack& l3, DpCounters& counters, const tcp::IsnKey& isn_key,
                         SessionSpace& space, const TlsListeners* tls)
    : front_(front),
      back_(back),
      worker_(worker),
      workers_(workers),
      l3_(l3),
      counters_(counters),
      isn_key_(isn_key),
      settings_(config.tcp),
      space_(space) {
  snat_ip_ = l3_.Port(back_).ip;
  // MSS from each side's MTU (RFC 9293 3.7.1: MTU minus 40 for IPv4 without options).
  // TIME-WAIT is 10 s, not 2 x 2 min: a proxy holds a session (and a SNAT port) through
  // it. It must still outlast a peer's backed-off FIN retransmissions, or the FIN meets
  // no session and gets a RST.
  client_tcp_.mss_bytes = uint16_t(l3_.Port(front_).mtu_bytes - 40);
  client_tcp_.msl_us = 5'000'000;
  // RFC 6298 2.4 asks for a 1 s minimum RTO; like Linux we use 200 ms: with a 1 s floor
  // every loss that fast retransmit cannot repair stalls a client for a second.
  client_tcp_.rto_min_us = 200'000;
  backend_tcp_ = client_tcp_;
  backend_tcp_.mss_bytes = uint16_t(l3_.Port(back_).mtu_bytes - 40);
  // Backends are close: a first RTO of 1 s would make a lost SYN cost a second.
  backend_tcp_.rto_initial_us = 200'000;
  backend_tcp_.rto_min_us = 200'000;
  backend_tcp_.syn_retries = 3;

  pools_.resize(config.pools.size());
  for (size_t i = 0; i < config.pools.size(); ++i) {
    // The config loader checked the pool (1..64 backends), so Init cannot fail; if it
    // did, the pool stays empty and every pick says "no backend".
    (void)pools_[i].Init(config.pools[i]);
  }
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const ListenerConfig& l = config.listeners[i];
    const TlsListener* t = tls != nullptr ? tls->For(i) : nullptr;
    if (l.mode == ListenerMode::kTls && t == nullptr) continue;  // no certificates loaded
    listeners_.push_back({l.vip.V4HostOrder(), l.port, l.pool, l.proxy_protocol, t});
  }
  live_listeners_ = uint16_t(listeners_.size());
  const bool any_tls = std::any_of(listeners_.begin(), listeners_.end(), [](const Listener& l) { return l.tls; });
  if (any_tls) {
    StartTlsSupport();
    tls12_.resize(listeners_.size());
    for (size_t i = 0; i < listeners_.size(); ++i)
      if (listeners_[i].tls != nullptr) tls12_[i] = Tls12For(*listeners_[i].tls);
  }

  // Every session of the space may end up here (adoption, rebalance).
  const uint32_t capacity = space_.capacity();
  dirty_.reserve(capacity);
  timers_.reserve(2 * size_t(capacity) + 65);
  // A TLS listener without TLS slots (a space made without them) takes no sessions.
  if (any_tls && space_.TlsSlot(0) == nullptr) crypto_.reset();

  const uint32_t ports = uint32_t(settings_.snat_port_max) - settings_.snat_port_min + 1;
  snat_free_.resize(ports);
  for (uint32_t p = settings_.snat_port_min; p <= settings_.snat_port_max; ++p)
    if ((p - settings_.snat_port_min) % workers_ == worker_) snat_free_[snat_count_++] = uint16_t(p);
  (void)Store().RegisterCore(worker_);  // ids below kMaxCores: checked by the config loader
}

ProxyEngine::~ProxyEngine() {
  const uint32_t capacity = space_.capacity();
  for (uint32_t i = 0; i < capacity; ++i)
    if (Mine(i)) EndTls(i);  // wipes the keys
  Store().UnregisterCore(worker_);
}

bool ProxyEngine::Mine(uint32_t idx) const noexcept {
  const state::Owner o = state::Unpack(space_.store().OwnerOf(idx));
  return o.core == worker_ && o.state == state::OwnerState::kOwned;
}

bool ProxyEngine::Classify(uint16_t port, const TcpView& view, ByteView segment, state::Side& side,
                           FlowKey& key) const noexcept {
  if (segment.size() < 4) return false;
  key = FlowKey{view.src_ip, view.dst_ip, LoadBe16(&segment[0]), LoadBe16(&segment[2])};
  if (port == back_ && view.dst_ip == snat_ip_) {
    side = state::Side::kBackend;
    return true;
  }
  side = state::Side::kClient;
  return port == front_;
}

FlowRoute ProxyEngine::Resolve(uint32_t idx, uint64_t now_us) noexcept {
  state::SessionStore& store = Store();
  state::OwnerWord w = store.OwnerOf(idx);
  state::Owner o = state::Unpack(w);
  if (o.state == state::OwnerState::kFree) return {kNoSession, worker_};  // ended meanwhile
  if (o.core == worker_) {
    // Handed to us and not yet accepted from the inbox: the first packet accepts it.
    if (o.state == state::OwnerState::kHandingOff && store.AcceptHandOff(worker_, idx)) {
      counters_.Count(Counter::kSessionsHandOffsAccepted);
      Acquire(idx, now_us);
    }
    return {idx, worker_};
  }
  if (space_.beats().Fenced(o.core)) {
    // Its core was declared dead: whoever meets the session first continues it.
    if (store.TryClaim(worker_, idx, w)) {
      counters_.Count(Counter::kSessionsAdopted);
      Acquire(idx, now_us);
      return {idx, worker_};
    }
    o = state::Unpack(w);  // another core was quicker
  }
  return {idx, o.core};
}

void ProxyEngine::Route(std::span<const SegmentRef> segments, std::span<FlowRoute> out, uint64_t now_us) noexcept {
  constexpr size_t kChunk = 64;
  for (size_t base = 0; base < segments.size(); base += kChunk) {
    const size_t n = std::min(kChunk, segments.size() - base);
    // Keys per side, and where each came from.
    std::array<FlowKey, kChunk> keys[2];
    std::array<uint8_t, kChunk> from[2];
    std::array<uint32_t, kChunk> found;
    size_t count[2] = {0, 0};
    for (size_t i = 0; i < n; ++i) {
      const SegmentRef& r = segments[base + i];
      out[base + i] = {kNoSession, worker_};
      state::Side side;
      FlowKey key;
      if (!Classify(r.port, r.view, r.segment, side, key)) continue;
      const size_t s = size_t(side);
      keys[s][count[s]] = key;
      from[s][count[s]++] = uint8_t(i);
    }
    for (size_t s = 0; s < 2; ++s) {
      if (count[s] == 0) continue;
      if (Store().LookupBulk(state::Side(s), {keys[s].data(), count[s]}, found) == 0) continue;
      for (size_t k = 0; k < count[s]; ++k)
        if (found[k] != kNoSession) out[base + from[s][k]] = Resolve(found[k], now_us);
    }
  }
}

void ProxyEngine::EndPass() noexcept {
  Store().Quiescent(worker_);
  (void)Store().Reclaim(worker_, 64);
}

void ProxyEngine::Offline() noexcept { Store().Offline(worker_); }
void ProxyEngine::Online() noexcept { Store().Online(worker_); }

// ---- Sessions moving between cores --------------------------------------------------

void ProxyEngine::Release(uint32_t idx) noexcept {
  // Counts only: the record itself is the new owner's once the word moves.
  const Session& s = S(idx);
  --active_;
  if (s.half_open) --half_open_;
  // The backend count goes with the session: the new owner counts it on its pool.
  if (s.counted_on_backend) PoolOf(s).OnSessionEnd(s.backend_index);
}

void ProxyEngine::CountIn(uint32_t idx) noexcept {
  const Session& s = S(idx);
  ++active_;
  if (s.half_open) ++half_open_;
  if (s.counted_on_backend) PoolOf(s).OnSessionStart(s.backend_index);
}

void ProxyEngine::ResetMoved(uint32_t idx, uint64_t now_us) noexcept {
  Session& s = S(idx);
  s.counted_on_backend = false;  // its indices are another config's: touch no pool
  CountIn(idx);
  counters_.Count(Counter::kReloadSessionsReset);
  if (s.client.state != TcpState::kClosed) ClientEp(idx).Abort();
  if (s.backend_open && s.backend.state != TcpState::kClosed) BackendEp(idx).Abort();
  EndTls(idx);
  s.scheduled_us = kNoDeadline;
  s.dirty = false;
  Touch(idx, now_us, false);
}

void ProxyEngine::Acquire(uint32_t idx, uint64_t now_us) noexcept {
  Session& s = S(idx);
  // Its listener, pool and backend indices mean something here only if they are of this
  // engine's config generation and not one of the old engine's retired listeners: a
  // session that moves while a reload spreads over the workers cannot be mapped (its
  // listener may be gone), and is reset rather than misrouted.
  if (s.config_generation != generation_ || s.listener >= live_listeners_) return ResetMoved(idx, now_us);
  CountIn(idx);
  if (s.tls && crypto_) {
    const TlsListener& l = *listeners_[s.listener].tls;
    TlsOf(idx).Rebind(l.config.tls13 ? &l.server : nullptr, l.config.tls12 ? &tls12_[s.listener] : nullptr,
                      *crypto_);
  }
  // A stalled core may have died in the middle of a burst: start clean here. Output
  // runs at this pass's Flush, which also arms the session's timers on this core.
  s.scheduled_us = kNoDeadline;
  s.dirty = false;
  Touch(idx, now_us, false);
}

uint32_t ProxyEngine::AdoptFrom(uint16_t dead, state::ScanCursor& cursor, uint32_t max_scan,
                                uint64_t now_us) noexcept {
  std::array<uint32_t, 256> got;
  uint32_t total = 0;
  const uint32_t end = std::min<uint64_t>(uint64_t(cursor.next) + max_scan, space_.capacity());
  while (cursor.next < end) {
    const uint32_t n = Store().AdoptFrom(dead, worker_, cursor, end - cursor.next, got);
    for (uint32_t i = 0; i < n; ++i) Acquire(got[i], now_us);
    counters_.Count(Counter::kSessionsAdopted, n);
    total += n;
    if (n < got.size()) break;
  }
  return total;
}

uint32_t ProxyEngine::HandOffShare(uint16_t to, double share, state::ScanCursor& cursor, uint32_t max_scan,
                                   std::span<uint32_t> out) noexcept {
  // At a pass boundary: nothing of our sessions is in flight. Our counts go first,
  // while the record is still ours to read; the CAS then gives it away.
  const uint32_t end = uint32_t(std::min<uint64_t>(space_.capacity(), uint64_t(cursor.next) + max_scan));
  uint32_t n = 0;
  uint32_t i = cursor.next;
  for (; i < end && n < out.size(); ++i) {
    // Sessions on a listener a reload retired stay home (only this engine has it).
    if (!Mine(i) || !Store().InShare(i, share) || S(i).listener >= live_listeners_) continue;
    Release(i);
    if (Store().HandOff(worker_, i, to)) {
      out[n++] = i;
    } else {  // cannot happen while we are alive and unfenced; keep the counts right
      CountIn(i);
    }
  }
  cursor.next = i;
  counters_.Count(Counter::kSessionsHandedOff, n);
  return n;
}

bool ProxyEngine::AcceptHandOff(uint32_t idx, uint64_t now_us) noexcept {
  if (!Store().AcceptHandOff(worker_, idx)) return false;
  counters_.Count(Counter::kSessionsHandOffsAccepted);
  Acquire(idx, now_us);
  return true;
}

const ProxyEngine::Listener* ProxyEngine::FindListener(uint32_t vip, uint16_t port) const noexcept {
  for (const Listener& l : listeners_)
    if (l.vip == vip && l.port == port) return &l;
  return nullptr;
}

tcp::TcpEndpoint ProxyEngine::ClientEp(uint32_t idx) noexcept {
  const Buffers b = BuffersOf(idx);
  return tcp::TcpEndpoint(S(idx).client, b.client_snd, b.client_rcv);
}

tcp::TcpEndpoint ProxyEngine::BackendEp(uint32_t idx) noexcept {
  const Buffers b = BuffersOf(idx);
  return tcp::TcpEndpoint(S(idx).backend, b.backend_snd, b.backend_rcv);
}

crypto::tls::TlsAcceptor& ProxyEngine::TlsOf(uint32_t idx) noexcept {
  return *std::launder(reinterpret_cast<crypto::tls::TlsAcceptor*>(space_.TlsSlot(idx)));
}

void ProxyEngine::StartTls(uint32_t idx, uint64_t now_us) noexcept {
  Session& s = S(idx);
  const TlsListener& l = *listeners_[s.listener].tls;
  const crypto::tls::Tls12Config& v12 = tls12_[s.listener];
  new (space_.TlsSlot(idx))
      crypto::tls::TlsAcceptor(l.config.tls13 ? &l.server : nullptr, l.config.tls12 ? &v12 : nullptr, *crypto_);
  s.tls = true;
  s.tls_start_us = now_us;
  s.small_records = kSmallRecordsPerBurst;
  s.handshake_deadline_us = now_us + uint64_t(l.config.handshake_timeout_ms) * kUsPerMs;
}

void ProxyEngine::StartTlsSupport() {
  if (!crypto_) crypto_ = crypto::CryptoContext::Create();
  // Kept once made: TLS 1.2 configs point at it.
  if (!tls12_cache_) tls12_cache_ = std::make_unique<crypto::tls::Tls12MemorySessionCache>(kTls12CachedSessions);
}

crypto::tls::Tls12Config ProxyEngine::Tls12For(const TlsListener& t) const noexcept {
  // TLS 1.2 per listener: the shared TLS 1.3 config underneath, and this worker's own
  // session-id cache (ids resume on the worker that issued them; tickets anywhere).
  crypto::tls::Tls12Config c;
  c.base = &t.server;
  if (t.config.tickets_per_handshake != 0) c.ticket_keys = t.tls12_ticket_keys;
  c.session_cache = tls12_cache_.get();
  c.tls13_enabled = t.config.tls13;
  return c;
}

uint64_t ProxyEngine::WallMs(uint64_t now_us) noexcept {
  if (wall_offset_ms_ == 0) {
    // Tickets carry wall-clock times (another box must read them): one clock read ties
    // our monotonic time to it.
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    wall_offset_ms_ = uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000 - now_us / kUsPerMs;
  }
  return wall_offset_ms_ + now_us / kUsPerMs;
}

void ProxyEngine::EndTls(uint32_t idx) noexcept {
  Session& s = S(idx);
  if (!s.tls) return;
  TlsOf(idx).~TlsAcceptor();
  s.tls = false;
}

void ProxyEngine::CountTcpDrop(tcp::TcpDrop d) noexcept {
  if (d == tcp::TcpDrop::kNone) return;
  ++tcp_drops_[tcp::TcpIdx(d)];
  counters_.Drop(DropReason::kTcpRejected);
}

uint32_t ProxyEngine::AllocSession() noexcept {
  uint32_t idx = kNoSession;
  if (Store().Allocate(worker_, idx) != state::StoreStatus::kOk) return kNoSession;  // counted there
  S(idx) = Session{};
  ++active_;
  return idx;
}

void ProxyEngine::EndBackendSession(Session& s) noexcept {
  if (!s.counted_on_backend) return;
  PoolOf(s).OnSessionEnd(s.backend_index);
  s.counted_on_backend = false;
}

void ProxyEngine::FreeSession(uint32_t idx) noexcept {
  Session& s = S(idx);
  CloseBackendFlow(idx);
  EndBackendSession(s);
  EndTls(idx);
  if (s.half_open) --half_open_;
  --active_;
  // Unlinks the flows the record has (only its own) and frees the index after a grace
  // period; stale timer entries fail on the owner word's new epoch.
  (void)Store().Erase(worker_, idx);
  counters_.Count(Counter::kSessionsClosed);
}

void ProxyEngine::ReturnSnatPort(uint16_t port) noexcept {
  // FIFO reuse: a port comes back last, long after the backend forgot the old flow.
  snat_free_[(snat_head_ + snat_count_) % snat_free_.size()] = port;
  ++snat_count_;
}

void ProxyEngine::CloseBackendFlow(uint32_t idx) noexcept {
  Session& s = S(idx);
  if (!s.backend_open) return;
  (void)Store().RemoveKey(worker_, idx, state::Side::kBackend);
  ReturnSnatPort(s.backend_flow.local_port);
  s.backend_open = false;
}

void ProxyEngine::Touch(uint32_t idx, uint64_t now_us, bool activity) noexcept {
  Session& s = S(idx);
  // Idle means no byte either way: pure ACKs and window probes do not count.
  if (activity) s.idle_deadline_us = now_us + uint64_t(settings_.idle_timeout_ms) * kUsPerMs;
  if (!s.dirty) {
    s.dirty = true;
    dirty_.push_back(idx);
  }
}

// ---- Input --------------------------------------------------------------------------

void ProxyEngine::Input(uint16_t port, const TcpView& view, ByteView segment, uint32_t idx, uint64_t now_us,
                        FrameSink& sink) {
  tcp::Segment seg;
  switch (tcp::ParseSegment(segment, seg)) {
    case tcp::ParseStatus::kOk:
      break;
    case tcp::ParseStatus::kTruncatedHeader:
    case tcp::ParseStatus::kBadDataOffset:
      counters_.Drop(DropReason::kTcpShort);
      return;
    default:
      counters_.Drop(DropReason::kTcpBadOptions);
      return;
  }
  if (port == back_ && view.dst_ip == snat_ip_) {
    const FlowKey flow{view.src_ip, view.dst_ip, seg.hdr.src_port, seg.hdr.dst_port};
    // The record may have moved on to another backend flow since Route() found it
    // (a retry in this burst): then this segment's flow is gone.
    if (idx == kNoSession || !S(idx).backend_open || !(S(idx).backend_flow == flow))
      return ResetUnknown(port, view, seg, DropReason::kTcpNoSession, now_us, sink);
    tcp::TcpEndpoint ep = BackendEp(idx);
    CountTcpDrop(ep.Input(seg, now_us).drop);
    OnBackendEvents(idx, now_us);
    Touch(idx, now_us, false);  // bytes moving between the sides count, in Pump()
    return;
  }
  if (port != front_) return ResetUnknown(port, view, seg, DropReason::kTcpNoSession, now_us, sink);

  const FlowKey flow{view.src_ip, view.dst_ip, seg.hdr.src_port, seg.hdr.dst_port};
  if (idx != kNoSession && S(idx).client_flow == flow) {
    tcp::TcpEndpoint ep = ClientEp(idx);
    CountTcpDrop(ep.Input(seg, now_us).drop);
    OnClientEvents(idx, now_us);
    Touch(idx, now_us, false);
    return;
  }
  const Listener* l = FindListener(view.dst_ip, seg.hdr.dst_port);
  const uint8_t f = seg.hdr.flags & (kFlagSyn | kFlagAck | kFlagRst | kFlagFin);
  if (l == nullptr) {
    return ResetUnknown(port, view, seg, f == kFlagSyn ? DropReason::kTcpNoListener : DropReason::kTcpNoSession,
                        now_us, sink);
  }
  if (f == kFlagSyn) return Accept(*l, flow, seg, now_us, sink);
  if (f == kFlagAck || f == (kFlagAck | kFlagFin)) return AcceptCookie(*l, flow, seg, now_us, sink);
  ResetUnknown(port, view, seg, DropReason::kTcpNoSession, now_us, sink);
}

void ProxyEngine::ResetUnknown(uint16_t port, const TcpView& view, const tcp::Segment& seg, DropReason why,
                               uint64_t now_us, FrameSink& sink) {
  counters_.Drop(why);
  // RFC 9293 3.10.7.1: a segment for no connection gets a RST, unless it is one.
  std::array<uint8_t, tcp::kTcpMaxHeaderLen> rst;
  const size_t n = tcp::BuildResetFor(seg, rst);
  if (n == 0) return;
  if (l3_.SendTcp(port, view.dst_ip, view.src_ip, {rst.data(), n}, now_us, sink))
    counters_.Count(Counter::kResetsSent);
}

uint32_t ProxyEngine::NewClientSession(const Listener& l, const FlowKey& flow, uint64_t now_us) noexcept {
  const uint32_t idx = AllocSession();
  if (idx == kNoSession) {
    counters_.Drop(DropReason::kTcpSessionsFull);
    return idx;
  }
  Session& s = S(idx);
  s.client_flow = flow;
  s.config_generation = generation_;
  s.listener = uint16_t(&l - listeners_.data());
  s.pool = l.pool;
  // Refused when another core just created a session for the same flow (its SYN went
  // there too), or when the table's buckets are full.
  if (Store().AddKey(worker_, idx, state::Side::kClient, flow) != state::StoreStatus::kOk) {
    --active_;
    (void)Store().Erase(worker_, idx);
    counters_.Drop(DropReason::kTcpSessionsFull);
    return kNoSession;
  }
  const Buffers b = BuffersOf(idx);
  tcp::TcpEndpoint::Init(s.client, client_tcp_, flow.local_port, flow.remote_port, uint32_t(b.client_snd.size()),
                         uint32_t(b.client_rcv.size()), now_us);
  return idx;
}

void ProxyEngine::Accept(const Listener& l, const FlowKey& flow, const tcp::Segment& syn, uint64_t now_us,
                         FrameSink& sink) {
  const auto local = Be(flow.local_ip), remote = Be(flow.remote_ip);
  if (half_open_ >= settings_.syn_backlog) {
    // RFC 4987 3.6: past the backlog, answer with a cookie and keep no state.
    const tcp::FlowAddrs addrs{local, flow.local_port, remote, flow.remote_port};
    const tcp::SeqNum cookie = tcp::SynCookieIsn(isn_key_, addrs, syn.hdr.seq, syn.opts.mss_bytes, now_us);
    std::array<uint8_t, tcp::kTcpMaxHeaderLen> out;
    const size_t n = tcp::BuildSynCookieSynAck(syn, cookie, client_tcp_.mss_bytes, 65535, out);
    if (n != 0 && l3_.SendTcp(front_, flow.local_ip, flow.remote_ip, {out.data(), n}, now_us, sink))
      counters_.Count(Counter::kSynCookiesSent);
    return;
  }
  const uint32_t idx = NewClientSession(l, flow, now_us);
  if (idx == kNoSession) return;
  S(idx).half_open = true;
  ++half_open_;
  tcp::TcpEndpoint ep = ClientEp(idx);
  ep.Listen(tcp::Rfc6528Isn(isn_key_, local, flow.local_port, remote, flow.remote_port, now_us));
  CountTcpDrop(ep.Input(syn, now_us).drop);
  OnClientEvents(idx, now_us);
  Touch(idx, now_us, true);
}

void ProxyEngine::AcceptCookie(const Listener& l, const FlowKey& flow, const tcp::Segment& ack, uint64_t now_us,
                               FrameSink& sink) {
  const auto local = Be(flow.local_ip), remote = Be(flow.remote_ip);
  const tcp::FlowAddrs addrs{local, flow.local_port, remote, flow.remote_port};
  uint16_t mss = 0;
  // The cookie is our ISN: the ACK acknowledges ISN + 1; the client's ISN is SEQ - 1.
  if (!tcp::SynCookieCheck(isn_key_, addrs, ack.hdr.seq - 1, ack.hdr.ack - 1, now_us, mss)) {
    const TcpView view{flow.remote_ip, flow.local_ip, 0, 0};
    return ResetUnknown(front_, view, ack, DropReason::kTcpNoSession, now_us, sink);
  }
  const uint32_t idx = NewClientSession(l, flow, now_us);
  if (idx == kNoSession) return;
  tcp::TcpEndpoint ep = ClientEp(idx);
  CountTcpDrop(ep.AcceptCookie(ack, mss, now_us).drop);
  counters_.Count(Counter::kSynCookiesAccepted);
  OnClientEvents(idx, now_us);
  Touch(idx, now_us, true);
}

// ---- Events -------------------------------------------------------------------------

void ProxyEngine::OnClientEvents(uint32_t idx, uint64_t now_us) noexcept {
  Session& s = S(idx);
  const uint16_t ev = s.client.events;
  s.client.events = 0;
  if (ev & tcp::kEvConnected) {
    if (s.half_open) {
      s.half_open = false;
      --half_open_;
    }
    counters_.Count(Counter::kSessionsOpened);
    // A TLS session picks its backend once the handshake says which (SNI, ALPN).
    if (listeners_[s.listener].tls != nullptr)
      StartTls(idx, now_us);
    else
      ConnectBackend(idx, now_us);
  }
  if (ev & tcp::kEvPeerFin) s.fin_from_client = true;
  if (ev & (tcp::kEvReset | tcp::kEvTimedOut)) {
    // The client is gone: so is the backend connection (RST tells the backend at once).
    if (s.backend_open && s.backend.state != TcpState::kClosed) BackendEp(idx).Abort();
  }
}

void ProxyEngine::OnBackendEvents(uint32_t idx, uint64_t now_us) noexcept {
  Session& s = S(idx);
  const uint16_t ev = s.backend.events;
  s.backend.events = 0;
  if (ev & tcp::kEvConnected) {
    PoolOf(s).OnConnectSuccess(s.backend_index);  // ends a run of failures (passive marking)
    s.connect_deadline_us = kNoDeadline;
    counters_.Count(Counter::kBackendConnects);
    counters_.Observe(Latency::kBackendConnect, now_us - s.connect_start_us);
  }
  if (ev & tcp::kEvPeerFin) s.fin_from_backend = true;
  if (ev & (tcp::kEvReset | tcp::kEvTimedOut)) {
    if (s.connect_deadline_us != kNoDeadline) return BackendFailed(idx, now_us);  // refused
    if (s.client.state != TcpState::kClosed) ClientEp(idx).Abort();
  }
}

void ProxyEngine::ConnectBackend(uint32_t idx, uint64_t now_us) noexcept {
  Session& s = S(idx);
  lb::Pool& pool = PoolOf(s);
  // Maglev keys on the client address, so a client keeps its backend across sessions.
  const std::optional<uint16_t> pick = pool.Pick(s.client_flow.remote_ip, s.tried_backends);
  if (!pick || snat_count_ == 0) {
    counters_.Drop(!pick ? DropReason::kTcpNoBackend : DropReason::kTcpNoSnatPort);
    ClientEp(idx).Abort();
    return;
  }
  const uint16_t b = *pick;
  const uint32_t be_ip = pool.Backend(b).address.V4HostOrder();
  const uint16_t be_port = pool.Backend(b).port;
  const uint16_t snat_port = snat_free_[snat_head_];
  snat_head_ = (snat_head_ + 1) % uint32_t(snat_free_.size());
  --snat_count_;
  s.backend_flow = FlowKey{be_ip, snat_ip_, be_port, snat_port};
  s.backend_index = b;
  ++s.attempts;
  if (Store().AddKey(worker_, idx, state::Side::kBackend, s.backend_flow) != state::StoreStatus::kOk) {
    ReturnSnatPort(snat_port);  // a stale flow still holds the port
    counters_.Drop(DropReason::kTcpNoSnatPort);
    ClientEp(idx).Abort();
    return;
  }
  s.backend_open = true;
  pool.OnSessionStart(b);
  s.counted_on_backend = true;
  s.proxy_header = listeners_[s.listener].proxy_protocol;
  const Buffers bufs = BuffersOf(idx);
  tcp::TcpEndpoint::Init(s.backend, backend_tcp_, snat_port, be_port, uint32_t(bufs.backend_snd.size()),
                         uint32_t(bufs.backend_rcv.size()), now_us);
  const auto local = Be(snat_ip_), remote = Be(be_ip);
  BackendEp(idx).Connect(tcp::Rfc6528Isn(isn_key_, local, snat_port, remote, be_port, now_us), now_us);
  s.connect_deadline_us = now_us + uint64_t(settings_.connect_timeout_ms) * kUsPerMs;
  s.connect_start_us = now_us;
}

void ProxyEngine::BackendFailed(uint32_t idx, uint64_t now_us) noexcept {
  Session& s = S(idx);
  counters_.Count(Counter::kBackendConnectFailures);
  PoolOf(s).OnConnectFailure(s.backend_index);
  EndBackendSession(s);
  s.tried_backends |= lb::BackendBit(s.backend_index);
  if (s.backend.state != TcpState::kClosed) BackendEp(idx).Abort();
  CloseBackendFlow(idx);
  s.connect_deadline_us = kNoDeadline;
  if (s.attempts < settings_.connect_attempts && s.client.state != TcpState::kClosed) {
    counters_.Count(Counter::kBackendRetries);
    ConnectBackend(idx, now_us);
  } else if (s.client.state != TcpState::kClosed) {
    ClientEp(idx).Abort();
  }
}

// ---- Output, proxying and timers ---------------------------------------------------

void ProxyEngine::Pump(uint32_t idx, uint64_t now_us) noexcept {
  Session& s = S(idx);
  if (!s.backend_open || s.connect_deadline_us != kNoDeadline) return;  // not connected yet
  tcp::TcpEndpoint client = ClientEp(idx);
  tcp::TcpEndpoint backend = BackendEp(idx);
  if (s.proxy_header) {
    // PROXY protocol v2: the backend learns the client's address before any byte.
    std::array<uint8_t, 64> hdr;
    const lb::ProxyAddrs addrs{IpAddr::V4(s.client_flow.remote_ip), IpAddr::V4(s.client_flow.local_ip),
                               s.client_flow.remote_port, s.client_flow.local_port};
    const size_t n = lb::BuildProxyHeader(addrs, hdr);
    if (backend.SendSpace() < n) return;  // a fresh connection always has room
    (void)backend.Send({hdr.data(), n});
    s.proxy_header = false;
  }
  std::array<uint8_t, kPumpChunk> chunk;
  auto move = [&chunk](tcp::TcpEndpoint& from, tcp::TcpEndpoint& to) -> uint64_t {
    uint64_t moved = 0;
    while (Sendable(to.state())) {
      const uint32_t n = std::min({from.Readable(), to.SendSpace(), kPumpChunk});
      if (n == 0) break;
      const uint32_t got = from.Receive({chunk.data(), n});
      const uint32_t put = to.Send({chunk.data(), got});
      moved += put;
      if (put != got) break;  // cannot happen: SendSpace() said it fits
    }
    return moved;
  };
  const uint64_t up = move(client, backend), down = move(backend, client);
  TrackRequest(s.request_start_us, up, down, now_us, counters_);
  counters_.Count(Counter::kBytesClientToBackend, up);
  counters_.Count(Counter::kBytesBackendToClient, down);
  if (up + down != 0) s.idle_deadline_us = now_us + uint64_t(settings_.idle_timeout_ms) * kUsPerMs;
  // Half-close travels once the bytes before it did (RFC 9293 3.6: FIN after the data).
  // Decided on the FIN received, not on the sender's state: that side may already be
  // CLOSED (its own close finished) while its last bytes still wait to move.
  if (!s.fin_to_backend && s.fin_from_client && client.Readable() == 0) {
    backend.Close();
    s.fin_to_backend = true;
  }
  if (!s.fin_to_client && s.fin_from_backend && backend.Readable() == 0) {
    client.Close();
    s.fin_to_client = true;
  }
}

void ProxyEngine::PumpTls(uint32_t idx, uint64_t now_us) noexcept {
  using crypto::tls::TlsStatus;
  Session& s = S(idx);
  crypto::tls::TlsAcceptor& tls = TlsOf(idx);
  tcp::TcpEndpoint client = ClientEp(idx);
  std::optional<tcp::TcpEndpoint> backend;
  if (s.backend_open) backend.emplace(BackendEp(idx));
  const bool backend_ready = backend && s.connect_deadline_us == kNoDeadline && Sendable(backend->state());
  std::array<uint8_t, kTlsMaxRecordBytes> rec;
  uint64_t up = 0, down = 0;

  // Client records in, whole ones only: a record's output then has a known bound, and
  // a partial record stays in the TCP receive ring. Application data waits there until
  // the backend is connected.
  bool starved = false;  // stopped for want of a whole record (not for want of room)
  while (!s.tls_over && Sendable(client.state()) && (!tls.connected() || backend_ready)) {
    std::array<uint8_t, kTlsHeaderBytes> hdr;
    if (client.Peek(hdr) < hdr.size()) {
      starved = true;
      break;
    }
    // A header the record layer refuses (not TLS, oversized) fails on its own, at once.
    crypto::tls::RecordHeader h;
    const bool header_ok = crypto::tls::ParseRecordHeader(hdr, h) == crypto::tls::RecordStatus::kOk;
    const uint32_t want = kTlsHeaderBytes + (header_ok ? h.length : 0);
    if (client.Readable() < want) {
      starved = true;
      break;
    }
    const bool was_connected = tls.connected();
    if (client.SendSpace() < (was_connected ? kTlsReplyRoom : kTlsFlightRoom)) break;
    if (was_connected && backend->SendSpace() < want) break;
    (void)client.Receive({rec.data(), want});
    RingSink to_client(&client), to_backend(was_connected ? &*backend : nullptr);
    const uint32_t before = was_connected ? backend->SendSpace() : 0;
    tls.set_now_ms(WallMs(now_us));
    const TlsStatus st = tls.Input({rec.data(), want}, to_client, to_backend);
    if (was_connected) up += before - backend->SendSpace();
    if (st == TlsStatus::kFailed) {
      counters_.Count(was_connected ? Counter::kTlsSessionFailures : Counter::kTlsHandshakeFailures);
      s.tls_over = true;
      client.Close();  // after the alert
      if (backend && backend->state() != TcpState::kClosed) backend->Abort();
      break;
    }
    if (st == TlsStatus::kClosed) {
      counters_.Count(Counter::kTlsCloseNotifies);
      s.tls_over = true;
      s.fin_from_client = true;  // close_notify ends the client's data (TLS 1.3 half-close)
      break;
    }
    if (!was_connected && tls.connected()) {
      counters_.Count(Counter::kTlsHandshakes);
      counters_.Observe(Latency::kTlsHandshake, now_us - s.tls_start_us);
      if (tls.resumed()) counters_.Count(Counter::kTlsResumed);
      if (tls.version() == crypto::tls::kTls12) counters_.Count(Counter::kTls12Handshakes);
      s.handshake_deadline_us = kNoDeadline;
      const Listener& l = listeners_[s.listener];
      s.pool = l.tls->PoolFor(tls.sni(), tls.alpn(), l.pool);
      ConnectBackend(idx, now_us);
      return;  // the backend connects; this runs again when it did
    }
  }
  // Bytes after a fatal alert or close_notify are read and dropped, so the client's
  // window does not stay shut while it finishes.
  if (s.tls_over) {
    while (client.Readable() > 0) (void)client.Receive(rec);
    starved = true;
  }

  // Backend bytes out, sealed.
  if (backend_ready && tls.connected() && Sendable(client.state())) {
    if (now_us - s.last_to_client_us >= kBurstGapUs) s.small_records = kSmallRecordsPerBurst;
    const uint32_t small = std::max<uint32_t>(s.client.snd_mss_bytes, 2 * kTlsRecordOverhead) - kTlsRecordOverhead;
    while (backend->Readable() > 0) {
      const uint32_t size = s.small_records > 0 ? small : kTlsMaxPlainBytes;
      const uint32_t n = std::min(backend->Readable(), size);
      // A short record while a whole one still waits for the client's ACKs would only
      // add overhead: the rest of it waits for more backend bytes or for those ACKs
      // (which run this again), whichever comes first.
      if (n < size && client.Unacked() >= kTlsMaxPlainBytes) break;
      if (client.SendSpace() < n + kTlsRecordOverhead) break;
      (void)backend->Receive({rec.data(), n});
      RingSink to_client(&client);
      if (tls.WriteApp({rec.data(), n}, to_client) != TlsStatus::kOk) {
        counters_.Count(Counter::kTlsSessionFailures);
        s.tls_over = true;
        client.Close();
        backend->Abort();
        break;
      }
      down += n;
      s.last_to_client_us = now_us;
      if (s.small_records > 0) --s.small_records;
    }
  }
  TrackRequest(s.request_start_us, up, down, now_us, counters_);
  counters_.Count(Counter::kBytesClientToBackend, up);
  counters_.Count(Counter::kBytesBackendToClient, down);
  if (up + down != 0) s.idle_deadline_us = now_us + uint64_t(settings_.idle_timeout_ms) * kUsPerMs;

  // Half-closes. The client's end of data (close_notify, or a FIN with no whole record
  // left) goes to the backend as a FIN; the backend's FIN, once its bytes are sealed,
  // becomes close_notify and our FIN.
  if (!s.fin_to_backend && s.fin_from_client && starved) {
    if (backend_ready) {
      backend->Close();
      s.fin_to_backend = true;
    } else if (!s.backend_open && client.state() != TcpState::kClosed) {
      client.Close();  // the client left before the handshake finished
      s.fin_to_backend = true;
    }
  }
  if (!s.fin_to_client && s.fin_from_backend && backend && backend->Readable() == 0 &&
      client.SendSpace() >= kTlsReplyRoom) {
    if (tls.connected()) {
      RingSink to_client(&client);
      (void)tls.Close(to_client);
    }
    client.Close();
    s.fin_to_client = true;
  }
}

void ProxyEngine::OutputSession(uint32_t idx, uint64_t now_us, FrameSink& sink) noexcept {
  Session& s = S(idx);
  if (s.tls)
    PumpTls(idx, now_us);
  else
    Pump(idx, now_us);
  {
    Emitter out(l3_, front_, s.client_flow.local_ip, s.client_flow.remote_ip, now_us, sink);
    ClientEp(idx).Output(now_us, out);
  }
  if (s.backend_open) {
    Emitter out(l3_, back_, snat_ip_, s.backend_flow.remote_ip, now_us, sink);
    BackendEp(idx).Output(now_us, out);
  }
  const bool client_done = s.client.state == TcpState::kClosed;
  const bool backend_done = !s.backend_open || s.backend.state == TcpState::kClosed;
  // A backend connection in TIME-WAIT carries no more load: least-connections stops
  // counting it then, not when TIME-WAIT ends.
  if (s.backend_open && (s.backend.state == TcpState::kTimeWait || backend_done)) EndBackendSession(s);
  if (client_done && backend_done) return FreeSession(idx);
  if (client_done && s.backend_open && s.backend.state != TcpState::kClosed &&
      s.connect_deadline_us != kNoDeadline) {
    // Client left while we were still connecting: no reason to finish.
    BackendEp(idx).Abort();
  }

  uint64_t deadline = std::min({s.connect_deadline_us, s.idle_deadline_us, s.handshake_deadline_us});
  if (s.client.state != TcpState::kClosed) deadline = std::min(deadline, ClientEp(idx).NextDeadline());
  if (s.backend_open && s.backend.state != TcpState::kClosed)
    deadline = std::min(deadline, BackendEp(idx).NextDeadline());
  if (deadline < s.scheduled_us) Schedule(idx, deadline);
}

void ProxyEngine::Schedule(uint32_t idx, uint64_t deadline_us) noexcept {
  S(idx).scheduled_us = deadline_us;
  const uint32_t capacity = space_.capacity();
  if (timers_.size() >= 2 * size_t(capacity) + 64) {
    // Compaction: keep one entry per session of ours. The vector never grows past its
    // reserved size, so this path allocates nothing.
    timers_.clear();
    for (uint32_t i = 0; i < capacity; ++i) {
      if (i == idx || !Mine(i) || S(i).scheduled_us == kNoDeadline) continue;
      timers_.push_back({S(i).scheduled_us, i, state::Unpack(Store().OwnerOf(i)).epoch});
    }
    std::make_heap(timers_.begin(), timers_.end(), std::greater<>());
  }
  timers_.push_back({deadline_us, idx, state::Unpack(Store().OwnerOf(idx)).epoch});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
}

void ProxyEngine::Flush(uint64_t now_us, FrameSink& sink) {
  // OutputSession may dirty other sessions: never, today; index loop stays safe anyway.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    const uint32_t idx = dirty_[i];
    // Still ours: between Touch() and here nothing moves a live core's records, but
    // the check is one load of the record's first cache line.
    if (!Mine(idx)) continue;
    S(idx).dirty = false;
    OutputSession(idx, now_us, sink);
  }
  dirty_.clear();
}

void ProxyEngine::Advance(uint64_t now_us, FrameSink& sink) {
  while (!timers_.empty() && timers_.front().deadline_us <= now_us) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    const TimerEntry t = timers_.back();
    timers_.pop_back();
    const state::Owner o = state::Unpack(Store().OwnerOf(t.session));
    if (o.core != worker_ || o.state != state::OwnerState::kOwned || o.epoch != t.epoch) continue;  // stale
    Session& s = S(t.session);
    if (s.scheduled_us != t.deadline_us) continue;  // superseded by an earlier one
    s.scheduled_us = kNoDeadline;
    if (now_us >= s.idle_deadline_us) {
      counters_.Count(Counter::kIdleTimeouts);
      if (s.client.state != TcpState::kClosed) ClientEp(t.session).Abort();
      if (s.backend_open && s.backend.state != TcpState::kClosed) BackendEp(t.session).Abort();
    } else if (now_us >= s.handshake_deadline_us) {
      counters_.Count(Counter::kTlsHandshakeTimeouts);
      s.handshake_deadline_us = kNoDeadline;
      s.tls_over = true;
      if (s.client.state != TcpState::kClosed) ClientEp(t.session).Abort();
    } else {
      if (s.client.state != TcpState::kClosed) {
        ClientEp(t.session).OnTimer(now_us);
        OnClientEvents(t.session, now_us);
      }
      if (s.backend_open && s.backend.state != TcpState::kClosed) {
        BackendEp(t.session).OnTimer(now_us);
        OnBackendEvents(t.session, now_us);
      }
      if (s.connect_deadline_us <= now_us) BackendFailed(t.session, now_us);
    }
    if (!s.dirty) {
      s.dirty = true;
      dirty_.push_back(t.session);
    }
  }
  Flush(now_us, sink);
}

}  // namespace baton::dp
