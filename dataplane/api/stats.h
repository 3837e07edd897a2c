// Counters the data plane publishes, and the names the control plane prints for them.
// Every drop has a reason here; every reason has a text.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/api/latency.h"

namespace baton::dp {

template <typename E>
constexpr size_t Idx(E e) noexcept { return static_cast<size_t>(e); }

enum class DropReason : uint8_t {
  kNone,
  kShortFrame,           // shorter than the Ethernet (+VLAN) header
  kFrameTooLong,         // longer than the port's MTU allows
  kRxBadFlags,           // the NIC marked the frame bad
  kNotOurMac,            // unicast to another MAC
  kVlanMismatch,         // tag absent/present/other than the port's
  kUnknownEtherType,
  kArpMalformed,         // wrong hardware/protocol type or lengths, truncated
  kArpNotForUs,          // request for an address we do not own
  kArpBadSender,         // sender is broadcast/multicast/zero/our own address
  kIpv4Short,            // truncated header
  kIpv4BadVersion,
  kIpv4BadIhl,
  kIpv4BadTotalLength,   // total length beyond the frame or below the header
  kIpv4BadChecksum,
  kIpv4BadSource,        // broadcast, multicast, loopback or our own
  kIpv4Fragment,         // fragments are not reassembled (yet)
  kIpv4TtlExpired,
  kIpv4NotForUs,         // destination is not an owned address
  kIpv4UnknownProtocol,
  kIcmpShort,
  kIcmpBadChecksum,
  kIcmpUnsupportedType,  // anything but echo request
  kTcpShort,             // shorter than a TCP header, or data offset beyond the datagram
  kTcpBadChecksum,
  kTcpBadOptions,        // malformed TCP options
  kTcpNoListener,        // SYN to a VIP port with no listener (answered with RST)
  kTcpNoSession,         // segment for no known session (answered with RST unless RST)
  kTcpRejected,          // the TCP state machine refused it (tcp_drops says why)
  kTcpSessionsFull,      // no free session slot
  kTcpNoBackend,         // no backend available in the pool
  kTcpNoSnatPort,        // all source ports toward that backend in use
  kSteerRingFull,        // the owner worker's inbox was full
  kArpUnresolved,        // next hop did not answer our ARP requests
  kArpQueueFull,         // too many packets already waiting for this next hop
  kNoNextHop,            // destination off-link and no gateway
  kNoMbuf,
  kTxFull,               // the TX queue refused the packet
  kCount
};

inline constexpr std::array<std::string_view, Idx(DropReason::kCount)> kDropText = {
    "none",
    "frame shorter than headers",
    "frame longer than MTU",
    "NIC flagged frame bad",
    "unicast to another MAC",
    "VLAN tag does not match the port",
    "unknown EtherType",
    "malformed ARP",
    "ARP for an address we do not own",
    "ARP sender address invalid",
    "truncated IPv4 header",
    "IPv4 version is not 4",
    "IPv4 header length below 20 bytes",
    "IPv4 total length does not fit the frame",
    "IPv4 header checksum wrong",
    "IPv4 source address invalid",
    "IPv4 fragment (not reassembled)",
    "IPv4 TTL expired",
    "IPv4 destination not owned",
    "IP protocol not handled",
    "truncated ICMP message",
    "ICMP checksum wrong",
    "ICMP type not handled",
    "truncated TCP header",
    "TCP checksum wrong",
    "malformed TCP options",
    "SYN to a port with no listener",
    "TCP segment for no session",
    "refused by the TCP state machine",
    "session table full",
    "no backend available",
    "no free SNAT port",
    "owner worker's inbox full",
    "next hop did not answer ARP",
    "too many packets waiting for ARP",
    "no route to destination",
    "mbuf pool empty",
    "TX queue full",
};

// Short machine names for metrics labels and JSON keys.
inline constexpr std::array<std::string_view, Idx(DropReason::kCount)> kDropKey = {
    "none", "short_frame", "frame_too_long", "rx_bad_flags", "not_our_mac", "vlan_mismatch",
    "unknown_ethertype", "arp_malformed", "arp_not_for_us", "arp_bad_sender", "ipv4_short",
    "ipv4_bad_version", "ipv4_bad_ihl", "ipv4_bad_total_length", "ipv4_bad_checksum",
    "ipv4_bad_source", "ipv4_fragment", "ipv4_ttl_expired", "ipv4_not_for_us",
    "ipv4_unknown_protocol", "icmp_short", "icmp_bad_checksum", "icmp_unsupported_type",
    "tcp_short", "tcp_bad_checksum", "tcp_bad_options", "tcp_no_listener", "tcp_no_session",
    "tcp_rejected", "tcp_sessions_full", "tcp_no_backend", "tcp_no_snat_port", "steer_ring_full",
    "arp_unresolved", "arp_queue_full", "no_next_hop", "no_mbuf", "tx_full",
};

// A missing entry would leave the last one empty.
static_assert(!kDropText.back().empty() && !kDropKey.back().empty(), "a DropReason lacks its text");

// Things that happened and are not drops.
enum class Counter : uint8_t {
  kArpRequestsAnswered,
  kArpRequestsSent,
  kArpRepliesReceived,
  kGratuitousArpSent,
  kArpEntriesLearned,
  kArpEntriesExpired,    // stale, or silent to refresh requests
  kArpEntriesEvicted,    // pushed out of a full table
  kIcmpEchoAnswered,
  kRelayedToWorkers,     // neighbours shared with the other workers so every cache learns
  kSessionsOpened,       // client connections accepted on a listener
  kSessionsClosed,       // sessions freed, for any reason
  kSynCookiesSent,       // SYN-ACKs carrying a cookie (SYN backlog full)
  kSynCookiesAccepted,
  kResetsSent,           // RSTs we sent for no session / no listener
  kBackendConnects,      // backend connections established
  kBackendConnectFailures,  // refused or timed out
  kBackendRetries,       // another backend tried for the same session
  kIdleTimeouts,         // sessions reset for idleness
  kSteeredToOwner,       // packets handed to the worker that owns their session
  kBytesClientToBackend,  // TLS listeners: plaintext
  kBytesBackendToClient,
  kTlsHandshakes,        // TLS handshakes completed
  kTlsResumed,           // of which resumed (PSK / session ticket / session id)
  kTls12Handshakes,      // of which TLS 1.2
  kTlsHandshakeFailures, // a fatal alert sent or received before the handshake completed
  kTlsHandshakeTimeouts, // the client did not finish the handshake in time
  kTlsSessionFailures,   // a fatal alert sent or received after the handshake
  kTlsCloseNotifies,     // close_notify received from clients
  kSessionsAdopted,      // sessions taken over from a worker declared stalled
  kSessionsHandedOff,    // sessions released to another worker by a rebalance
  kSessionsHandOffsAccepted,  // sessions received from another worker by a rebalance
  kReloadSessionsReset,  // a reload removed their listener before they reached a backend
  kReloadReconnects,     // a reload removed the backend they were connecting to: next one
  kCount
};

inline constexpr std::array<std::string_view, Idx(Counter::kCount)> kCounterKey = {
    "arp_requests_answered", "arp_requests_sent", "arp_replies_received", "gratuitous_arp_sent",
    "arp_entries_learned", "arp_entries_expired", "arp_entries_evicted", "icmp_echo_answered", "relayed_to_workers",
    "sessions_opened", "sessions_closed", "syn_cookies_sent", "syn_cookies_accepted", "resets_sent",
    "backend_connects", "backend_connect_failures", "backend_retries", "idle_timeouts",
    "steered_to_owner", "bytes_client_to_backend", "bytes_backend_to_client",
    "tls_handshakes", "tls_resumed", "tls12_handshakes", "tls_handshake_failures", "tls_handshake_timeouts", "tls_session_failures",
    "tls_close_notifies", "sessions_adopted", "sessions_handed_off", "sessions_handoffs_accepted",
    "reload_sessions_reset", "reload_reconnects",
};
static_assert(!kCounterKey.back().empty(), "a Counter lacks its key");

struct LcoreStats {
  uint16_t lcore = 0;
  uint16_t worker = 0;
  uint64_t passes = 0;        // loop iterations
  uint64_t busy_passes = 0;   // iterations that received something
  uint64_t sleeps = 0;        // idle back-off sleeps
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  std::array<uint64_t, Idx(Counter::kCount)> counters{};
  std::array<uint64_t, Idx(DropReason::kCount)> drops{};
  uint64_t sessions_active = 0;
  // "running"; "halted" (by `baton ctl worker halt`); "fenced" (declared stalled: its
  // sessions and queues were taken over by `taken_over_by`).
  std::string state = "running";
  int32_t taken_over_by = -1;
  // Why the TCP state machine refused segments (DropReason::kTcpRejected in detail):
  // reason text and count, zeros included, in a fixed order.
  std::vector<std::pair<std::string, uint64_t>> tcp_drops;
  // Per Latency (latency.h); the control plane sums them over the workers.
  std::array<LatencyHistogram, Idx(Latency::kCount)> latency{};
};

struct QueueStats {
  uint16_t port = 0;
  uint16_t queue = 0;
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0, tx_full = 0;
};

struct PortStats {
  std::string name;
  std::string mac;
  std::string driver;
  bool link_up = false;
  bool rx_ip_checksum_offload = false;
  bool tx_ip_checksum_offload = false;
  bool rss = false;
  uint64_t ipackets = 0, opackets = 0, ibytes = 0, obytes = 0;
  uint64_t imissed = 0, ierrors = 0, oerrors = 0, rx_nombuf = 0;
};

// What one health-check probe (or passive marking) said about a backend
// (dataplane/lb/health.h). The keys are metrics labels and JSON values.
enum class HealthResult : uint8_t {
  kOk,           // connected (and, with http_path, answered 2xx or 3xx)
  kRefused,      // the backend reset the connection attempt
  kTimeout,      // no verdict within timeout_ms
  kHttpStatus,   // answered with a status other than 2xx or 3xx
  kBadResponse,  // the answer is not an HTTP/1.x status line
  kNoResponse,   // the backend closed (FIN or RST) before a whole status line
  kPassive,      // not a probe: real sessions failed to connect `fall` times in a row
  kCount
};
inline constexpr std::array<std::string_view, Idx(HealthResult::kCount)> kHealthResultKey = {
    "ok", "refused", "timeout", "http_status", "bad_response", "no_response", "passive",
};
static_assert(!kHealthResultKey.back().empty(), "a HealthResult lacks its key");

// One backend of one pool, summed over the workers.
struct BackendStats {
  std::string pool;
  std::string address;      // "198.18.3.101:80"
  uint64_t sessions_started = 0;
  uint64_t active_sessions = 0;
  uint64_t connect_failures = 0;
  std::string admin = "enabled";  // kBackendAdminKey: enabled, disabled, draining
  uint16_t weight = 1;            // the current weight (config, or changed at run time)
  bool up = true;                 // health: false while checks or passive marking say down
  bool health_checked = false;    // the pool has [pool.health]
  uint64_t health_transitions = 0;  // up->down and down->up changes so far
  // Probes by result (kPassive counts passive markings); all zero without health checks.
  std::array<uint64_t, Idx(HealthResult::kCount)> health_checks{};
  std::string down_reason;        // kHealthResultKey of what marked it down; empty while up
  uint16_t last_http_status = 0;  // of the last probe that got a status line (0: none yet)
};

// The shared session table (dataplane/state/counters.h StateCounters, same names).
struct SessionTableStats {
  uint64_t capacity = 0, occupancy = 0, pending_reclaim = 0, client_keys = 0, backend_keys = 0;
  uint64_t inserts = 0, erases = 0, reclaimed = 0, table_full = 0, hash_full = 0, key_exists = 0;
  uint64_t adoptions = 0, hand_offs = 0, rebalanced = 0, claims = 0, stale_claims = 0;
};

// Every SessionTableStats field with its JSON key and metric help, for the exporters.
struct SessionTableField {
  std::string_view key;
  uint64_t SessionTableStats::*field;
  bool gauge;
  std::string_view help;
};
inline constexpr SessionTableField kSessionTableFields[] = {
    {"capacity", &SessionTableStats::capacity, true, "Session records the shared table holds."},
    {"occupancy", &SessionTableStats::occupancy, true, "Records in use or awaiting reclamation."},
    {"pending_reclaim", &SessionTableStats::pending_reclaim, true, "Freed records waiting for a grace period."},
    {"client_keys", &SessionTableStats::client_keys, true, "Client-side flows in the table."},
    {"backend_keys", &SessionTableStats::backend_keys, true, "Backend-side flows in the table."},
    {"inserts", &SessionTableStats::inserts, false, "Records allocated."},
    {"erases", &SessionTableStats::erases, false, "Records freed by their owner."},
    {"reclaimed", &SessionTableStats::reclaimed, false, "Records reusable again after a grace period."},
    {"table_full", &SessionTableStats::table_full, false, "Sessions refused: no free record."},
    {"hash_full", &SessionTableStats::hash_full, false, "Flows refused: the hash table had no room."},
    {"key_exists", &SessionTableStats::key_exists, false, "Flows refused: already in the table."},
    {"adoptions", &SessionTableStats::adoptions, false, "Records taken over from a stalled worker by a scan."},
    {"hand_offs", &SessionTableStats::hand_offs, false, "Records released to another worker (rebalance)."},
    {"rebalanced", &SessionTableStats::rebalanced, false, "Hand-offs accepted by the new owner."},
    {"claims", &SessionTableStats::claims, false, "Records claimed at their first packet after a stall."},
    {"stale_claims", &SessionTableStats::stale_claims, false, "Claims that lost the race to another worker."},
};

// Live reloads, counted by the control plane that runs them (docs/API.md "reload").
struct ReloadStats {
  uint64_t config_generation = 0;  // the running config: 1 at start, +1 per successful reload
  uint64_t reloads_ok = 0, reloads_failed = 0;                  // baton ctl reload
  uint64_t cert_reloads_ok = 0, cert_reloads_failed = 0;        // baton ctl reload-certs
  uint64_t ticket_rotations_ok = 0, ticket_rotations_failed = 0;  // baton ctl rotate-ticket-keys
};

struct StatsSnapshot {
  SessionTableStats table;
  std::vector<PortStats> ports;
  std::vector<BackendStats> backends;
  std::vector<QueueStats> queues;
  std::vector<LcoreStats> lcores;
  ReloadStats reload;
};

}  // namespace baton::dp
