// The L4 proxy of one worker, sans-IO: TCP segments for VIPs and for our SNAT address
// come in with the time, segments go out through the L3 stack. It owns the sessions
// (client connection + backend connection), their flows, buffers and timers.
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
#include "dataplane/proxy/tls_listeners.h"
#include "dataplane/tcp/isn.h"

namespace baton::dp {

class ProxyEngine {
 public:
  // `front`/`back`: our port numbers for those roles. Per-worker: SNAT ports are split
  // between workers so that a backend's reply names its owner.
  // `tls`: the loaded certificates of the TLS listeners (shared by the workers, outlives
  // the engine); without it, TLS listeners are left out.
  ProxyEngine(const ConfigSnapshot& config, uint16_t front, uint16_t back, uint16_t worker,
              uint16_t workers, L3Stack& l3, DpCounters& counters, const tcp::IsnKey& isn_key,
              const TlsListeners* tls = nullptr);
  ~ProxyEngine();
  ProxyEngine(const ProxyEngine&) = delete;
  ProxyEngine& operator=(const ProxyEngine&) = delete;

  // Which worker owns the flow of this segment: client flows by a hash of the 4-tuple,
  // backend flows by the SNAT port. Same answer on every worker.
  uint16_t OwnerOf(const TcpView& view, ByteView segment) const noexcept;

  // One TCP segment that L3 validated, received on `port`.
  void Input(uint16_t port, const TcpView& view, ByteView segment, uint64_t now_us, FrameSink& sink);
  // End of a burst: moves bytes between the two sides of every session touched and
  // sends what is due.
  void Flush(uint64_t now_us, FrameSink& sink);
  // Timers (retransmission, delayed ACK, connect and idle timeouts); then Flush().
  void Advance(uint64_t now_us, FrameSink& sink);

  uint32_t ActiveSessions() const noexcept { return active_; }
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
  // listeners from `from`/`from_tls` (what the engine runs now) to `to`/`to_tls`, and
  // remaps every live session (config_remap.h). Both TlsListeners must outlive the engine.
  void Reconfigure(const ConfigSnapshot& from, const TlsListeners* from_tls, const ConfigSnapshot& to,
                   const TlsListeners* to_tls, uint64_t now_us);
  // -- end live reload --

 private:
  struct Listener {
    uint32_t vip = 0;
    uint16_t port = 0;
    uint16_t pool = 0;
    bool proxy_protocol = false;
    const TlsListener* tls = nullptr;  // TLS termination on this listener
  };
  struct TimerEntry {
    uint64_t deadline_us;
    uint32_t session;
    uint16_t generation;
    bool operator>(const TimerEntry& o) const noexcept { return deadline_us > o.deadline_us; }
  };
  // The four byte rings of a session, in its slot of the buffer area.
  struct Buffers {
    std::span<uint8_t> client_snd, client_rcv, backend_snd, backend_rcv;
  };

  // Every live session as f(index, Session&): the one walk over the table reload code
  // makes (the shared SessionStore re-implements it).
  template <class F>
  void ForEachSession(F f) {
    for (uint32_t i = 0; i < sessions_.size(); ++i)
      if (sessions_[i].in_use) f(i, sessions_[i]);
  }

  const Listener* FindListener(uint32_t vip, uint16_t port) const noexcept;
  void Accept(const Listener& l, const FlowKey& flow, const tcp::Segment& syn, uint64_t now_us,
              FrameSink& sink);
  void AcceptCookie(const Listener& l, const FlowKey& flow, const tcp::Segment& ack, uint64_t now_us,
                    FrameSink& sink);
  void ResetUnknown(uint16_t port, const TcpView& view, const tcp::Segment& seg, DropReason why,
                    uint64_t now_us, FrameSink& sink);
  uint32_t AllocSession() noexcept;
  // A session for a new client flow with its client connection initialised, or kNone
  // (counted) when the table is full.
  uint32_t NewClientSession(const Listener& l, const FlowKey& flow, uint64_t now_us) noexcept;
  void FreeSession(uint32_t idx) noexcept;
  Buffers BuffersOf(uint32_t idx) const noexcept;
  tcp::TcpEndpoint ClientEp(uint32_t idx) noexcept;
  tcp::TcpEndpoint BackendEp(uint32_t idx) noexcept;

  void OnClientEvents(uint32_t idx, uint64_t now_us) noexcept;
  void OnBackendEvents(uint32_t idx, uint64_t now_us) noexcept;
  void ConnectBackend(uint32_t idx, uint64_t now_us) noexcept;
  void BackendFailed(uint32_t idx, uint64_t now_us) noexcept;
  void CloseBackendFlow(Session& s) noexcept;
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
  std::vector<Listener> listeners_;
  std::vector<lb::Pool> pools_;

  std::vector<Session> sessions_;
  uint32_t free_head_ = 0;
  uint32_t active_ = 0;
  uint32_t half_open_ = 0;
  uint8_t* buffer_area_ = nullptr;  // sessions x 4 rings, mapped lazily by the kernel
  size_t buffer_area_bytes_ = 0;
  FlowTable client_flows_, backend_flows_;
  std::vector<uint16_t> snat_free_;  // FIFO ring of free source ports (late reuse)
  uint32_t snat_head_ = 0, snat_count_ = 0;
  std::vector<uint32_t> dirty_;
  // Min-heap (std::push_heap with std::greater). A session pushes an entry whenever its
  // deadline moves earlier; stale entries are skipped when they pop, and the heap is
  // rebuilt from the sessions when stale ones pile up, so it stays O(sessions).
  std::vector<TimerEntry> timers_;
  std::array<uint64_t, tcp::TcpIdx(tcp::TcpDrop::kCount)> tcp_drops_{};

  // TLS: one TlsAcceptor (TLS 1.3 or 1.2 by the ClientHello) per session slot,
  // constructed in place when a TLS session's client connects, in virtual memory the
  // kernel backs on first touch.
  std::optional<crypto::CryptoContext> crypto_;
  std::vector<crypto::tls::Tls12Config> tls12_;  // per listener; sized once, never moved
  // The tls12_ of earlier configs: TLS sessions begun then point into them (Reconfigure).
  std::deque<std::vector<crypto::tls::Tls12Config>> retired_tls12_;
  std::unique_ptr<crypto::tls::Tls12MemorySessionCache> tls12_cache_;
  uint64_t wall_offset_ms_ = 0;  // Unix ms minus our monotonic ms, for ticket times
  uint8_t* tls_area_ = nullptr;
  size_t tls_area_bytes_ = 0;
};

}  // namespace baton::dp
