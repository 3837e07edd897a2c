#include "controlplane/ctl.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <sstream>

#include "controlplane/stats_report.h"

namespace baton::cp {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until `deadline`; false on timeout or error.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = poll(&p, 1, int(left));
    if (rc > 0) return true;
    if (rc == 0 || errno != EINTR) return false;
  }
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string U(const json& j, const char* key) { return std::to_string(j.value(key, uint64_t{0})); }

// "enabled, weight 1, up" / "draining, 3 sessions remain, weight 1, down: timeout (health checks, 1 transitions)".
std::string BackendState(const json& b) {
  std::string s = b.value("admin", "enabled");
  if (s == "draining") {
    const uint64_t left = b.value("active_sessions", uint64_t{0});
    s += left == 0 ? ", no sessions remain" : ", " + std::to_string(left) + " session(s) remain";
  }
  s += ", weight " + U(b, "weight") + ", " + (b.value("up", true) ? "up" : "down");
  if (const std::string why = b.value("down_reason", ""); !b.value("up", true) && !why.empty()) s += ": " + why;
  if (b.value("health_checked", false)) s += " (health checks, " + U(b, "health_transitions") + " transitions)";
  return s;
}

}  // namespace

const std::vector<CtlCommand>& CtlCommands() {
  static const std::vector<CtlCommand> commands = {
      {"stats", "stats", "every counter: ports, backends, workers, drops"},
      {"sessions", "sessions",
       "sessions active, total and per worker; sessions list [worker=N] [client=IP] [vip=IP:PORT] "
       "[backend=IP:PORT] [limit=N] lists them"},
      {"backends", "backends", "per-backend sessions and connect failures"},
      {"drops", "stats.drops", "non-zero drops by reason, and why TCP refused segments"},
      {"ports", "ports", "ports and their NIC counters"},
      {"config", "config", "the loaded config: ports, pools, listeners"},
      {"version", "version", "the running baton's version"},
      {"backend", "backend",
       "change a backend: backend POOL ADDRESS:PORT enable|disable|drain, or backend POOL ADDRESS:PORT weight N"},
      {"worker", "worker", "worker halt N: stop worker N as a stuck core would (another takes over its sessions)"},
      {"rebalance", "rebalance", "rebalance FROM TO SHARE: move SHARE (0..1] of worker FROM's sessions to worker TO"},
      {"reload", "reload", "reload the config file baton was started with, or reload FILE; refused: nothing changes"},
      {"reload-certs", "reload-certs", "read every TLS listener's certificate and key files again"},
      {"rotate-ticket-keys", "rotate-ticket-keys",
       "a new session-ticket key (the previous ones still resume); re-reads ticket_key_file"},
  };
  return commands;
}

int CtlCall(const std::string& socket_path, const std::string& request, json& answer, std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    error = "socket path too long or empty: " + socket_path;
    return kCtlCannotConnect;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0 || connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    error = "cannot connect to " + socket_path + ": " + std::strerror(errno) + " (is baton running? --socket PATH)";
    return kCtlCannotConnect;
  }
  const auto deadline = Clock::now() + kCtlTimeout;
  const std::string line = request + "\n";
  for (size_t off = 0; off < line.size();) {
    if (!WaitFor(fd.get(), POLLOUT, deadline)) {
      error = "timed out sending to " + socket_path;
      return kCtlCannotConnect;
    }
    const ssize_t n = send(fd.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      error = "cannot send to " + socket_path + ": " + std::strerror(errno);
      return kCtlCannotConnect;
    }
    if (n > 0) off += size_t(n);
  }
  std::string in;
  char buf[65536];
  while (in.find('\n') == std::string::npos) {
    if (!WaitFor(fd.get(), POLLIN, deadline)) {
      error = "no answer from " + socket_path + " within " + std::to_string(kCtlTimeout.count()) + " s";
      return kCtlCannotConnect;
    }
    const ssize_t n = recv(fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      error = "cannot read from " + socket_path + ": " + std::strerror(errno);
      return kCtlCannotConnect;
    }
    in.append(buf, size_t(n));
  }
  answer = json::parse(in.substr(0, in.find('\n')), nullptr, /*allow_exceptions=*/false);
  const bool well_formed = !answer.is_discarded() && answer.is_object() && answer.contains("ok") &&
                          answer["ok"].is_boolean() &&
                          (answer["ok"].get<bool>() ? answer.contains("result")
                                                    : answer.contains("error") && answer["error"].is_string());
  if (!well_formed) {
    error = "unreadable answer from " + socket_path;
    return kCtlCannotConnect;
  }
  return kCtlOk;
}

