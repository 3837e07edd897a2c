// GET /metrics over HTTP on a management address. cpp-httplib parses HTTP on its own
// threads (so a slow scraper holds one of those, never the main loop); the page itself
// is rendered on the main lcore: a request wakes the main loop through an eventfd it
// polls, the loop renders MetricsText from one SnapshotStats and hands it back.
// Nothing but the main lcore touches the data plane.
#pragma once

#include <poll.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace baton::cp {

struct HostPort {
  std::string host;  // numeric IPv4 address
  uint16_t port = 0;
  // "127.0.0.1:9180"; nullopt on anything else (no names, no IPv6 yet).
  static std::optional<HostPort> Parse(const std::string& text);
};

class MetricsServer {
 public:
  // render: called on the main loop's thread, from Service.
  explicit MetricsServer(std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts serving; empty string on success, else what went wrong.
  [[nodiscard]] std::string Start(const HostPort& at);
  void AppendPollFds(std::vector<pollfd>& fds) const;  // one descriptor: the wake-up
  void Service(const pollfd& fd);                      // renders when asked
  // Releases waiting requests (503), stops the HTTP threads. Idempotent.
  void Stop();

 private:
  std::string WaitForPage();  // on an HTTP thread

  std::function<std::string()> render_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int wake_fd_ = -1;
  std::mutex mu_;
  std::condition_variable rendered_;
  uint64_t asked_ = 0;      // requests so far (guarded by mu_)
  uint64_t answered_ = 0;   // the highest request number the page below covers
  std::string page_;
  bool stopping_ = false;
};

}  // namespace baton::cp
