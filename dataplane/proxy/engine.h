// The L4/TLS proxy of one worker core, sans-IO: TCP segments for VIPs and for our SNAT
// address come in with the time, segments go out through the L3 stack. The sessions
// live in the process's shared SessionSpace; this engine runs the ones whose owner word
// names its core, keeps their timers, and can take over sessions of another core: ones
// a stalled core left (AdoptFrom, or on the first packet that meets them) and ones a
// rebalance hands to it (HandOffShare on the old core, AcceptHandOff on the new).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "crypto/aead.h"
#include "crypto/tls/acceptor.h"
#include "crypto/tls/server12.h"
#include "crypto/tls/session12.h"

#include "dataplane/api/config.h"
#include "dataplane/net/counters.h"
#include "dataplane/lb/pool.h"
#include "dataplane/net/l3_stack.h"
#include "dataplane/proxy/flow_table.h"
#include "dataplane/proxy/session.h"
#include "dataplane/proxy/session_space.h"
#include "dataplane/proxy/tls_listeners.h"
#include "dataplane/tcp/isn.h"

namespace baton::dp {

inline constexpr uint32_t kNoSession = state::SessionStore::kNone;

// One TCP segment L3 validated, for Route().
struct SegmentRef {
  uint16_t port = 0;
  TcpView view;
  ByteView segment;
};

// Where a segment goes: the core that owns its session (this one for new and unknown
// flows), and the session's record index (kNoSession: none).
struct FlowRoute {
  uint32_t idx = kNoSession;
  uint16_t owner = 0;
};

class ProxyEngine {
 public:
  // `front`/`back`: our port numbers for those roles. `worker` is this engine's core id
  // in `space` (one engine per worker, all sharing `space`, which outlives them). The
  // SNAT ports start split between the workers; a port travels with its session.
  // `tls`: the loaded certificates of the TLS listeners (shared by the workers, outlives
  // the engine); without it, TLS listeners are left out.
  ProxyEngine(const ConfigSnapshot& config, uint16_t front, uint16_t back, uint16_t worker,
              uint16_t workers, L3Stack& l3, DpCounters& counters, const tcp::IsnKey& isn_key,
              SessionSpace& space, const TlsListeners* tls = nullptr);
  ~ProxyEngine();
  ProxyEngine(const ProxyEngine&) = delete;
  ProxyEngine& operator=(const ProxyEngine&) = delete;

  // Looks the segments' flows up in the shared tables (bulk) and says who owns each.
  // Sessions handed to this core, or left by a core declared dead, become this core's
  // here (first packet wins). Indices are good until the next EndPass().
  void Route(std::span<const SegmentRef> segments, std::span<FlowRoute> out, uint64_t now_us) noexcept;
  // One TCP segment, received on `port`, whose Route() said this core; `idx` is the
  // session it found (kNoSession: none).
  void Input(uint16_t port, const TcpView& view, ByteView segment, uint32_t idx, uint64_t now_us,
             FrameSink& sink);
  // End of a burst: moves bytes between the two sides of every session touched and
  // sends what is due.
  void Flush(uint64_t now_us, FrameSink& sink);
  // Timers (retransmission, delayed ACK, connect and idle timeouts); then Flush().
  void Advance(uint64_t now_us, FrameSink& sink);

  // At every pass boundary (no index from an earlier Route() is held any more):
  // quiescent state for the shared tables, and reclamation of freed records.
  void EndPass() noexcept;
  // Around idle sleeps: an offline core holds up no reclamation.
  void Offline() noexcept;
  void Online() noexcept;

  // ---- Taking sessions over (between bursts) ----------------------------------------
  // Claims up to a scan of `max_scan` records of `dead` (fenced, see Heartbeats) and
  // continues them here; returns how many. Done when cursor.next == capacity.
  uint32_t AdoptFrom(uint16_t dead, state::ScanCursor& cursor, uint32_t max_scan, uint64_t now_us) noexcept;
  // Rebalance, old owner's side: releases to core `to` this core's sessions whose client
  // flow hash lies in the lowest `share` of the hash space, scanning `max_scan` records;
  // their indices go to `out` (to be posted to `to`). Returns how many.
  uint32_t HandOffShare(uint16_t to, double share, state::ScanCursor& cursor, uint32_t max_scan,
                        std::span<uint32_t> out) noexcept;
  // Rebalance, new owner's side, for an index posted by the old owner. False when the
  // record is not (or no longer) handed to this core, e.g. taken at its first packet.
  bool AcceptHandOff(uint32_t idx, uint64_t now_us) noexcept;