std::string FormatCtlResult(const std::string& command, const json& r) {
  std::ostringstream o;
  if (command == "stats") return StatsReport(StatsFromJson(r));
  if (command == "sessions") {
    o << "sessions active " << U(r, "active") << " (opened " << U(r, "opened") << ", closed " << U(r, "closed")
      << ")\n";
    for (const json& w : r.value("workers", json::array()))
      o << "  worker " << U(w, "worker") << " (lcore " << U(w, "lcore") << "): " << U(w, "active") << "\n";
    if (r.contains("list")) {
      o << "matched " << U(r, "matched") << ", listed " << r["list"].size() << "\n";
      for (const json& x : r["list"]) {
        o << "  #" << U(x, "index") << " worker " << U(x, "worker") << (x.value("owner", "") == "owned" ? "" : " (handing off)")
          << " " << x.value("client", "") << " -> " << x.value("vip", "") << (x.value("tls", false) ? " tls" : "")
          << " [" << x.value("client_tcp", "") << "]";
        if (x["backend"].is_string())
          o << " | :" << U(x, "snat_port") << " -> " << x["backend"].get<std::string>() << " ["
            << (x["backend_tcp"].is_string() ? x["backend_tcp"].get<std::string>() : "") << "]";
        o << "\n";
      }
    }
  } else if (command == "backends") {
    for (const json& b : r) {
      o << "backend " << b.value("pool", "") << " " << b.value("address", "") << ": sessions "
        << U(b, "sessions_started") << " (active " << U(b, "active_sessions") << "), connect failures "
        << U(b, "connect_failures") << "; " << BackendState(b) << "\n";
    }
  } else if (command == "backend") {
    o << "backend " << r.value("pool", "") << " " << r.value("address", "") << ": " << BackendState(r) << "\n";
  } else if (command == "drops") {
    const json drops = r.value("drops", json::object()), tcp = r.value("tcp_drops", json::object());
    if (drops.empty() && tcp.empty()) o << "no drops\n";
    for (const auto& [key, count] : drops.items()) o << "drop " << key << ": " << count.get<uint64_t>() << "\n";
    for (const auto& [text, count] : tcp.items()) o << "  tcp: " << text << ": " << count.get<uint64_t>() << "\n";
  } else if (command == "worker") {
    o << "worker " << U(r, "worker") << ": halt requested\n";
  } else if (command == "rebalance") {
    o << "moved " << U(r, "moved") << " session(s) from worker " << U(r, "from") << " to worker " << U(r, "to")
      << "\n";
  } else if (command == "reload" || command == "reload-certs" || command == "rotate-ticket-keys") {
    o << command << ": done; config generation " << U(r, "config_generation");
    if (r.contains("source")) o << " (" << r.value("source", "") << ")";
    o << "; reloads " << U(r, "reloads_ok") << " ok, " << U(r, "reloads_failed") << " failed; certificate reloads "
      << U(r, "cert_reloads_ok") << "; ticket-key rotations " << U(r, "ticket_rotations_ok") << "\n";
  } else if (command == "version") {
    o << "baton " << r.value("version", "?") << "\n";
  } else {
    o << r.dump(2) << "\n";  // ports, config: the JSON is the clearest form
  }
  return o.str();
}

// A number goes as a JSON number; anything else as text, which baton refuses with its
// own message (one place says what a value may be).
json NumberOrText(const std::string& n) {
  const bool digits = !n.empty() && n.size() <= 9 && n.find_first_not_of("0123456789") == std::string::npos;
  if (digits) return json(std::stoll(n));
  char* end = nullptr;
  const double d = std::strtod(n.c_str(), &end);
  if (!n.empty() && end == n.c_str() + n.size()) return json(d);
  return json(n);
}

