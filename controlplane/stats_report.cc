#include "controlplane/stats_report.h"

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace baton::cp {
namespace {

nlohmann::json HistogramToJson(const dp::LatencyHistogram& h) {
  return {{"buckets", h.buckets}, {"sum_us", h.sum_us}, {"count", h.Count()}};
}

}  // namespace

dp::LatencyHistogram TotalLatency(const dp::StatsSnapshot& stats, dp::Latency which) {
  dp::LatencyHistogram total;
  for (const dp::LcoreStats& l : stats.lcores) total.Merge(l.latency[dp::Idx(which)]);
  return total;
}

std::string FormatUs(uint64_t us) {
  char buf[32];
  if (us < 1'000)
    std::snprintf(buf, sizeof buf, "%" PRIu64 " us", us);
  else if (us < 1'000'000)
    std::snprintf(buf, sizeof buf, "%.1f ms", double(us) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", double(us) / 1e6);
  return buf;
}

nlohmann::json StatsToJson(const dp::StatsSnapshot& stats) {
  using nlohmann::json;
  json out;
  out["ports"] = json::array();
  for (const dp::PortStats& p : stats.ports) {
    out["ports"].push_back({{"name", p.name},
                            {"mac", p.mac},
                            {"driver", p.driver},
                            {"link_up", p.link_up},
                            {"rss", p.rss},
                            {"rx_ip_checksum_offload", p.rx_ip_checksum_offload},
                            {"tx_ip_checksum_offload", p.tx_ip_checksum_offload},
                            {"ipackets", p.ipackets},
                            {"opackets", p.opackets},
                            {"ibytes", p.ibytes},
                            {"obytes", p.obytes},
                            {"imissed", p.imissed},
                            {"ierrors", p.ierrors},
                            {"oerrors", p.oerrors},
                            {"rx_nombuf", p.rx_nombuf}});
  }
  out["backends"] = json::array();
  for (const dp::BackendStats& b : stats.backends) {
    json checks = json::object();
    for (size_t r = 0; r < b.health_checks.size(); ++r) checks[std::string(dp::kHealthResultKey[r])] = b.health_checks[r];
    out["backends"].push_back({{"pool", b.pool},
                               {"address", b.address},
                               {"sessions_started", b.sessions_started},
                               {"active_sessions", b.active_sessions},
                               {"connect_failures", b.connect_failures},
                               {"admin", b.admin},
                               {"weight", b.weight},
                               {"up", b.up},
                               {"health_checked", b.health_checked},
                               {"health_transitions", b.health_transitions},
                               {"health_checks", checks},
                               {"down_reason", b.down_reason},
                               {"last_http_status", b.last_http_status}});
  }
  out["queues"] = json::array();
  for (const dp::QueueStats& q : stats.queues) {
    out["queues"].push_back({{"port", q.port},
                             {"queue", q.queue},
                             {"rx_packets", q.rx_packets},
                             {"rx_bytes", q.rx_bytes},
                             {"tx_packets", q.tx_packets},
                             {"tx_bytes", q.tx_bytes},
                             {"tx_full", q.tx_full}});
  }
  out["lcores"] = json::array();
  json total_drops = json::object(), total_counters = json::object();
  for (size_t i = 1; i < dp::kDropKey.size(); ++i) total_drops[std::string(dp::kDropKey[i])] = 0;
  for (size_t i = 0; i < dp::kCounterKey.size(); ++i) total_counters[std::string(dp::kCounterKey[i])] = 0;
  json total_tcp_drops = json::object();
  uint64_t total_sessions = 0;
  for (const dp::LcoreStats& l : stats.lcores) {
    json drops = json::object(), counters = json::object(), tcp_drops = json::object();
    for (const auto& [text, count] : l.tcp_drops) {
      tcp_drops[text] = count;
      total_tcp_drops[text] = total_tcp_drops.value(text, uint64_t{0}) + count;
    }
    total_sessions += l.sessions_active;
    for (size_t i = 1; i < l.drops.size(); ++i) {
      const std::string key(dp::kDropKey[i]);
      drops[key] = l.drops[i];
      total_drops[key] = total_drops[key].get<uint64_t>() + l.drops[i];
    }
    for (size_t i = 0; i < l.counters.size(); ++i) {
      const std::string key(dp::kCounterKey[i]);
      counters[key] = l.counters[i];
      total_counters[key] = total_counters[key].get<uint64_t>() + l.counters[i];
    }
    json latency = json::object();
    for (size_t h = 0; h < l.latency.size(); ++h)
      latency[std::string(dp::kLatencyKey[h])] = HistogramToJson(l.latency[h]);
    out["lcores"].push_back({{"lcore", l.lcore},
                             {"worker", l.worker},
                             {"passes", l.passes},
                             {"busy_passes", l.busy_passes},
                             {"sleeps", l.sleeps},
                             {"rx_packets", l.rx_packets},
                             {"tx_packets", l.tx_packets},
                             {"sessions_active", l.sessions_active},
                             {"state", l.state},
                             {"taken_over_by", l.taken_over_by},
                             {"counters", counters},
                             {"drops", drops},
                             {"tcp_drops", tcp_drops},
                             {"latency", latency}});
  }
  out["drops"] = total_drops;
  out["counters"] = total_counters;
  out["tcp_drops"] = total_tcp_drops;
  out["sessions_active"] = total_sessions;
  json table = json::object();
  for (const dp::SessionTableField& f : dp::kSessionTableFields) table[std::string(f.key)] = stats.table.*f.field;
  out["session_table"] = table;
  // Summed over the workers, with estimated quantiles (docs/API.md, "Latency").
  json latency = json::object();
  for (size_t h = 0; h < dp::kLatencyKey.size(); ++h) {
    const dp::LatencyHistogram t = TotalLatency(stats, dp::Latency(h));
    json j = HistogramToJson(t);
    j["p50_us"] = t.QuantileUs(0.50);
    j["p90_us"] = t.QuantileUs(0.90);
    j["p99_us"] = t.QuantileUs(0.99);
    latency[std::string(dp::kLatencyKey[h])] = std::move(j);
  }
  out["latency"] = std::move(latency);
  out["latency_bounds_us"] = dp::kLatencyBoundsUs;
  const dp::ReloadStats& r = stats.reload;
  out["reload"] = {{"config_generation", r.config_generation},
                   {"reloads_ok", r.reloads_ok},
                   {"reloads_failed", r.reloads_failed},
                   {"cert_reloads_ok", r.cert_reloads_ok},
                   {"cert_reloads_failed", r.cert_reloads_failed},
                   {"ticket_rotations_ok", r.ticket_rotations_ok},
                   {"ticket_rotations_failed", r.ticket_rotations_failed}};
  return out;
}

dp::StatsSnapshot StatsFromJson(const nlohmann::json& j) {
  using nlohmann::json;
  const json empty_array = json::array(), empty_object = json::object();
  auto u64 = [](const json& o, const char* key) { return o.value(key, uint64_t{0}); };
  dp::StatsSnapshot s;
  const json table = j.value("session_table", empty_object);
  for (const dp::SessionTableField& f : dp::kSessionTableFields) s.table.*f.field = u64(table, std::string(f.key).c_str());
  for (const json& p : j.value("ports", empty_array)) {
    dp::PortStats ps;
    ps.name = p.value("name", "");
    ps.mac = p.value("mac", "");
    ps.driver = p.value("driver", "");
    ps.link_up = p.value("link_up", false);
    ps.rss = p.value("rss", false);
    ps.rx_ip_checksum_offload = p.value("rx_ip_checksum_offload", false);
    ps.tx_ip_checksum_offload = p.value("tx_ip_checksum_offload", false);
    ps.ipackets = u64(p, "ipackets");
    ps.opackets = u64(p, "opackets");
    ps.ibytes = u64(p, "ibytes");
    ps.obytes = u64(p, "obytes");
    ps.imissed = u64(p, "imissed");
    ps.ierrors = u64(p, "ierrors");
    ps.oerrors = u64(p, "oerrors");
    ps.rx_nombuf = u64(p, "rx_nombuf");
    s.ports.push_back(std::move(ps));
  }
  for (const json& b : j.value("backends", empty_array)) {
    dp::BackendStats bs;
    bs.pool = b.value("pool", "");
    bs.address = b.value("address", "");
    bs.sessions_started = u64(b, "sessions_started");
    bs.active_sessions = u64(b, "active_sessions");
    bs.connect_failures = u64(b, "connect_failures");
    bs.admin = b.value("admin", "enabled");
    bs.weight = b.value("weight", uint16_t{1});
    bs.up = b.value("up", true);
    bs.health_checked = b.value("health_checked", false);
    bs.health_transitions = u64(b, "health_transitions");
    const json checks = b.value("health_checks", json::object());
    for (size_t r = 0; r < bs.health_checks.size(); ++r) bs.health_checks[r] = u64(checks, dp::kHealthResultKey[r].data());
    bs.down_reason = b.value("down_reason", "");
    bs.last_http_status = b.value("last_http_status", uint16_t{0});
    s.backends.push_back(std::move(bs));
  }
  for (const json& q : j.value("queues", empty_array)) {
    s.queues.push_back({q.value("port", uint16_t{0}), q.value("queue", uint16_t{0}), u64(q, "rx_packets"),
                        u64(q, "rx_bytes"), u64(q, "tx_packets"), u64(q, "tx_bytes"), u64(q, "tx_full")});
  }
  for (const json& l : j.value("lcores", empty_array)) {
    dp::LcoreStats ls;
    ls.lcore = l.value("lcore", uint16_t{0});
    ls.worker = l.value("worker", uint16_t{0});
    ls.passes = u64(l, "passes");
    ls.busy_passes = u64(l, "busy_passes");
    ls.sleeps = u64(l, "sleeps");
    ls.rx_packets = u64(l, "rx_packets");
    ls.tx_packets = u64(l, "tx_packets");
    ls.sessions_active = u64(l, "sessions_active");
    ls.state = l.value("state", "running");
    ls.taken_over_by = l.value("taken_over_by", int32_t{-1});
    const json counters = l.value("counters", empty_object), drops = l.value("drops", empty_object);
    for (size_t i = 0; i < ls.counters.size(); ++i) ls.counters[i] = u64(counters, std::string(dp::kCounterKey[i]).c_str());
    for (size_t i = 1; i < ls.drops.size(); ++i) ls.drops[i] = u64(drops, std::string(dp::kDropKey[i]).c_str());
    const json tcp_drops = l.value("tcp_drops", empty_object);  // items() must not outlive it
    for (const auto& [text, count] : tcp_drops.items())
      ls.tcp_drops.emplace_back(text, count.get<uint64_t>());
    const json latency = l.value("latency", empty_object);
    for (size_t h = 0; h < ls.latency.size(); ++h) {
      const json one = latency.value(std::string(dp::kLatencyKey[h]), empty_object);
      const json buckets = one.value("buckets", empty_array);
      // Another build's bucket layout would be misread: such a histogram stays empty.
      if (buckets.size() != dp::kLatencyBuckets) continue;
      for (size_t i = 0; i < dp::kLatencyBuckets; ++i) ls.latency[h].buckets[i] = buckets[i].get<uint64_t>();
      ls.latency[h].sum_us = u64(one, "sum_us");
    }
    s.lcores.push_back(std::move(ls));
  }
  const json reload = j.value("reload", empty_object);
  s.reload = {u64(reload, "config_generation"), u64(reload, "reloads_ok"),          u64(reload, "reloads_failed"),
              u64(reload, "cert_reloads_ok"),   u64(reload, "cert_reloads_failed"), u64(reload, "ticket_rotations_ok"),
              u64(reload, "ticket_rotations_failed")};
  return s;
}

std::string StatsReport(const dp::StatsSnapshot& stats) {
  std::ostringstream o;
  for (const dp::PortStats& p : stats.ports) {
    o << "port " << p.name << " (" << p.driver << ", " << p.mac << ", link " << (p.link_up ? "up" : "down")
      << "): rx " << p.ipackets << " pkts / " << p.ibytes << " B, tx " << p.opackets << " pkts / " << p.obytes
      << " B, missed " << p.imissed << ", rx errors " << p.ierrors << ", tx errors " << p.oerrors << "\n";
  }
  for (const dp::BackendStats& b : stats.backends) {
    o << "backend " << b.pool << " " << b.address << ": sessions " << b.sessions_started << " (active "
      << b.active_sessions << "), connect failures " << b.connect_failures << ", " << b.admin << ", weight "
      << b.weight << ", " << (b.up ? "up" : "down") << "\n";
  }
  if (stats.table.capacity != 0) {
    const dp::SessionTableStats& t = stats.table;
    o << "session table: " << t.occupancy << " of " << t.capacity << " records (" << t.pending_reclaim
      << " awaiting reclaim), adoptions " << t.adoptions + t.claims << ", hand-offs " << t.hand_offs
      << " (accepted " << t.rebalanced << "), refused: table full " << t.table_full << ", hash full "
      << t.hash_full << "\n";
  }
  o << "latency:";
  for (size_t h = 0; h < dp::kLatencyKey.size(); ++h) {
    const dp::LatencyHistogram t = TotalLatency(stats, dp::Latency(h));
    o << (h == 0 ? " " : "; ") << dp::kLatencyKey[h] << " ";
    if (t.Count() == 0) {
      o << "none";
      continue;
    }
    o << "n=" << t.Count() << " p50 " << FormatUs(t.QuantileUs(0.5)) << " p90 " << FormatUs(t.QuantileUs(0.9))
      << " p99 " << FormatUs(t.QuantileUs(0.99));
  }
  o << "\n";
  if (const dp::ReloadStats& r = stats.reload; r.config_generation != 0) {
    o << "config generation " << r.config_generation << ": reloads " << r.reloads_ok << " ok, " << r.reloads_failed
      << " failed; certificate reloads " << r.cert_reloads_ok << " ok, " << r.cert_reloads_failed
      << " failed; ticket-key rotations " << r.ticket_rotations_ok << " ok, " << r.ticket_rotations_failed
      << " failed\n";
  }
  for (const dp::LcoreStats& l : stats.lcores) {
    o << "worker " << l.worker << " (lcore " << l.lcore << "): rx " << l.rx_packets << ", tx " << l.tx_packets
      << ", passes " << l.passes << " (busy " << l.busy_passes << "), idle sleeps " << l.sleeps
      << ", sessions active " << l.sessions_active;
    if (l.state != "running") o << ", " << l.state;
    if (l.taken_over_by >= 0) o << " (taken over by worker " << l.taken_over_by << ")";
    o << "\n";
    for (size_t i = 0; i < l.counters.size(); ++i)
      if (l.counters[i] != 0) o << "  " << dp::kCounterKey[i] << ": " << l.counters[i] << "\n";
    for (size_t i = 1; i < l.drops.size(); ++i)
      if (l.drops[i] != 0) o << "  drop " << dp::kDropKey[i] << " (" << dp::kDropText[i] << "): " << l.drops[i] << "\n";
    for (const auto& [text, count] : l.tcp_drops)
      if (count != 0) o << "    tcp: " << text << ": " << count << "\n";
  }
  return o.str();
}

bool WriteStatsFile(const std::string& path, const dp::StatsSnapshot& stats) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return false;
    f << StatsToJson(stats).dump(2) << "\n";
    if (!f.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace baton::cp
