// The only dataplane header (with config.h, stats.h, ip_addr.h) the control plane sees:
// start the data plane on a validated snapshot, read its counters, stop it.
#pragma once

#include <string>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/api/stats.h"

namespace baton::dp {

struct StartOptions {
  std::vector<std::string> eal_args;   // passed to rte_eal_init as given
};

// Reads the certificates and keys of every TLS listener, as Start() will, and returns
// what is wrong with them, one line each ("FILE:LINE: KEY: problem"); empty when all load.
// Needs no EAL: `baton check-config` calls it.
[[nodiscard]] std::vector<std::string> CheckTls(const ConfigSnapshot& config);

// Initialises EAL, ports and queues, and launches one worker per configured worker
// lcore. Returns an empty string on success, else what went wrong (nothing is left
// running then). Call once per process.
[[nodiscard]] std::string Start(const ConfigSnapshot& config, const StartOptions& options);

// Safe to call from the main lcore while workers run; counters are read without
// stopping anyone (each is written by one lcore; a read may be one burst stale).
[[nodiscard]] StatsSnapshot SnapshotStats();

// Stops the workers, then the ports, and releases EAL memory. Idempotent. Returns the
// final counters, taken after the workers stopped (so nothing is missing from them).
StatsSnapshot Stop();

}  // namespace baton::dp
