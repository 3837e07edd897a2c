#include "controlplane/api.h"

#include <array>
#include <exception>

#include "controlplane/stats_report.h"

namespace baton::cp {
namespace {

using nlohmann::json;

json Error(std::string message) { return {{"ok", false}, {"error", std::move(message)}}; }
json Ok(json result) { return {{"ok", true}, {"result", std::move(result)}}; }

std::string_view AlgorithmName(dp::BalanceAlgorithm a) {
  switch (a) {
    case dp::BalanceAlgorithm::kRoundRobin: return "round_robin";
    case dp::BalanceAlgorithm::kLeastConnections: return "least_connections";
    case dp::BalanceAlgorithm::kMaglev: return "maglev";
  }
  return "unknown";
}

std::string_view ModeName(dp::ListenerMode m) {
  switch (m) {
    case dp::ListenerMode::kTcp: return "tcp";
    case dp::ListenerMode::kTls: return "tls";
  }
  return "unknown";
}

json RoleNames(uint8_t roles) {
  json out = json::array();
  if (roles & dp::kRoleFront) out.push_back("front");
  if (roles & dp::kRoleBack) out.push_back("back");
  if (roles & dp::kRoleRepl) out.push_back("repl");
  return out;
}

struct Command {
  std::string_view name;
  json (*run)(const ApiSources&);
};

const std::array<Command, 7> kCommands = {{
    {"stats", [](const ApiSources& s) { return StatsToJson(s.stats()); }},
    {"stats.drops", [](const ApiSources& s) { return DropsToJson(s.stats()); }},
    {"sessions", [](const ApiSources& s) { return SessionsToJson(s.stats()); }},
    {"backends", [](const ApiSources& s) { return BackendsToJson(s.stats()); }},
    {"ports", [](const ApiSources& s) { return PortsToJson(s.stats()); }},
    {"version", [](const ApiSources& s) { return json{{"version", s.version}}; }},
    {"config", [](const ApiSources& s) { return s.config ? ConfigToJson(*s.config) : json(nullptr); }},
}};

}  // namespace

const std::vector<std::string_view>& ApiCommands() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const Command& c : kCommands) v.push_back(c.name);
    return v;
  }();
  return names;
}

json DispatchApiRequest(std::string_view request, const ApiSources& sources) {
  if (request.size() > kMaxApiRequestBytes)
    return Error("request longer than " + std::to_string(kMaxApiRequestBytes) + " bytes");
  // No exceptions out of here: the parser's and the library's end as error answers.
  json req = json::parse(request.begin(), request.end(), nullptr, /*allow_exceptions=*/false);
  if (req.is_discarded()) return Error("malformed request: not JSON (expected {\"command\":\"NAME\"})");
  if (!req.is_object()) return Error("malformed request: expected a JSON object {\"command\":\"NAME\"}");
  const auto cmd = req.find("command");
  if (cmd == req.end() || !cmd->is_string()) return Error("malformed request: \"command\" (a string) is missing");
  for (const auto& [key, value] : req.items()) {
    // No command takes arguments yet; a stray field is more likely a typo than intent.
    if (key != "command") return Error("unknown field \"" + key + "\" (no command takes arguments yet)");
  }
  const std::string& name = cmd->get_ref<const std::string&>();
  for (const Command& c : kCommands) {
    if (c.name != name) continue;
    try {
      return Ok(c.run(sources));
    } catch (const std::exception& e) {
      return Error(std::string("internal error: ") + e.what());
    }
  }
  std::string known;
  for (const Command& c : kCommands) known += (known.empty() ? "" : ", ") + std::string(c.name);
  // Echo at most a short prefix of what was asked: the answer stays small.
  return Error("unknown command \"" + name.substr(0, 64) + "\" (known: " + known + ")");
}

json DropsToJson(const dp::StatsSnapshot& stats) {
  json drops = json::object(), tcp = json::object();
  for (const dp::LcoreStats& l : stats.lcores) {
    for (size_t i = 1; i < l.drops.size(); ++i) {
      if (l.drops[i] == 0) continue;
      const std::string key(dp::kDropKey[i]);
      drops[key] = drops.value(key, uint64_t{0}) + l.drops[i];
    }
    for (const auto& [text, count] : l.tcp_drops)
      if (count != 0) tcp[text] = tcp.value(text, uint64_t{0}) + count;
  }
  return {{"drops", drops}, {"tcp_drops", tcp}};
}

json SessionsToJson(const dp::StatsSnapshot& stats) {
  json workers = json::array();
  uint64_t total = 0, opened = 0, closed = 0;
  for (const dp::LcoreStats& l : stats.lcores) {
    total += l.sessions_active;
    opened += l.counters[dp::Idx(dp::Counter::kSessionsOpened)];
    closed += l.counters[dp::Idx(dp::Counter::kSessionsClosed)];
    workers.push_back({{"worker", l.worker}, {"lcore", l.lcore}, {"active", l.sessions_active}});
  }
  return {{"active", total}, {"opened", opened}, {"closed", closed}, {"workers", workers}};
}

json BackendsToJson(const dp::StatsSnapshot& stats) { return StatsToJson(stats)["backends"]; }

json PortsToJson(const dp::StatsSnapshot& stats) { return StatsToJson(stats)["ports"]; }

json ConfigToJson(const dp::ConfigSnapshot& c) {
  json ports = json::array(), pools = json::array(), listeners = json::array();
  for (const dp::PortConfig& p : c.ports) {
    ports.push_back({{"name", p.name},
                     {"roles", RoleNames(p.roles)},
                     {"device", p.device},
                     {"address", p.address.ToString()},
                     {"gateway", p.gateway.IsSet() ? json(p.gateway.ToString()) : json(nullptr)},
                     {"mtu_bytes", p.mtu_bytes},
                     {"vlan_id", p.vlan_id}});
  }
  for (const dp::PoolConfig& p : c.pools) {
    json backends = json::array();
    for (const dp::BackendConfig& b : p.backends)
      backends.push_back({{"address", b.address.ToString() + ":" + std::to_string(b.port)}, {"weight", b.weight}});
    pools.push_back({{"name", p.name}, {"algorithm", AlgorithmName(p.algorithm)}, {"backends", backends}});
  }
  for (const dp::ListenerConfig& l : c.listeners) {
    listeners.push_back({{"name", l.name},
                         {"vip", l.vip.ToString() + ":" + std::to_string(l.port)},
                         {"mode", ModeName(l.mode)},
                         {"pool", l.pool < c.pools.size() ? json(c.pools[l.pool].name) : json(nullptr)},
                         {"proxy_protocol", l.proxy_protocol}});
  }
  return {{"source", c.source},
          {"generation", c.generation},
          {"workers", c.dataplane.workers},
          {"ports", ports},
          {"pools", pools},
          {"listeners", listeners}};
}

}  // namespace baton::cp