std::string CtlRequest(const CtlCommand& command, const std::vector<std::string>& args, std::string& error) {
  json req{{"command", command.api_command}};
  if (command.name == "sessions" && !args.empty()) {
    if (args[0] != "list") {
      error = "usage: baton ctl sessions [list [worker=N] [client=IP] [vip=IP:PORT] [backend=IP:PORT] [limit=N]]";
      return "";
    }
    req["list"] = true;
    for (size_t i = 1; i < args.size(); ++i) {
      const size_t eq = args[i].find('=');
      if (eq == std::string::npos || eq == 0) {
        error = "sessions list: expected KEY=VALUE, got " + args[i];
        return "";
      }
      const std::string key = args[i].substr(0, eq), value = args[i].substr(eq + 1);
      // Numbers go as numbers; baton says what a key takes.
      req[key] = key == "worker" || key == "limit" ? NumberOrText(value) : json(value);
    }
    return req.dump();
  }
  if (command.name == "worker") {
    if (args.size() != 2 || args[0] != "halt") {
      error = "usage: baton ctl worker halt N";
      return "";
    }
    req["action"] = args[0];
    req["worker"] = NumberOrText(args[1]);
    return req.dump();
  }
  if (command.name == "rebalance") {
    if (args.size() != 3) {
      error = "usage: baton ctl rebalance FROM TO SHARE (SHARE in (0, 1])";
      return "";
    }
    req["from"] = NumberOrText(args[0]);
    req["to"] = NumberOrText(args[1]);
    req["share"] = NumberOrText(args[2]);
    return req.dump();
  }
  if (command.name == "reload" && args.size() <= 1) {
    // baton runs elsewhere (another folder): the path goes absolute.
    if (args.size() == 1) req["path"] = std::filesystem::absolute(args[0]).lexically_normal().string();
    return req.dump();
  }
  if (command.name == "reload") {
    error = "usage: baton ctl reload [FILE]";
    return "";
  }
  if (command.name != "backend") {
    if (!args.empty()) {
      error = command.name + " takes no arguments";
      return "";
    }
    return req.dump();
  }
  const bool weight = args.size() == 4 && args[2] == "weight";
  if (!(args.size() == 3 && args[2] != "weight") && !weight) {
    error = "usage: baton ctl backend POOL ADDRESS:PORT enable|disable|drain, or ... weight N";
    return "";
  }
  req["pool"] = args[0];
  req["backend"] = args[1];
  req["action"] = args[2];
  if (weight) {
    req["weight"] = NumberOrText(args[3]);
  }
  return req.dump();
}

int RunCtl(const std::string& socket_path, const std::string& command, const std::vector<std::string>& args,
           bool as_json, std::ostream& out, std::ostream& err) {
  const CtlCommand* cmd = nullptr;
  for (const CtlCommand& c : CtlCommands())
    if (c.name == command) cmd = &c;
  if (cmd == nullptr) {
    err << "baton ctl: unknown command " << command << "\n";
    return kCtlCannotConnect;
  }
  json answer;
  std::string error;
  const std::string request = CtlRequest(*cmd, args, error);
  if (request.empty()) {
    err << "baton ctl: " << error << "\n";
    return kCtlCannotConnect;
  }
  if (const int rc = CtlCall(socket_path, request, answer, error); rc != kCtlOk) {
    err << "baton ctl: " << error << "\n";
    return rc;
  }
  if (!answer.value("ok", false)) {
    err << "baton ctl: baton says: " << answer.value("error", "(no error text)") << "\n";
    return kCtlBatonError;
  }
  const json& result = answer["result"];
  try {
    out << (as_json ? result.dump(2) + "\n" : FormatCtlResult(command, result));
  } catch (const json::exception& e) {
    err << "baton ctl: unexpected answer shape: " << e.what() << "\n";
    return kCtlBatonError;
  }
  return kCtlOk;
}

}  // namespace baton::cp
