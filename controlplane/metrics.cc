#include "controlplane/metrics.h"

#include <array>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "controlplane/stats_report.h"
#include "dataplane/api/config.h"
#include "dataplane/api/latency.h"

namespace baton::cp {
namespace {

// One family per dp::Counter, named baton_<key>_total with a worker label. Spelled out
// here (not derived) so every family has its own HELP text, and so a new Counter that
// lacks one fails to compile. kBackendConnectFailures is the one renamed: its
// derived name would be the per-backend family baton_backend_connect_failures_total.
struct CounterFamily {
  std::string_view name;
  std::string_view help;
};
constexpr std::array<CounterFamily, dp::Idx(dp::Counter::kCount)> kCounterFamilies = {{
    {"baton_arp_requests_answered_total", "ARP requests for our addresses answered."},
    {"baton_arp_requests_sent_total", "ARP requests sent to resolve next hops."},
    {"baton_arp_replies_received_total", "ARP replies received."},
    {"baton_gratuitous_arp_sent_total", "Gratuitous ARPs sent."},
    {"baton_arp_entries_learned_total", "Neighbour entries learned."},
    {"baton_arp_entries_expired_total", "Neighbour entries expired (stale or silent to refresh)."},
    {"baton_arp_entries_evicted_total", "Neighbour entries pushed out of a full table."},
    {"baton_icmp_echo_answered_total", "ICMP echo requests answered."},
    {"baton_relayed_to_workers_total", "Neighbours shared with the other workers."},
    {"baton_sessions_opened_total", "Client connections accepted on a listener."},
    {"baton_sessions_closed_total", "Sessions freed, for any reason."},
    {"baton_syn_cookies_sent_total", "SYN-ACKs carrying a SYN cookie (SYN backlog full)."},
    {"baton_syn_cookies_accepted_total", "Connections opened from a valid SYN cookie."},
    {"baton_resets_sent_total", "RSTs sent for no session or no listener."},
    {"baton_backend_connects_total", "Backend connections established."},
    {"baton_worker_backend_connect_failures_total", "Backend connection attempts refused or timed out."},
    {"baton_backend_retries_total", "Sessions retried on another backend."},
    {"baton_idle_timeouts_total", "Sessions reset for idleness."},
    {"baton_steered_to_owner_total", "Packets handed to the worker that owns their session."},
    {"baton_bytes_client_to_backend_total", "Payload bytes proxied from clients to backends."},
    {"baton_bytes_backend_to_client_total", "Payload bytes proxied from backends to clients."},
    {"baton_tls_handshakes_total", "TLS handshakes completed."},
    {"baton_tls_resumed_total", "TLS handshakes that resumed a session."},
    {"baton_tls12_handshakes_total", "TLS handshakes that negotiated TLS 1.2."},
    {"baton_tls_handshake_failures_total", "TLS handshakes ended by a fatal alert."},
    {"baton_tls_handshake_timeouts_total", "TLS handshakes the client did not finish in time."},
    {"baton_tls_session_failures_total", "TLS sessions ended by a fatal alert after the handshake."},
    {"baton_tls_close_notifies_total", "close_notify alerts received from clients."},
    {"baton_sessions_adopted_total", "Sessions taken over from a worker declared stalled."},
    {"baton_sessions_handed_off_total", "Sessions released to another worker by a rebalance."},
    {"baton_sessions_handoffs_accepted_total", "Sessions received from another worker by a rebalance."},
    {"baton_reload_sessions_reset_total", "Sessions reset because a reload removed their listener before they reached a backend."},
    {"baton_reload_reconnects_total", "Sessions a reload moved off a removed backend they were still connecting to."},
}};
static_assert(!kCounterFamilies.back().name.empty(), "a dp::Counter lacks its metric family");

// One histogram family per dp::Latency, summed over the workers; docs/API.md, "Latency".
constexpr std::array<CounterFamily, dp::Idx(dp::Latency::kCount)> kLatencyFamilies = {{
    {"baton_tls_handshake_seconds",
     "TLS handshakes, from the client's TCP connection established to the handshake complete."},
    {"baton_request_seconds",
     "Request (first-byte) latency: from client bytes passed to the backend with no request outstanding to the "
     "first backend bytes passed back."},
    {"baton_backend_connect_seconds", "Backend connection attempts, from the SYN sent to the connection established."},
}};
static_assert(!kLatencyFamilies.back().name.empty(), "a dp::Latency lacks its metric family");

// Microseconds as seconds in exact decimal ("0.00005", "1", "12.345678"): no float
// rounding, so bucket bounds read as written and _sum is exact.
std::string Seconds(uint64_t us) {
  std::string out = std::to_string(us / 1'000'000);
  const uint64_t frac = us % 1'000'000;
  if (frac == 0) return out;
  std::string digits = std::to_string(frac);
  digits.insert(0, 6 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class Page {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += EscapeHelp(help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(std::string_view name, Labels labels, uint64_t value) { Sample(name, labels, std::to_string(value)); }
  void Sample(std::string_view name, Labels labels, std::string_view value) {
    out_ += name;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += key;
        out_ += "=\"";
        out_ += EscapeLabelValue(v);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char ch : v) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char ch : v) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string MetricsText(const dp::StatsSnapshot& stats, std::string_view version) {
  Page page;
  page.Family("baton_build_info", "gauge", "Always 1; the version label says which baton this is.");
  page.Sample("baton_build_info", {{"version", version}}, 1);

  struct PortFamily {
    std::string_view name, help;
    uint64_t dp::PortStats::*field;
  };
  static constexpr PortFamily kPortFamilies[] = {
      {"baton_port_rx_packets_total", "Packets received on the port (NIC counter).", &dp::PortStats::ipackets},
      {"baton_port_tx_packets_total", "Packets sent on the port (NIC counter).", &dp::PortStats::opackets},
      {"baton_port_rx_bytes_total", "Bytes received on the port (NIC counter).", &dp::PortStats::ibytes},
      {"baton_port_tx_bytes_total", "Bytes sent on the port (NIC counter).", &dp::PortStats::obytes},
      {"baton_port_rx_missed_total", "Packets the NIC dropped for want of RX descriptors.", &dp::PortStats::imissed},
      {"baton_port_rx_errors_total", "Erroneous packets received.", &dp::PortStats::ierrors},
      {"baton_port_tx_errors_total", "Packets the NIC failed to send.", &dp::PortStats::oerrors},
      {"baton_port_rx_nombuf_total", "RX mbuf allocation failures.", &dp::PortStats::rx_nombuf},
  };
  for (const PortFamily& f : kPortFamilies) {
    page.Family(f.name, "counter", f.help);
    for (const dp::PortStats& p : stats.ports) page.Sample(f.name, {{"port", p.name}}, p.*f.field);
  }
  page.Family("baton_port_link_up", "gauge", "1 when the port's link is up.");
  for (const dp::PortStats& p : stats.ports) page.Sample("baton_port_link_up", {{"port", p.name}}, p.link_up ? 1 : 0);

  std::vector<std::string> workers;
  for (const dp::LcoreStats& l : stats.lcores) workers.push_back(std::to_string(l.worker));

  struct WorkerFamily {
    std::string_view name, help;
    uint64_t dp::LcoreStats::*field;
  };
  static constexpr WorkerFamily kWorkerFamilies[] = {
      {"baton_worker_rx_packets_total", "Packets the worker received from its queues.", &dp::LcoreStats::rx_packets},
      {"baton_worker_tx_packets_total", "Packets the worker sent.", &dp::LcoreStats::tx_packets},
      {"baton_worker_passes_total", "Worker loop iterations.", &dp::LcoreStats::passes},
      {"baton_worker_busy_passes_total", "Worker loop iterations that received something.",
       &dp::LcoreStats::busy_passes},
      {"baton_worker_idle_sleeps_total", "Idle back-off sleeps.", &dp::LcoreStats::sleeps},
  };
  for (const WorkerFamily& f : kWorkerFamilies) {
    page.Family(f.name, "counter", f.help);
    for (size_t w = 0; w < stats.lcores.size(); ++w)
      page.Sample(f.name, {{"worker", workers[w]}}, stats.lcores[w].*f.field);
  }

  for (const dp::SessionTableField& f : dp::kSessionTableFields) {
    const std::string name = "baton_session_table_" + std::string(f.key) + (f.gauge ? "" : "_total");
    page.Family(name, f.gauge ? "gauge" : "counter", f.help);
    page.Sample(name, {}, stats.table.*f.field);
  }
  page.Family("baton_worker_running", "gauge", "1 while the worker runs; 0 when halted or declared stalled.");
  for (size_t w = 0; w < stats.lcores.size(); ++w)
    page.Sample("baton_worker_running", {{"worker", workers[w]}}, stats.lcores[w].state == "running" ? 1 : 0);

  page.Family("baton_sessions_active", "gauge", "Sessions (client plus backend connection) the worker holds.");
  for (size_t w = 0; w < stats.lcores.size(); ++w)
    page.Sample("baton_sessions_active", {{"worker", workers[w]}}, stats.lcores[w].sessions_active);

  for (size_t i = 0; i < kCounterFamilies.size(); ++i) {
    page.Family(kCounterFamilies[i].name, "counter", kCounterFamilies[i].help);
    for (size_t w = 0; w < stats.lcores.size(); ++w)
      page.Sample(kCounterFamilies[i].name, {{"worker", workers[w]}}, stats.lcores[w].counters[i]);
  }

  // Every reason, zeros included: a series that appears only after its first drop
  // breaks rate() and alerts on absence.
  page.Family("baton_drops_total", "counter", "Packets dropped, by reason (docs/API.md lists the reasons).");
  for (size_t w = 0; w < stats.lcores.size(); ++w)
    for (size_t i = 1; i < dp::kDropKey.size(); ++i)
      page.Sample("baton_drops_total", {{"reason", dp::kDropKey[i]}, {"worker", workers[w]}}, stats.lcores[w].drops[i]);

  page.Family("baton_tcp_drops_total", "counter",
              "TCP segments the state machine refused, by reason (baton_drops_total{reason=\"tcp_rejected\"} in detail).");
  for (size_t w = 0; w < stats.lcores.size(); ++w)
    for (const auto& [text, count] : stats.lcores[w].tcp_drops)
      page.Sample("baton_tcp_drops_total", {{"reason", text}, {"worker", workers[w]}}, count);

  // Histograms: cumulative buckets, `+Inf` equal to `_count` by construction (both
  // come from the same bucket array).
  for (size_t h = 0; h < kLatencyFamilies.size(); ++h) {
    const std::string_view name = kLatencyFamilies[h].name;
    const dp::LatencyHistogram total = TotalLatency(stats, dp::Latency(h));
    const std::string bucket = std::string(name) + "_bucket";
    page.Family(name, "histogram", kLatencyFamilies[h].help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < dp::kLatencyBoundsUs.size(); ++i) {
      cumulative += total.buckets[i];
      const std::string le = Seconds(dp::kLatencyBoundsUs[i]);
      page.Sample(bucket, {{"le", le}}, cumulative);
    }
    cumulative += total.buckets.back();
    page.Sample(bucket, {{"le", "+Inf"}}, cumulative);
    page.Sample(std::string(name) + "_sum", {}, Seconds(total.sum_us));
    page.Sample(std::string(name) + "_count", {}, cumulative);
  }

  page.Family("baton_backend_sessions_total", "counter", "Sessions sent to the backend.");
  for (const dp::BackendStats& b : stats.backends)
    page.Sample("baton_backend_sessions_total", {{"pool", b.pool}, {"backend", b.address}}, b.sessions_started);
  page.Family("baton_backend_active_sessions", "gauge", "Sessions open to the backend now.");
  for (const dp::BackendStats& b : stats.backends)
    page.Sample("baton_backend_active_sessions", {{"pool", b.pool}, {"backend", b.address}}, b.active_sessions);
  page.Family("baton_backend_connect_failures_total", "counter",
              "Connection attempts to the backend refused or timed out.");
  for (const dp::BackendStats& b : stats.backends)
    page.Sample("baton_backend_connect_failures_total", {{"pool", b.pool}, {"backend", b.address}},
                b.connect_failures);
  page.Family("baton_backend_up", "gauge",
              "1 when the backend is healthy: its health checks pass (or it has none) and passive marking "
              "has not marked it down.");
  for (const dp::BackendStats& b : stats.backends)
    page.Sample("baton_backend_up", {{"pool", b.pool}, {"backend", b.address}}, b.up ? 1 : 0);
  page.Family("baton_backend_health_transitions_total", "counter",
              "Health changes of the backend, up to down and down to up.");
  for (const dp::BackendStats& b : stats.backends)
    page.Sample("baton_backend_health_transitions_total", {{"pool", b.pool}, {"backend", b.address}},
                b.health_transitions);
  page.Family("baton_health_checks_total", "counter",
              "Health-check probes of the backend by result; result=\"passive\" counts passive markings "
              "(real sessions failing to connect). Only backends of pools with [pool.health].");
  for (const dp::BackendStats& b : stats.backends) {
    if (!b.health_checked) continue;
    for (size_t r = 0; r < b.health_checks.size(); ++r)
      page.Sample("baton_health_checks_total",
                  {{"pool", b.pool}, {"backend", b.address}, {"result", dp::kHealthResultKey[r]}}, b.health_checks[r]);
  }
  page.Family("baton_backend_admin_state", "gauge",
              "1 for the backend's administrative state (enabled, disabled, draining), 0 for the others.");
  for (const dp::BackendStats& b : stats.backends)
    for (const char* state : dp::kBackendAdminKey)
      page.Sample("baton_backend_admin_state", {{"pool", b.pool}, {"backend", b.address}, {"state", state}},
                  b.admin == state ? 1 : 0);
  page.Family("baton_backend_weight", "gauge", "The backend's current weight (0: no new sessions).");
  for (const dp::BackendStats& b : stats.backends)
    page.Sample("baton_backend_weight", {{"pool", b.pool}, {"backend", b.address}}, b.weight);

  // Live reload (docs/API.md "reload").
  const dp::ReloadStats& r = stats.reload;
  page.Family("baton_config_generation", "gauge", "Generation of the running config: 1 at start, +1 per reload.");
  page.Sample("baton_config_generation", {}, r.config_generation);
  page.Family("baton_reloads_total", "counter", "Config reloads (baton ctl reload), by result.");
  page.Sample("baton_reloads_total", {{"result", "ok"}}, r.reloads_ok);
  page.Sample("baton_reloads_total", {{"result", "failed"}}, r.reloads_failed);
  page.Family("baton_certificate_reloads_total", "counter", "Certificate reloads (baton ctl reload-certs), by result.");
  page.Sample("baton_certificate_reloads_total", {{"result", "ok"}}, r.cert_reloads_ok);
  page.Sample("baton_certificate_reloads_total", {{"result", "failed"}}, r.cert_reloads_failed);
  page.Family("baton_ticket_key_rotations_total", "counter",
              "Session-ticket key rotations (baton ctl rotate-ticket-keys), by result.");
  page.Sample("baton_ticket_key_rotations_total", {{"result", "ok"}}, r.ticket_rotations_ok);
  page.Sample("baton_ticket_key_rotations_total", {{"result", "failed"}}, r.ticket_rotations_failed);
  return page.Take();
}

}  // namespace baton::cp
