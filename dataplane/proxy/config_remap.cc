#include "dataplane/proxy/config_remap.h"

#include <string>

#include "dataplane/proxy/tls_listeners.h"

namespace baton::dp {

std::vector<uint16_t> EngineListeners(const ConfigSnapshot& config, const TlsListeners* tls) {
  std::vector<uint16_t> out;
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const bool tls_ok = tls != nullptr && tls->For(i) != nullptr;
    if (config.listeners[i].mode == ListenerMode::kTls && !tls_ok) continue;
    out.push_back(uint16_t(i));
  }
  return out;
}

ConfigRemap BuildRemap(const ConfigSnapshot& from, const TlsListeners* from_tls, const ConfigSnapshot& to,
                       const TlsListeners* to_tls) {
  ConfigRemap m;
  const std::vector<uint16_t> old_l = EngineListeners(from, from_tls), new_l = EngineListeners(to, to_tls);
  for (uint16_t o : old_l) {
    const ListenerConfig& a = from.listeners[o];
    uint16_t found = kGone;
    for (size_t n = 0; n < new_l.size(); ++n) {
      const ListenerConfig& b = to.listeners[new_l[n]];
      if (b.name == a.name && b.mode == a.mode) found = uint16_t(n);
    }
    m.listener.push_back(found);
  }
  for (uint16_t n : new_l) m.listener_pool.push_back(to.listeners[n].pool);
  for (const PoolConfig& a : from.pools) {
    uint16_t found = kGone;
    for (size_t p = 0; p < to.pools.size(); ++p)
      if (to.pools[p].name == a.name) found = uint16_t(p);
    m.pool.push_back(found);
    std::vector<uint16_t>& backends = m.backend.emplace_back(a.backends.size(), kGone);
    if (found == kGone) continue;
    const std::vector<BackendConfig>& next = to.pools[found].backends;
    for (size_t i = 0; i < a.backends.size(); ++i)
      for (size_t j = 0; j < next.size(); ++j)
        if (next[j].address == a.backends[i].address && next[j].port == a.backends[i].port) backends[i] = uint16_t(j);
  }
  return m;
}

SessionRemap RemapSession(const ConfigRemap& m, const Session& s) noexcept {
  SessionRemap r;
  r.listener = s.listener < m.listener.size() ? m.listener[s.listener] : kGone;
  if (s.attempts == 0 && !s.backend_open) {
    if (r.listener == kGone) {
      r.fate = SessionFate::kReset;
      return r;
    }
    r.pool = m.listener_pool[r.listener];
    return r;
  }
  const uint16_t pool = s.pool < m.pool.size() ? m.pool[s.pool] : kGone;
  const uint16_t backend = pool != kGone && s.backend_index < m.backend[s.pool].size()
                               ? m.backend[s.pool][s.backend_index]
                               : kGone;
  if (pool != kGone) {
    for (uint16_t b = 0; b < m.backend[s.pool].size() && b < lb::kMaxBackends; ++b)
      if ((s.tried_backends & lb::BackendBit(b)) && m.backend[s.pool][b] != kGone)
        r.tried_backends |= lb::BackendBit(m.backend[s.pool][b]);
  }
  const bool connecting = s.backend_open && s.connect_deadline_us != tcp::kNoDeadline;
  if (backend != kGone) {
    r.pool = pool;
    r.backend_index = backend;
    r.counted_on_backend = s.counted_on_backend;
    return r;
  }
  if (!connecting) {
    // Connected (or finished) on a backend the config no longer has: it runs on,
    // counted nowhere; no pool is consulted for it again.
    r.pool = pool != kGone ? pool : 0;
    return r;
  }
  r.fate = SessionFate::kReconnect;
  if (pool != kGone) {
    r.pool = pool;
  } else if (r.listener != kGone) {
    r.pool = m.listener_pool[r.listener];
    r.tried_backends = 0;
  } else {
    r.fate = SessionFate::kReset;
  }
  return r;
}

}  // namespace baton::dp
