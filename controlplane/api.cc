#include "controlplane/api.h"

#include <algorithm>
#include <array>
#include <exception>
#include <span>
#include <stdexcept>

#include "controlplane/stats_report.h"

namespace baton::cp {
namespace {

using nlohmann::json;
using dp::IpAddr;

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

// Arguments of the "backend" command, checked against the config: every refusal names
// what was wrong and what would be right.
json ChangeBackendCommand(const ApiSources& s, const json& req) {
  if (s.config == nullptr || !s.change_backend) throw std::runtime_error("this baton cannot change backends");
  const dp::ConfigSnapshot& c = *s.config;
  auto text = [&](const char* key) -> const std::string* {
    const auto it = req.find(key);
    return it != req.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string* pool_name = text("pool");
  const std::string* address = text("backend");
  const std::string* action = text("action");
  if (pool_name == nullptr) throw std::invalid_argument("\"pool\" (a string, the pool's name) is missing");
  if (address == nullptr) throw std::invalid_argument("\"backend\" (a string, ADDRESS:PORT) is missing");
  if (action == nullptr)
    throw std::invalid_argument("\"action\" (a string: enable, disable, drain or weight) is missing");
  size_t pool = c.pools.size();
  std::string pools;
  for (size_t i = 0; i < c.pools.size(); ++i) {
    if (c.pools[i].name == *pool_name) pool = i;
    pools += (pools.empty() ? "" : ", ") + c.pools[i].name;
  }
  if (pool == c.pools.size())
    throw std::invalid_argument("unknown pool \"" + pool_name->substr(0, 64) + "\" (pools: " + pools + ")");
  size_t backend = c.pools[pool].backends.size();
  std::string backends;
  for (size_t i = 0; i < c.pools[pool].backends.size(); ++i) {
    const dp::BackendConfig& b = c.pools[pool].backends[i];
    const std::string name = b.address.ToString() + ":" + std::to_string(b.port);
    if (name == *address) backend = i;
    backends += (backends.empty() ? "" : ", ") + name;
  }
  if (backend == c.pools[pool].backends.size())
    throw std::invalid_argument("pool \"" + *pool_name + "\" has no backend \"" + address->substr(0, 64) +
                                "\" (backends: " + backends + ")");
  dp::BackendChange change{uint16_t(pool), uint16_t(backend), std::nullopt, std::nullopt};
  const auto weight = req.find("weight");
  if (*action == "weight") {
    const std::string range = "0.." + std::to_string(dp::kMaxBackendWeight);
    if (weight == req.end()) throw std::invalid_argument("\"weight\" (an integer " + range + ") is missing");
    if (!weight->is_number_integer() || weight->get<int64_t>() < 0 ||
        weight->get<int64_t>() > int64_t(dp::kMaxBackendWeight))
      throw std::invalid_argument("\"weight\" must be an integer " + range + ", got " + weight->dump());
    change.weight = weight->get<uint16_t>();
  } else {
    if (weight != req.end()) throw std::invalid_argument("\"weight\" goes only with \"action\":\"weight\"");
    if (*action == "enable") {
      change.admin = dp::BackendAdmin::kEnabled;
    } else if (*action == "disable") {
      change.admin = dp::BackendAdmin::kDisabled;
    } else if (*action == "drain") {
      change.admin = dp::BackendAdmin::kDraining;
    } else {
      throw std::invalid_argument("unknown action \"" + action->substr(0, 64) +
                                  "\" (expected enable, disable, drain or weight)");
    }
  }
  if (const std::string err = s.change_backend(change); !err.empty()) throw std::runtime_error(err);
  // The backend as the data plane now reports it (admin state, weight, sessions left).
  const std::string name = c.pools[pool].backends[backend].address.ToString() + ":" +
                           std::to_string(c.pools[pool].backends[backend].port);
  for (const json& b : BackendsToJson(s.stats()))
    if (b.value("pool", "") == *pool_name && b.value("address", "") == name) return b;
  return json{{"pool", *pool_name}, {"address", name}};
}

// An integer argument in [0, max], or a refusal naming it.
uint16_t WorkerArgument(const json& req, const char* key, uint16_t workers) {
  const auto it = req.find(key);
  const std::string range = "0.." + std::to_string(workers - 1);
  if (it == req.end()) throw std::invalid_argument(std::string("\"") + key + "\" (a worker number " + range + ") is missing");
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() >= workers)
    throw std::invalid_argument(std::string("\"") + key + "\" must be a worker number " + range + ", got " +
                                it->dump().substr(0, 64));
  return it->get<uint16_t>();
}

// "ADDRESS:PORT" of an IPv4 endpoint, or a refusal naming the field.
std::pair<IpAddr, uint16_t> EndpointArgument(const json& v, const char* key) {
  const std::string text = v.is_string() ? v.get<std::string>() : "";
  const size_t colon = text.rfind(':');
  const std::optional<IpAddr> ip = colon == std::string::npos ? std::nullopt : IpAddr::Parse(text.substr(0, colon));
  int port = 0;
  if (colon != std::string::npos) {
    const std::string p = text.substr(colon + 1);
    if (!p.empty() && p.size() <= 5 && p.find_first_not_of("0123456789") == std::string::npos) port = std::stoi(p);
  }
  if (!ip || port < 1 || port > 65535)
    throw std::invalid_argument(std::string("\"") + key + "\" must be \"ADDRESS:PORT\", got " + v.dump().substr(0, 64));
  return {*ip, uint16_t(port)};
}

// "sessions": counts; with "list": true, the sessions matching the filters too.
json SessionsCommand(const ApiSources& s, const json& req) {
  json out = SessionsToJson(s.stats());
  const auto list = req.find("list");
  if (list == req.end() || (list->is_boolean() && !list->get<bool>())) {
    for (const char* k : {"worker", "client", "vip", "backend", "limit"})
      if (req.contains(k)) throw std::invalid_argument(std::string("\"") + k + "\" goes only with \"list\":true");
    return out;
  }
  if (!list->is_boolean()) throw std::invalid_argument("\"list\" must be true or false");
  if (!s.list_sessions) throw std::runtime_error("this baton cannot list sessions");
  dp::SessionFilter f;
  if (const auto w = req.find("worker"); w != req.end())
    f.worker = WorkerArgument(req, "worker", s.config != nullptr ? s.config->dataplane.workers : 1);
  if (const auto c = req.find("client"); c != req.end()) {
    f.client = c->is_string() ? IpAddr::Parse(c->get<std::string>()) : std::nullopt;
    if (!f.client) throw std::invalid_argument("\"client\" must be an IPv4 address, got " + c->dump().substr(0, 64));
  }
  if (const auto v = req.find("vip"); v != req.end()) f.vip = EndpointArgument(*v, "vip");
  if (const auto b = req.find("backend"); b != req.end()) f.backend = EndpointArgument(*b, "backend");
  if (const auto l = req.find("limit"); l != req.end()) {
    if (!l->is_number_integer() || l->get<int64_t>() < 1 || l->get<int64_t>() > 10000)
      throw std::invalid_argument("\"limit\" must be an integer 1..10000, got " + l->dump().substr(0, 64));
    f.limit = l->get<uint32_t>();
  }
  uint64_t matched = 0;
  json list_out = json::array();
  for (const dp::SessionInfo& i : s.list_sessions(f, matched)) {
    list_out.push_back({{"index", i.index},
                        {"worker", i.worker},
                        {"owner", i.owner_state},
                        {"client", i.client},
                        {"vip", i.vip},
                        {"backend", i.backend.empty() ? json(nullptr) : json(i.backend)},
                        {"snat_port", i.snat_port},
                        {"client_tcp", i.client_tcp},
                        {"backend_tcp", i.backend_tcp.empty() ? json(nullptr) : json(i.backend_tcp)},
                        {"tls", i.tls}});
  }
  out["matched"] = matched;
  out["list"] = std::move(list_out);
  return out;
}

json WorkerCommand(const ApiSources& s, const json& req) {
  if (s.config == nullptr || !s.halt_worker) throw std::runtime_error("this baton cannot control workers");
  const uint16_t w = WorkerArgument(req, "worker", s.config->dataplane.workers);
  const auto action = req.find("action");
  if (action == req.end() || !action->is_string() || action->get<std::string>() != "halt")
    throw std::invalid_argument("\"action\" must be \"halt\"");
  if (const std::string err = s.halt_worker(w); !err.empty()) throw std::runtime_error(err);
  return json{{"worker", w}, {"action", "halt"}};
}

json RebalanceCommand(const ApiSources& s, const json& req) {
  if (s.config == nullptr || !s.rebalance) throw std::runtime_error("this baton cannot rebalance");
  const uint16_t workers = s.config->dataplane.workers;
  const uint16_t from = WorkerArgument(req, "from", workers);
  const uint16_t to = WorkerArgument(req, "to", workers);
  const auto share = req.find("share");
  if (share == req.end() || !share->is_number() || !(share->get<double>() > 0 && share->get<double>() <= 1))
    throw std::invalid_argument("\"share\" must be a number in (0, 1]: the share of FROM's sessions to move");
  if (from == to) throw std::invalid_argument("\"from\" and \"to\" are the same worker");
  uint64_t moved = 0;
  if (const std::string err = s.rebalance(from, to, share->get<double>(), moved); !err.empty())
    throw std::runtime_error(err);
  return json{{"from", from}, {"to", to}, {"share", share->get<double>()}, {"moved", moved}};
}

// A change the data plane or the config loader refused: its text goes to the caller as
// it is (no "internal error"), and nothing changed.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

json ReloadResult(const ApiSources& s) {
  json r = s.stats ? StatsToJson(s.stats())["reload"] : json::object();
  if (s.config != nullptr) r["source"] = s.config->source;
  return r;
}

json ReloadCommand(const ApiSources& s, const json& req) {
  if (!s.reload) throw Refused("this baton cannot reload");
  std::string path;
  if (const auto it = req.find("path"); it != req.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty())
      throw std::invalid_argument("\"path\" must be a non-empty string (a config file), got " + it->dump().substr(0, 64));
    path = it->get<std::string>();
  }
  if (std::string err = s.reload(path); !err.empty()) throw Refused(err);
  return ReloadResult(s);
}

json ReloadCertsCommand(const ApiSources& s, const json&) {
  if (!s.reload_certs) throw Refused("this baton cannot reload certificates");
  if (std::string err = s.reload_certs(); !err.empty()) throw Refused(err);
  return ReloadResult(s);
}

json RotateTicketKeysCommand(const ApiSources& s, const json&) {
  if (!s.rotate_ticket_keys) throw Refused("this baton cannot rotate ticket keys");
  if (std::string err = s.rotate_ticket_keys(); !err.empty()) throw Refused(err);
  return ReloadResult(s);
}

struct Command {
  std::string_view name;
  json (*run)(const ApiSources&, const json& request);
  std::span<const std::string_view> arguments;  // fields besides "command"
};

constexpr std::string_view kBackendArguments[] = {"pool", "backend", "action", "weight"};
constexpr std::string_view kWorkerArguments[] = {"worker", "action"};
constexpr std::string_view kSessionsArguments[] = {"list", "worker", "client", "vip", "backend", "limit"};
constexpr std::string_view kRebalanceArguments[] = {"from", "to", "share"};

constexpr std::string_view kReloadArguments[] = {"path"};

const std::array<Command, 13> kCommands = {{
    {"stats", [](const ApiSources& s, const json&) { return StatsToJson(s.stats()); }, {}},
    {"stats.drops", [](const ApiSources& s, const json&) { return DropsToJson(s.stats()); }, {}},
    {"sessions", SessionsCommand, kSessionsArguments},
    {"backends", [](const ApiSources& s, const json&) { return BackendsToJson(s.stats()); }, {}},
    {"ports", [](const ApiSources& s, const json&) { return PortsToJson(s.stats()); }, {}},
    {"version", [](const ApiSources& s, const json&) { return json{{"version", s.version}}; }, {}},
    {"config",
     [](const ApiSources& s, const json&) { return s.config ? ConfigToJson(*s.config) : json(nullptr); },
     {}},
    {"backend", ChangeBackendCommand, kBackendArguments},
    {"worker", WorkerCommand, kWorkerArguments},
    {"rebalance", RebalanceCommand, kRebalanceArguments},
    {"reload", ReloadCommand, kReloadArguments},
    {"reload-certs", ReloadCertsCommand, {}},
    {"rotate-ticket-keys", RotateTicketKeysCommand, {}},
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
  const std::string& name = cmd->get_ref<const std::string&>();
  for (const Command& c : kCommands) {
    if (c.name != name) continue;
    for (const auto& [key, value] : req.items()) {
      // A stray field is more likely a typo than intent: refuse it rather than ignore it.
      if (key == "command" || std::find(c.arguments.begin(), c.arguments.end(), key) != c.arguments.end())
        continue;
      std::string takes;
      for (std::string_view a : c.arguments) takes += (takes.empty() ? "" : ", ") + std::string(a);
      return Error("unknown field \"" + key.substr(0, 64) + "\" (command \"" + name + "\" takes " +
                   (takes.empty() ? std::string("no arguments") : takes) + ")");
    }
    try {
      return Ok(c.run(sources, req));
    } catch (const std::invalid_argument& e) {
      return Error(e.what());  // a refused argument: nothing changed
    } catch (const Refused& e) {
      return Error(e.what());
    } catch (const std::exception& e) {
      // The data plane's refusals ("worker 1 is not running") are not internal errors.
      const bool changes = c.name == "backend" || c.name == "worker" || c.name == "rebalance";
      return Error(std::string(changes ? "" : "internal error: ") + e.what());
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
    workers.push_back({{"worker", l.worker}, {"lcore", l.lcore}, {"active", l.sessions_active}, {"state", l.state}});
  }
  return {{"active", total}, {"opened", opened}, {"closed", closed}, {"workers", workers},
          {"table_occupancy", stats.table.occupancy}, {"table_capacity", stats.table.capacity}};
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