  uint32_t ActiveSessions() const noexcept { return active_; }
  uint16_t worker() const noexcept { return worker_; }
  const std::array<uint64_t, tcp::TcpIdx(tcp::TcpDrop::kCount)>& TcpDrops() const noexcept {
    return tcp_drops_;
  }
  const std::vector<lb::Pool>& Pools() const noexcept { return pools_; }
  // -- backend admin (dataplane/worker.cc ApplyAdmin) --
  // Control path on this worker, between bursts: admin state, weights, availability.
  std::vector<lb::Pool>& MutablePools() noexcept { return pools_; }
  // -- end backend admin --

  // -- live reload (engine_reconfigure.cc) --
  // Control path on this worker, between bursts: switches listeners, pools and TLS
  // listeners from `from`/`from_tls` (what the engine runs now) to `to`/`to_tls`
  // (config generation `generation`), and remaps every session it owns
  // (config_remap.h). Both TlsListeners must outlive the engine.
  void Reconfigure(const ConfigSnapshot& from, const TlsListeners* from_tls, const ConfigSnapshot& to,
                   const TlsListeners* to_tls, uint32_t generation, uint64_t now_us);
  // -- end live reload --

 private:
  struct Listener {
    uint32_t vip = 0;
    uint16_t port = 0;
    uint16_t pool = 0;
    bool proxy_protocol = false;
    const TlsListener* tls = nullptr;  // TLS termination on this listener
  };
  // `epoch`: the owner word's epoch when the entry was pushed; any change of owner (or
  // freeing the record) makes the entry stale.
  struct TimerEntry {
    uint64_t deadline_us;
    uint32_t session;
    uint32_t epoch;
    bool operator>(const TimerEntry& o) const noexcept { return deadline_us > o.deadline_us; }
  };
  using Buffers = SessionSpace::Buffers;

  // Every session this core owns as f(index, Session&) (a scan of the shared table).
  template <class F>
  void ForEachSession(F f) {
    const uint32_t capacity = space_.capacity();
    for (uint32_t i = 0; i < capacity; ++i)
      if (Mine(i)) f(i, S(i));
  }
  // A session that cannot continue here (moved across a reload): both sides reset.
  void ResetMoved(uint32_t idx, uint64_t now_us) noexcept;

  const Listener* FindListener(uint32_t vip, uint16_t port) const noexcept;
  void Accept(const Listener& l, const FlowKey& flow, const tcp::Segment& syn, uint64_t now_us,
              FrameSink& sink);
  void AcceptCookie(const Listener& l, const FlowKey& flow, const tcp::Segment& ack, uint64_t now_us,
                    FrameSink& sink);
  void ResetUnknown(uint16_t port, const TcpView& view, const tcp::Segment& seg, DropReason why,
                    uint64_t now_us, FrameSink& sink);
  Session& S(uint32_t idx) noexcept { return space_.At(idx); }
  state::SessionStore& Store() noexcept { return space_.store(); }
  // The record is this core's to run (kOwned by worker_).
  bool Mine(uint32_t idx) const noexcept;
  // Which side's table a segment's flow belongs to; false: neither (not for a session).
  bool Classify(uint16_t port, const TcpView& view, ByteView segment, state::Side& side,
                FlowKey& key) const noexcept;
  // Resolves the owner of a looked-up record (claiming it when it is ours to take).
  FlowRoute Resolve(uint32_t idx, uint64_t now_us) noexcept;
  // Bookkeeping of a session that moves between cores: Release() on the old owner
  // (before the owner word moves), Acquire() on the new one (after it moved).
  void Release(uint32_t idx) noexcept;
  void Acquire(uint32_t idx, uint64_t now_us) noexcept;
  void CountIn(uint32_t idx) noexcept;  // Release()'s inverse, counts only
  uint64_t WallMs(uint64_t now_us) noexcept;
  // TLS on this engine: its CryptoContext and TLS 1.2 session-id cache (once), and the
  // TLS 1.2 config of a listener on top of its TLS 1.3 one.
  void StartTlsSupport();
  crypto::tls::Tls12Config Tls12For(const TlsListener& t) const noexcept;
  void ReturnSnatPort(uint16_t port) noexcept;
  uint32_t AllocSession() noexcept;
  // A session for a new client flow with its client connection initialised, or kNone
  // (counted) when the table is full.
  uint32_t NewClientSession(const Listener& l, const FlowKey& flow, uint64_t now_us) noexcept;
  void FreeSession(uint32_t idx) noexcept;
  Buffers BuffersOf(uint32_t idx) const noexcept { return space_.BuffersOf(idx); }
  tcp::TcpEndpoint ClientEp(uint32_t idx) noexcept;
  tcp::TcpEndpoint BackendEp(uint32_t idx) noexcept;

