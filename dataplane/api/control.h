// The only dataplane header (with config.h, stats.h, ip_addr.h) the control plane sees:
// start the data plane on a validated snapshot, read its counters, stop it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/api/ip_addr.h"
#include "dataplane/api/log.h"
#include "dataplane/api/stats.h"

namespace baton::dp {

struct StartOptions {
  std::vector<std::string> eal_args;   // passed to rte_eal_init as given
  LogLevel log_level = LogLevel::kInfo;  // workers drop records below it
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

// Main lcore: appends the log records the workers made since the last call (per
// worker in order; time_us is Unix time) and returns how many. Call it often (every
// 50 ms is fine): each worker's ring holds 1024 records, and what does not fit is
// counted and reported as one kLogSuppressed record. Also works after Stop(), for the
// last records.
size_t DrainLogs(std::vector<LogRecord>& out);

// Run-time backend administration (docs/API.md, `baton ctl backend`). `pool` and
// `backend` index the started config's pools and that pool's backends; unset fields
// stay as they are. The data plane copies its current admin snapshot, applies the
// change and publishes the copy by one atomic pointer swap; every worker picks it up at
// the start of its next loop pass (no lock, nothing on the hot path but one load).
// Empty string on success, else why nothing changed.
struct BackendChange {
  uint16_t pool = 0;
  uint16_t backend = 0;
  std::optional<BackendAdmin> admin;
  std::optional<uint16_t> weight;  // 0..kMaxBackendWeight
};
[[nodiscard]] std::string ChangeBackend(const BackendChange& change);

// `baton ctl worker halt N`: worker N stops at its next pass boundary and stays
// stopped, as a stuck core would; with [dataplane] stall_timeout_ms set, another worker
// declares it stalled and takes over its sessions and queues. Refused for the last
// running worker. Empty string on success, else why nothing changed.
[[nodiscard]] std::string HaltWorker(uint16_t worker);

// `baton ctl rebalance FROM TO SHARE`: worker FROM hands the sessions whose client flow
// hash lies in the lowest SHARE (0..1) of the hash space to worker TO, while traffic
// flows. Waits (bounded, `timeout_ms`) for FROM to finish; `moved` says how many went.
[[nodiscard]] std::string Rebalance(uint16_t from, uint16_t to, double share, uint32_t timeout_ms,
                                    uint64_t& moved);

// Live reload (docs/CONFIG.md "Live reload"). Each call loads what it needs on the
// calling (main) lcore first; on any problem it returns it, one line each, and nothing
// changes. On success it publishes a new config generation with one atomic pointer swap
// (inside the backend admin snapshot, so both always match); every worker switches at
// the start of its next pass, and live sessions carry on. Empty string on success.
//
// Reconfigure: `next` must be validated (cp::LoadConfig) and checked against the running
// config (cp::CheckLiveChange: ports, workers, EAL, [tcp] and [arp] cannot change live).
// Reads its certificates; TLS listeners that keep their name keep their random ticket
// keys. Backends that stay (same pool name, same address:port) keep their admin state
// and counters; weights come from `next`.
[[nodiscard]] std::string Reconfigure(const ConfigSnapshot& next);
// Reads every TLS listener's certificate and key files again; nothing else changes.
[[nodiscard]] std::string ReloadCertificates();
// A new ticket-sealing key per TLS listener, the previous ones still opening tickets
// (at most 4 kept); a listener with a ticket_key_file reads the file again instead.
[[nodiscard]] std::string RotateTicketKeys();

// `baton ctl sessions list`: the sessions in the shared table that match every set
// filter, at most `limit` of them (`matched` counts them all). Read from the main lcore
// while the workers run: each entry is a snapshot that may be one burst old.
struct SessionFilter {
  std::optional<uint16_t> worker;
  std::optional<IpAddr> client;                       // the client's address
  std::optional<std::pair<IpAddr, uint16_t>> vip;     // VIP and port
  std::optional<std::pair<IpAddr, uint16_t>> backend; // backend address and port
  uint32_t limit = 100;
};
struct SessionInfo {
  uint32_t index = 0;           // record index in the shared table
  uint16_t worker = 0;          // owner core
  std::string owner_state;      // "owned" or "handing_off"
  std::string client, vip, backend;  // "ip:port"; backend empty before it is chosen
  uint16_t snat_port = 0;
  std::string client_tcp, backend_tcp;  // TCP states ("ESTABLISHED", ...)
  bool tls = false;
};
[[nodiscard]] std::vector<SessionInfo> ListSessions(const SessionFilter& filter, uint64_t& matched);

// Stops the workers, then the ports, and releases EAL memory. Idempotent. Returns the
// final counters, taken after the workers stopped (so nothing is missing from them).
StatsSnapshot Stop();

}  // namespace baton::dp
