// ProxyEngine::Reconfigure: a live reload on one worker (docs/CONFIG.md "Live reload").
// Kept apart from engine.cc: it touches the engine's tables only through ForEachSession
// and the per-session helpers, so the session table can change underneath it.
#include <algorithm>
#include <utility>

#include "dataplane/proxy/config_remap.h"
#include "dataplane/proxy/engine.h"

namespace baton::dp {

void ProxyEngine::Reconfigure(const ConfigSnapshot& from, const TlsListeners* from_tls, const ConfigSnapshot& to,
                              const TlsListeners* to_tls, uint32_t generation, uint64_t now_us) {
  // CONTROL-PATH EXCEPTION (on a worker): this allocates (pools, Maglev tables, the
  // listener list) and may take a few ms; reloads are rare and run between bursts.
  const ConfigRemap remap = BuildRemap(from, from_tls, to, to_tls);

  // Pools: built afresh; a backend that stays keeps its counters and health.
  std::vector<lb::Pool> pools(to.pools.size());
  for (size_t p = 0; p < to.pools.size(); ++p) (void)pools[p].Init(to.pools[p]);  // checked by the loader
  for (size_t p = 0; p < pools_.size() && p < remap.pool.size(); ++p) {
    if (remap.pool[p] == kGone) continue;
    for (uint16_t b = 0; b < pools_[p].Size() && b < remap.backend[p].size(); ++b) {
      const uint16_t nb = remap.backend[p][b];
      if (nb != kGone) pools[remap.pool[p]].CarryOver(nb, pools_[p].Counters()[b], pools_[p].Backend(b).available);
    }
  }

  // Listeners, in the order EngineListeners() gives (the remap's indices). A new VIP
  // becomes one of the front port's addresses; a VIP no listener uses any more stays one
  // (answered for ARP and ping, its SYNs reset) until restart.
  std::vector<Listener> listeners;
  for (uint16_t i : EngineListeners(to, to_tls)) {
    const ListenerConfig& l = to.listeners[i];
    l3_.AddLocalAddress(front_, l.vip.V4HostOrder());
    listeners.push_back({l.vip.V4HostOrder(), l.port, l.pool, l.proxy_protocol, to_tls ? to_tls->For(i) : nullptr});
  }
  const bool any_tls = std::any_of(listeners.begin(), listeners.end(), [](const Listener& l) { return l.tls; });
  if (any_tls) StartTlsSupport();  // the engine's first TLS listener may come with a reload
  if (any_tls && (!crypto_ || space_.TlsSlot(0) == nullptr)) {
    // No TLS possible on this worker: its TLS listeners take no SYN (VIP 0.0.0.0 is never
    // one of our addresses, so no segment finds them).
    for (Listener& l : listeners)
      if (l.tls != nullptr) l.vip = 0, l.port = 0;
  }

  // Sessions. A session whose listener is gone keeps a retired copy of it: the old
  // entry with VIP 0.0.0.0 and port 0, which no segment finds (L3 never delivers to
  // 0.0.0.0), kept for what the session may still read of it (PROXY protocol on a retry,
  // its TLS 1.2 config).
  const size_t live_listeners = listeners.size();
  std::vector<uint16_t> retired(listeners_.size(), kGone);  // old index -> retired entry
  std::vector<crypto::tls::Tls12Config> retired_v12;
  std::vector<std::pair<uint32_t, Session*>> reconnect, reset;  // handled once the new tables are in
  ForEachSession([&](uint32_t idx, Session& s) {
    const SessionRemap r = RemapSession(remap, s);
    uint16_t listener = r.listener;
    if (listener == kGone && s.listener < listeners_.size()) {
      if (retired[s.listener] == kGone) {
        Listener old = listeners_[s.listener];
        old.vip = 0;
        old.port = 0;
        old.pool = r.pool;
        retired[s.listener] = uint16_t(listeners.size());
        listeners.push_back(old);
        retired_v12.push_back(s.listener < tls12_.size() ? tls12_[s.listener] : crypto::tls::Tls12Config{});
      }
      listener = retired[s.listener];
    }
    s.listener = listener;
    s.pool = r.pool;
    s.backend_index = r.backend_index;
    s.tried_backends = r.tried_backends;
    s.counted_on_backend = r.counted_on_backend;
    s.config_generation = generation;
    if (r.fate == SessionFate::kReconnect) reconnect.emplace_back(idx, &s);
    if (r.fate == SessionFate::kReset) reset.emplace_back(idx, &s);
  });

  // Per-listener TLS 1.2 configs. The current ones stay alive (retired_tls12_): TLS
  // sessions started under them hold pointers into them.
  std::vector<crypto::tls::Tls12Config> tls12;
  if (any_tls || !retired_v12.empty()) {
    tls12.resize(listeners.size());
    for (size_t i = 0; i < live_listeners; ++i)
      if (listeners[i].tls != nullptr) tls12[i] = Tls12For(*listeners[i].tls);
    std::copy(retired_v12.begin(), retired_v12.end(), tls12.begin() + ptrdiff_t(live_listeners));
  }
  if (!tls12_.empty()) retired_tls12_.push_back(std::move(tls12_));
  tls12_ = std::move(tls12);
  listeners_ = std::move(listeners);
  live_listeners_ = uint16_t(live_listeners);
  generation_ = generation;
  pools_ = std::move(pools);

  for (auto [idx, session] : reset) {
    Session& s = *session;
    counters_.Count(Counter::kReloadSessionsReset);
    if (s.client.state != tcp::TcpState::kClosed) ClientEp(idx).Abort();
    if (s.backend_open && s.backend.state != tcp::TcpState::kClosed) BackendEp(idx).Abort();
    Touch(idx, now_us, false);
  }
  for (auto [idx, session] : reconnect) {
    // The attempt was still in SYN-SENT (nothing to reset: RFC 9293 3.10.5 sends a RST
    // only from synchronized states); its flow and SNAT port go back, a new one starts.
    Session& s = *session;
    counters_.Count(Counter::kReloadReconnects);
    CloseBackendFlow(idx);
    s.connect_deadline_us = tcp::kNoDeadline;
    if (s.client.state != tcp::TcpState::kClosed) ConnectBackend(idx, now_us);
    Touch(idx, now_us, false);
  }
}

}  // namespace baton::dp