  void OnClientEvents(uint32_t idx, uint64_t now_us) noexcept;
  void OnBackendEvents(uint32_t idx, uint64_t now_us) noexcept;
  void ConnectBackend(uint32_t idx, uint64_t now_us) noexcept;
  void BackendFailed(uint32_t idx, uint64_t now_us) noexcept;
  void CloseBackendFlow(uint32_t idx) noexcept;
  lb::Pool& PoolOf(const Session& s) noexcept { return pools_[s.pool]; }
  void EndBackendSession(Session& s) noexcept;
  void Pump(uint32_t idx, uint64_t now_us) noexcept;
  // TLS sessions: client records through the TLS server to the backend, backend bytes
  // sealed into records for the client, close_notify and alerts.
  void PumpTls(uint32_t idx, uint64_t now_us) noexcept;
  crypto::tls::TlsAcceptor& TlsOf(uint32_t idx) noexcept;
  void StartTls(uint32_t idx, uint64_t now_us) noexcept;
  void EndTls(uint32_t idx) noexcept;
  // Marks the session for output this burst; `activity` restarts its idle timer.
  void Touch(uint32_t idx, uint64_t now_us, bool activity) noexcept;
  void OutputSession(uint32_t idx, uint64_t now_us, FrameSink& sink) noexcept;
  void CountTcpDrop(tcp::TcpDrop d) noexcept;
  void Schedule(uint32_t idx, uint64_t deadline_us) noexcept;

  const uint16_t front_, back_, worker_, workers_;
  L3Stack& l3_;
  DpCounters& counters_;
  tcp::IsnKey isn_key_;
  TcpSettings settings_;
  uint32_t snat_ip_ = 0;
  tcp::TcpConfig client_tcp_, backend_tcp_;
  std::vector<Listener> listeners_;  // [0, live_listeners_): the config's; then retired ones (reload)
  uint16_t live_listeners_ = 0;
  uint32_t generation_ = 1;  // the config generation listeners_ and pools_ are from
  std::vector<lb::Pool> pools_;

  SessionSpace& space_;
  uint32_t active_ = 0;     // sessions this core owns
  uint32_t half_open_ = 0;  // of which client handshakes not done
  // FIFO ring of free source ports (late reuse), with room for the whole range: ports of
  // sessions taken over from other cores come back here when those sessions end.
  std::vector<uint16_t> snat_free_;
  uint32_t snat_head_ = 0, snat_count_ = 0;
  std::vector<uint32_t> dirty_;
  // Min-heap (std::push_heap with std::greater). A session pushes an entry whenever its
  // deadline moves earlier; stale entries are skipped when they pop, and the heap is
  // rebuilt from the sessions when stale ones pile up, so it stays O(sessions).
  std::vector<TimerEntry> timers_;
  std::array<uint64_t, tcp::TcpIdx(tcp::TcpDrop::kCount)> tcp_drops_{};

  // TLS: one TlsAcceptor (TLS 1.3 or 1.2 by the ClientHello) per session, constructed in
  // the session's TLS slot of the SessionSpace when its client connects; a core that
  // takes the session over rebinds it to its own configs and CryptoContext.
  std::optional<crypto::CryptoContext> crypto_;
  std::vector<crypto::tls::Tls12Config> tls12_;  // per listener; sized once, never moved
  // The tls12_ of earlier configs: TLS sessions begun then point into them (Reconfigure).
  std::deque<std::vector<crypto::tls::Tls12Config>> retired_tls12_;
  std::unique_ptr<crypto::tls::Tls12MemorySessionCache> tls12_cache_;
  uint64_t wall_offset_ms_ = 0;  // Unix ms minus our monotonic ms, for ticket times
};

}  // namespace baton::dp
