// The runtime API's Unix socket: non-blocking, served from the main lcore's loop
// (main.cc polls the descriptors this hands out, then calls Service). A client sends
// one JSON request per line and gets one JSON answer per line (docs/API.md). No client
// can hold the loop: nothing blocks, requests are bounded to kMaxApiRequestBytes, and a
// connection idle for kApiIdleTimeout or with an unread answer that long is closed.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "controlplane/api.h"

namespace baton::cp {

inline constexpr auto kApiIdleTimeout = std::chrono::seconds(5);
inline constexpr size_t kApiMaxConnections = 16;

// "/run/baton/NAME.sock".
std::string DefaultApiSocketPath(const std::string& name);

class ApiServer {
 public:
  explicit ApiServer(ApiSources sources) : sources_(std::move(sources)) {}
  ~ApiServer() { Close(); }
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Creates the socket's directory (0750) when missing, replaces a stale socket file
  // (one nobody answers on), refuses a live one or a path that is not a socket, and
  // listens. Empty string on success, else what went wrong.
  [[nodiscard]] std::string Listen(const std::string& path);

  // Appends the descriptors to poll (listener first, then connections).
  void AppendPollFds(std::vector<pollfd>& fds) const;
  // Handles what poll reported for the descriptors AppendPollFds added (same order),
  // and closes connections past their deadline.
  void Service(std::span<const pollfd> fds, std::chrono::steady_clock::time_point now);

  // Closes every connection and the listener, and removes the socket file. Idempotent.
  void Close();

  size_t ConnectionsForTest() const { return conns_.size(); }

 private:
  struct Conn {
    int fd = -1;
    std::string in;    // bytes read, not yet a whole line
    std::string out;   // answers not yet written
    size_t out_off = 0;
    bool close_after_write = false;
    std::chrono::steady_clock::time_point deadline;
  };
  void Accept(std::chrono::steady_clock::time_point now);
  // False: the connection is finished (error, EOF with nothing to write, or done).
  bool OnReadable(Conn& c, std::chrono::steady_clock::time_point now);
  bool OnWritable(Conn& c, std::chrono::steady_clock::time_point now);
  // Answers the first non-blank whole line in c.in, if any; true if it did.
  bool AnswerNextLine(Conn& c);
  void Answer(Conn& c, std::string_view line);

  ApiSources sources_;
  std::string path_;
  int listen_fd_ = -1;
  std::vector<Conn> conns_;
};

}  // namespace baton::cp
