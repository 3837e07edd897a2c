// One generation of the running configuration, as the workers see it: the config and
// the certificates and ticket keys loaded for it. dataplane.cc makes a new one for every
// reload, certificate reload and ticket-key rotation, publishes it inside an
// AdminSnapshot (one atomic pointer swap) and keeps every generation until exit: live
// sessions may point into any of them (docs/CONFIG.md "Live reload").
#pragma once

#include <cstdint>

#include "dataplane/api/config.h"
#include "dataplane/proxy/tls_listeners.h"

namespace baton::dp {

struct LiveConfig {
  uint64_t generation = 0;               // 1 at start, +1 per publication
  const ConfigSnapshot* config = nullptr;
  const TlsListeners* tls = nullptr;
};

}  // namespace baton::dp
