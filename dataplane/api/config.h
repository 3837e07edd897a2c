// The validated, immutable configuration snapshot the control plane hands to the data
// plane. Plain data: controlplane/config.cc fills it from TOML and checks every field;
// the data plane copies what each worker needs at start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/api/ip_addr.h"

namespace baton::dp {

enum PortRole : uint8_t { kRoleFront = 1u << 0, kRoleBack = 1u << 1, kRoleRepl = 1u << 2 };

struct PortConfig {
  std::string name;             // "front"; unique
  uint8_t roles = 0;            // PortRole bits; at least one
  std::string device;           // "net_af_packet0,iface=front" (vdev) or "0000:03:00.0" (PCI)
  IpPrefix address;             // owned address and its subnet
  IpAddr gateway;               // next hop for destinations outside the subnet; may be unset
  uint16_t mtu_bytes = 1500;    // IP MTU
  uint16_t vlan_id = 0;         // 0: untagged; otherwise we tag what we send and accept the tag
};

struct DataplaneConfig {
  uint16_t workers = 1;               // worker lcores; each gets one RX and one TX queue per port
  uint32_t idle_backoff_us = 100;     // sleep after empty polls; 0 = busy poll
  uint32_t idle_polls_before_sleep = 64;  // empty passes before the first sleep
  uint32_t mbufs_per_port = 8191;     // mempool size per port (n = 2^k - 1 is best for rings)
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  uint16_t burst = 32;                // packets per rx_burst
  // A worker whose heartbeat stops this long between bursts is declared stalled: another
  // worker takes over its sessions and queues. Stopped inside a burst, it gets 10 times
  // as long (it may only have been descheduled). 0: never. Below ~200 ms, a busy VM
  // that deschedules a worker thread gets it declared stalled (and parked for good).
  uint32_t stall_timeout_ms = 500;
};

struct ArpConfig {
  uint32_t reachable_ms = 30'000;     // a resolved entry is used without re-checking this long
  uint32_t stale_ms = 300'000;        // after this, an entry is dropped
  uint32_t retry_ms = 1'000;          // between requests for an unresolved next hop
  uint8_t retries = 3;                // requests before an entry is marked failed
  uint16_t pending_packets = 4;       // packets held per unresolved next hop
};

// TCP endpoints and proxy buffers, for both the client and the backend side.
struct TcpSettings {
  uint32_t max_sessions = 16384;       // client connection + backend connection pairs, per worker
  uint32_t buffer_bytes = 256 * 1024;  // per direction per session (send ring = receive ring)
  uint32_t syn_backlog = 1024;         // half-open client connections per worker; SYN cookies beyond
  uint32_t connect_timeout_ms = 3000;  // to a backend, per attempt
  uint8_t connect_attempts = 3;        // backends tried (each a different one when possible)
  uint32_t idle_timeout_ms = 300'000;  // no byte either way: both sides reset
  uint16_t snat_port_min = 10000;      // source ports toward backends
  uint16_t snat_port_max = 59999;
};

enum class BalanceAlgorithm : uint8_t { kRoundRobin, kLeastConnections, kMaglev };

// A backend's administrative state, set at run time (docs/API.md: `baton ctl backend`).
// Every backend starts kEnabled. kDisabled and kDraining both take no new sessions and
// let the existing ones finish; kDraining is the operator saying "I am waiting for
// them to end" (the API shows how many remain).
enum class BackendAdmin : uint8_t { kEnabled, kDisabled, kDraining, kCount };
inline constexpr const char* kBackendAdminKey[] = {"enabled", "disabled", "draining"};
static_assert(sizeof(kBackendAdminKey) / sizeof(kBackendAdminKey[0]) == size_t(BackendAdmin::kCount));
inline constexpr uint16_t kMaxBackendWeight = 1000;

struct BackendConfig {
  IpAddr address;                      // IPv4 for now; on the back port's subnet or via its gateway
  uint16_t port = 0;
  uint16_t weight = 1;                 // 0: configured but takes no new sessions
};

// Health checks of a pool's backends ([pool.health]), run by worker 0 on our own TCP
// stack from the back port's address. A probe is a TCP connect (and, with http_path, an
// HTTP/1.0 GET answered 2xx or 3xx) that must finish within timeout_ms; `fall` failed
// probes in a row mark a backend down, `rise` good ones mark it up. `fall` connect
// failures in a row of real sessions mark it down too (passive marking), until a probe
// succeeds.
struct HealthConfig {
  bool enabled = false;                // the pool has a [pool.health] table
  uint32_t interval_ms = 2000;         // between probes of one backend
  uint32_t timeout_ms = 1000;          // per probe; at most interval_ms
  uint8_t rise = 2;
  uint8_t fall = 3;
  std::string http_path;               // empty: a TCP connect is the whole check
};

struct PoolConfig {
  std::string name;                    // unique
  BalanceAlgorithm algorithm = BalanceAlgorithm::kRoundRobin;
  std::vector<BackendConfig> backends; // at least one
  HealthConfig health;
};

enum class ListenerMode : uint8_t { kTcp, kTls };

// One certificate chain and its key, as PEM files (read by the data plane at start).
struct TlsCertificateConfig {
  std::string cert_file;               // leaf first, then intermediates
  std::string key_file;
  uint32_t line = 0;                   // where the config file names it, for messages
};

// A TLS listener sends a session whose ClientHello matches to another pool. The first
// matching route wins; an empty field matches anything.
struct TlsRouteConfig {
  std::string sni;                     // exact host name, lower case
  std::string alpn;                    // the protocol the handshake chose, e.g. "h2"
  uint16_t pool = 0;                   // index into ConfigSnapshot::pools
};

struct TlsListenerConfig {
  std::vector<TlsCertificateConfig> certificates;  // at least one; the first is the default
  std::vector<std::string> alpn;       // server preference; empty: no ALPN
  bool tls13 = true;
  bool tls12 = true;
  uint32_t handshake_timeout_ms = 10'000;  // client must finish the handshake within this
  std::vector<TlsRouteConfig> routes;
  // Session ticket keys (docs/CONFIG.md: one key a line, 96 hex digits = 16-byte name and
  // 32-byte secret; the first seals, all open). Boxes sharing the file resume each
  // other's tickets. Empty: a random key per process.
  std::string ticket_key_file;
  uint32_t ticket_key_line = 0;        // where the config names it, for messages
  uint8_t tickets_per_handshake = 2;   // 0: no tickets, no resumption
};

struct ListenerConfig {
  std::string name;                    // unique
  IpAddr vip;                          // owned by the box on its front port
  uint16_t port = 0;
  ListenerMode mode = ListenerMode::kTcp;
  uint16_t pool = 0;                   // index into ConfigSnapshot::pools
  bool proxy_protocol = false;         // PROXY protocol v2 header to the backend
  TlsListenerConfig tls;               // mode kTls only
};

struct ConfigSnapshot {
  uint32_t generation = 0;            // bumped by every successful load
  std::string source;                 // file it came from, for messages
  DataplaneConfig dataplane;
  ArpConfig arp;
  TcpSettings tcp;
  std::vector<PortConfig> ports;
  std::vector<PoolConfig> pools;
  std::vector<ListenerConfig> listeners;
};

}  // namespace baton::dp
