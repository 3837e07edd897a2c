// The runtime API's request dispatcher: one JSON request in, one JSON answer out.
// Pure: it reads counters and the config through ApiSources and touches no socket, so
// tests drive it with a fake StatsSnapshot. The socket side is api_server.h; the
// protocol and every command are in docs/API.md.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/api/control.h"
#include "dataplane/api/stats.h"

namespace baton::cp {

// A request line longer than this is refused without being parsed.
inline constexpr size_t kMaxApiRequestBytes = 64 * 1024;

struct ApiSources {
  std::function<dp::StatsSnapshot()> stats;  // called only by commands that need counters
  const dp::ConfigSnapshot* config = nullptr;  // the loaded snapshot; outlives the server
  std::string version;
  // Applies a checked backend change (dp::ChangeBackend in baton run); empty string on
  // success, else why nothing changed. Unset: the API refuses every change.
  std::function<std::string(const dp::BackendChange&)> change_backend;
  // dp::HaltWorker and dp::Rebalance in baton run; unset: refused.
  std::function<std::string(uint16_t worker)> halt_worker;
  std::function<std::string(uint16_t from, uint16_t to, double share, uint64_t& moved)> rebalance;
  // dp::ListSessions in baton run; unset: "sessions" answers counts only.
  std::function<std::vector<dp::SessionInfo>(const dp::SessionFilter&, uint64_t& matched)> list_sessions;
  // Live reload (cp::Reloader in baton run): "" on success, else why nothing changed.
  // `reload` takes a config path; "" means the file the running config came from. On
  // success `config` already points at the new snapshot. Unset: refused.
  std::function<std::string(const std::string& path)> reload;
  std::function<std::string()> reload_certs;
  std::function<std::string()> rotate_ticket_keys;
};

// `request` is one line without its newline: {"command":"stats"}. Returns
// {"ok":true,"result":...} or {"ok":false,"error":"..."}; never throws. Only the
// "backend", "worker", "rebalance" and the reload commands change anything, and a
// refused request changes nothing.
nlohmann::json DispatchApiRequest(std::string_view request, const ApiSources& sources);

// The command names, in the order docs/API.md lists them.
const std::vector<std::string_view>& ApiCommands();

// The answers' result parts, shared with `baton ctl` and the tests.
nlohmann::json DropsToJson(const dp::StatsSnapshot& stats);     // non-zero only
nlohmann::json SessionsToJson(const dp::StatsSnapshot& stats);
nlohmann::json BackendsToJson(const dp::StatsSnapshot& stats);
nlohmann::json PortsToJson(const dp::StatsSnapshot& stats);
nlohmann::json ConfigToJson(const dp::ConfigSnapshot& config);

}  // namespace baton::cp
