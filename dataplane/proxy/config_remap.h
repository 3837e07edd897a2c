// Live reload, the pure part: how the listeners, pools and backends of one config map
// onto the next (by name, and by address:port within a pool), and what becomes of a
// live session. ProxyEngine::Reconfigure (engine_reconfigure.cc) applies it; the rules
// are in docs/CONFIG.md "Live reload".
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/lb/pool.h"
#include "dataplane/proxy/session.h"

namespace baton::dp {

class TlsListeners;

inline constexpr uint16_t kGone = UINT16_MAX;  // no counterpart in the new config

// Indices are the engine's: its listener list leaves out a TLS listener that has no
// loaded certificates (EngineListeners), pools and backends are in config order.
struct ConfigRemap {
  std::vector<uint16_t> listener;                // old engine listener -> new, or kGone
  std::vector<uint16_t> pool;                    // old pool -> new (same name), or kGone
  std::vector<std::vector<uint16_t>> backend;    // [old pool][old backend] -> new backend in pool[p]
  std::vector<uint16_t> listener_pool;           // new engine listener -> its pool
};

// The config index of each listener the engine has for `config`: TLS listeners without
// certificates in `tls` (or every TLS listener when `tls` is null) are left out.
std::vector<uint16_t> EngineListeners(const ConfigSnapshot& config, const TlsListeners* tls);

// Listeners map by name, and only to one of the same mode (a listener switched between
// tcp and tls counts as removed and added). Pools map by name; a backend maps to the
// backend with its address:port in the pool its pool maps to.
ConfigRemap BuildRemap(const ConfigSnapshot& from, const TlsListeners* from_tls, const ConfigSnapshot& to,
                       const TlsListeners* to_tls);

enum class SessionFate : uint8_t {
  kKeep,       // carries on with the fields below
  kReconnect,  // was connecting to a backend that is gone: connect again in `pool`
  kReset,      // its listener is gone before the session reached a backend
};

struct SessionRemap {
  SessionFate fate = SessionFate::kKeep;
  uint16_t listener = kGone;       // kGone: keep the old listener as a retired one
  uint16_t pool = 0;
  uint16_t backend_index = kNoBackend;
  lb::BackendMask tried_backends = 0;
  bool counted_on_backend = false;
};

// Where a live session goes in the new config:
//  - not yet at a backend (no connect attempt): follows its listener (the pool is the
//    listener's; a TLS route picks again when the handshake ends); listener gone: reset.
//  - at a backend: keeps it; the backend counts the session if it still exists (the
//    same address:port in the pool of the same name), otherwise the session runs on
//    uncounted. Still connecting to a backend that is gone: connects again, in the
//    session's pool if it exists, else its listener's; with neither: reset.
SessionRemap RemapSession(const ConfigRemap& remap, const Session& s) noexcept;

}  // namespace baton::dp
