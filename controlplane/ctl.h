// `baton ctl`: asks a running baton over its API socket and prints the answer, for
// people (a report) or tools (--json). Exit codes: 0 ok, 1 baton answered with an
// error, 2 usage or cannot connect (kCtl* below).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace baton::cp {

inline constexpr int kCtlOk = 0;
inline constexpr int kCtlBatonError = 1;
inline constexpr int kCtlCannotConnect = 2;

inline constexpr auto kCtlTimeout = std::chrono::seconds(5);

// The commands `baton ctl` knows, and the API command each sends.
struct CtlCommand {
  std::string name;         // "drops"
  std::string api_command;  // "stats.drops"
  std::string help;
};
const std::vector<CtlCommand>& CtlCommands();

// Sends one request line to the socket and reads one answer line. kCtlOk with
// `answer` parsed, else kCtlCannotConnect with `error` saying why.
int CtlCall(const std::string& socket_path, const std::string& request, nlohmann::json& answer, std::string& error);

// The request line for `baton ctl COMMAND ARGS...`, or "" with `error` set (a usage
// error: wrong number of arguments). `backend POOL ADDRESS:PORT enable|disable|drain`
// and `backend POOL ADDRESS:PORT weight N` take arguments, `reload [FILE]` one at most
// (made absolute: baton may run in another folder); the other commands none.
std::string CtlRequest(const CtlCommand& command, const std::vector<std::string>& args, std::string& error);

// Runs `baton ctl COMMAND [ARGS...]`: asks, prints, returns the exit code.
int RunCtl(const std::string& socket_path, const std::string& command, const std::vector<std::string>& args,
           bool json, std::ostream& out, std::ostream& err);

// The human-readable forms, one per command (pure; tested).
std::string FormatCtlResult(const std::string& command, const nlohmann::json& result);

}  // namespace baton::cp
