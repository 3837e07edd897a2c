// Live reload, control-plane side (docs/CONFIG.md "Live reload"): what may change in a
// running baton, and the three reload commands with their counters. The data plane's
// part (certificates, the snapshot swap, sessions) sits behind ReloadActions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/api/stats.h"

namespace baton::cp {

// What `next` changes that a running baton cannot: one line each,
//   "FILE: KEY: cannot change while running (OLD -> NEW); restart baton to apply it"
// in config order (FILE is next.source). Empty: the reload may go ahead. Ports,
// [dataplane] (workers, queues, mempools: EAL), [arp] and [tcp] (session capacity,
// buffer sizes, timeouts, SNAT ports) are fixed at start; pools, backends, listeners
// and their TLS settings may change.
std::vector<std::string> CheckLiveChange(const dp::ConfigSnapshot& running, const dp::ConfigSnapshot& next);

// The data plane's side: dp::Reconfigure, dp::ReloadCertificates, dp::RotateTicketKeys
// in `baton run`; fakes in tests. Each returns "" on success, else why nothing changed.
struct ReloadActions {
  std::function<std::string(const dp::ConfigSnapshot&)> reconfigure;
  std::function<std::string()> reload_certificates;
  std::function<std::string()> rotate_ticket_keys;
};

// Runs the reload commands on the main lcore and counts them. `running` is the config
// the API answers from (ApiSources::config): replaced by the new one on success only.
class Reloader {
 public:
  Reloader(dp::ConfigSnapshot& running, ReloadActions actions);

  // Reads `path` (empty: the file the running config came from), validates it, checks
  // CheckLiveChange, then has the data plane load its certificates and switch. "" on
  // success; else every problem, one a line (FILE:LINE: KEY: ...), and nothing changed.
  std::string Reload(const std::string& path);
  std::string ReloadCertificates();
  std::string RotateTicketKeys();

  // The counters, and the running config's generation.
  dp::ReloadStats Stats() const noexcept {
    dp::ReloadStats s = stats_;
    s.config_generation = running_.generation;
    return s;
  }

 private:
  dp::ConfigSnapshot& running_;
  ReloadActions actions_;
  dp::ReloadStats stats_;
};

}  // namespace baton::cp
