#include "controlplane/reload.h"

#include <utility>

#include "controlplane/config.h"

namespace baton::cp {
namespace {

class Changes {
 public:
  explicit Changes(std::string source) : source_(std::move(source)) {}
  template <class T>
  void Same(const std::string& key, const T& was, const T& now) {
    if (!(was == now)) Add(key, Text(was), Text(now));
  }
  void Add(const std::string& key, const std::string& was, const std::string& now) {
    lines_.push_back(source_ + ": " + key + ": cannot change while running (" + was + " -> " + now +
                     "); restart baton to apply it");
  }
  std::vector<std::string> Take() { return std::move(lines_); }

 private:
  static std::string Text(const std::string& s) { return "\"" + s + "\""; }
  static std::string Text(const dp::IpAddr& a) { return a.IsSet() ? a.ToString() : std::string("none"); }
  static std::string Text(const dp::IpPrefix& p) { return p.ToString(); }
  template <class T>
  static std::string Text(const T& n) {
    return std::to_string(n);
  }
  std::string source_;
  std::vector<std::string> lines_;
};

std::string Roles(uint8_t roles) {
  std::string s;
  for (auto [bit, name] : {std::pair{dp::kRoleFront, "front"}, {dp::kRoleBack, "back"}, {dp::kRoleRepl, "repl"}})
    if (roles & bit) s += (s.empty() ? "" : ",") + std::string(name);
  return "[" + s + "]";
}

}  // namespace

std::vector<std::string> CheckLiveChange(const dp::ConfigSnapshot& run, const dp::ConfigSnapshot& next) {
  Changes c(next.source);
  const dp::DataplaneConfig &a = run.dataplane, &b = next.dataplane;
  c.Same("dataplane.workers", a.workers, b.workers);
  c.Same("dataplane.idle_backoff_us", a.idle_backoff_us, b.idle_backoff_us);
  c.Same("dataplane.idle_polls_before_sleep", a.idle_polls_before_sleep, b.idle_polls_before_sleep);
  c.Same("dataplane.mbufs_per_port", a.mbufs_per_port, b.mbufs_per_port);
  c.Same("dataplane.rx_descriptors", a.rx_descriptors, b.rx_descriptors);
  c.Same("dataplane.tx_descriptors", a.tx_descriptors, b.tx_descriptors);
  c.Same("dataplane.burst", a.burst, b.burst);
  const dp::ArpConfig &ra = run.arp, &rb = next.arp;
  c.Same("arp.reachable_ms", ra.reachable_ms, rb.reachable_ms);
  c.Same("arp.stale_ms", ra.stale_ms, rb.stale_ms);
  c.Same("arp.retry_ms", ra.retry_ms, rb.retry_ms);
  c.Same("arp.retries", unsigned(ra.retries), unsigned(rb.retries));
  c.Same("arp.pending_packets", ra.pending_packets, rb.pending_packets);
  const dp::TcpSettings &ta = run.tcp, &tb = next.tcp;
  c.Same("tcp.max_sessions", ta.max_sessions, tb.max_sessions);
  c.Same("tcp.buffer_kib", ta.buffer_bytes / 1024, tb.buffer_bytes / 1024);
  c.Same("tcp.syn_backlog", ta.syn_backlog, tb.syn_backlog);
  c.Same("tcp.connect_timeout_ms", ta.connect_timeout_ms, tb.connect_timeout_ms);
  c.Same("tcp.connect_attempts", unsigned(ta.connect_attempts), unsigned(tb.connect_attempts));
  c.Same("tcp.idle_timeout_s", ta.idle_timeout_ms / 1000, tb.idle_timeout_ms / 1000);
  c.Same("tcp.snat_ports", std::to_string(ta.snat_port_min) + "-" + std::to_string(ta.snat_port_max),
         std::to_string(tb.snat_port_min) + "-" + std::to_string(tb.snat_port_max));
  if (run.ports.size() != next.ports.size()) {
    c.Add("port", std::to_string(run.ports.size()) + " ports", std::to_string(next.ports.size()) + " ports");
  } else {
    for (size_t i = 0; i < run.ports.size(); ++i) {
      const dp::PortConfig &pa = run.ports[i], &pb = next.ports[i];
      const std::string k = "port[" + std::to_string(i) + "].";
      c.Same(k + "name", pa.name, pb.name);
      if (pa.roles != pb.roles) c.Add(k + "roles", Roles(pa.roles), Roles(pb.roles));
      c.Same(k + "device", pa.device, pb.device);
      c.Same(k + "address", pa.address, pb.address);
      c.Same(k + "gateway", pa.gateway, pb.gateway);
      c.Same(k + "mtu", pa.mtu_bytes, pb.mtu_bytes);
      c.Same(k + "vlan", pa.vlan_id, pb.vlan_id);
    }
  }
  // Workers build their proxy at start only when there is a listener to serve.
  if (run.listeners.empty() != next.listeners.empty())
    c.Add("listener", std::to_string(run.listeners.size()) + " listeners",
          std::to_string(next.listeners.size()) + " listeners");
  return c.Take();
}

Reloader::Reloader(dp::ConfigSnapshot& running, ReloadActions actions)
    : running_(running), actions_(std::move(actions)) {}

std::string Reloader::Reload(const std::string& path) {
  const std::string file = path.empty() ? running_.source : path;
  dp::ConfigSnapshot next;
  std::string error;
  try {
    next = LoadConfig(file);
  } catch (const ConfigError& e) {
    error = e.what();
  }
  if (error.empty()) {
    std::string all;
    for (const std::string& line : CheckLiveChange(running_, next)) all += (all.empty() ? "" : "\n") + line;
    error = std::move(all);
  }
  if (error.empty()) {
    next.generation = running_.generation + 1;
    error = actions_.reconfigure ? actions_.reconfigure(next) : "this baton cannot reload";
  }
  if (!error.empty()) {
    ++stats_.reloads_failed;
    return error;
  }
  running_ = std::move(next);
  ++stats_.reloads_ok;
  return "";
}

std::string Reloader::ReloadCertificates() {
  std::string error = actions_.reload_certificates ? actions_.reload_certificates() : "this baton cannot reload";
  ++(error.empty() ? stats_.cert_reloads_ok : stats_.cert_reloads_failed);
  return error;
}

std::string Reloader::RotateTicketKeys() {
  std::string error = actions_.rotate_ticket_keys ? actions_.rotate_ticket_keys() : "this baton cannot reload";
  ++(error.empty() ? stats_.ticket_rotations_ok : stats_.ticket_rotations_failed);
  return error;
}

}  // namespace baton::cp
