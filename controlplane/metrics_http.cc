#include "controlplane/metrics_http.h"

#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <charconv>
#include <chrono>

// The only file that includes cpp-httplib (Debian's libcpp-httplib-dev, built as a
// shared library). It compiles clean under our warning set with g++ 12 and clang 14,
// so it needs no diagnostic pragmas.
#include <httplib.h>

#include "controlplane/metrics.h"

namespace baton::cp {
namespace {

// A scrape waits at most this long for the main loop (which wakes within one pass).
constexpr auto kRenderTimeout = std::chrono::seconds(2);

}  // namespace

std::optional<HostPort> HostPort::Parse(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  HostPort hp;
  hp.host = text.substr(0, colon);
  in_addr a{};
  if (inet_pton(AF_INET, hp.host.c_str(), &a) != 1) return std::nullopt;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || end != last || first == last || port == 0 || port > 65535) return std::nullopt;
  hp.port = uint16_t(port);
  return hp;
}

MetricsServer::MetricsServer(std::function<std::string()> render) : render_(std::move(render)) {}

MetricsServer::~MetricsServer() { Stop(); }

std::string MetricsServer::Start(const HostPort& at) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return "eventfd failed";
  http_ = std::make_unique<httplib::Server>();
  // A scraper that stalls mid-request loses its connection after these, holding one
  // HTTP thread meanwhile; the main loop never waits on it.
  http_->set_read_timeout(5, 0);
  http_->set_write_timeout(5, 0);
  http_->set_payload_max_length(4096);  // GET only: no body wanted
  // Scrapes are rare: two HTTP threads, not httplib's default of one per core (min 8).
  http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::string page = WaitForPage();
    if (page.empty()) {
      res.status = 503;
      res.set_content("baton is stopping or busy\n", "text/plain");
      return;
    }
    res.set_content(std::move(page), std::string(kMetricsContentType));
  });
  if (!http_->bind_to_port(at.host.c_str(), at.port))
    return "cannot listen for metrics on " + at.host + ":" + std::to_string(at.port) +
           " (in use? --metrics ADDR:PORT or --metrics off)";
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  // stop() is a no-op until the server runs: wait for that, so Stop() cannot miss it.
  for (int i = 0; i < 2000 && !http_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return "";
}

void MetricsServer::AppendPollFds(std::vector<pollfd>& fds) const {
  if (wake_fd_ >= 0) fds.push_back({wake_fd_, POLLIN, 0});
}

void MetricsServer::Service(const pollfd& fd) {
  if (!(fd.revents & POLLIN)) return;
  uint64_t ignored = 0;
  (void)!read(wake_fd_, &ignored, sizeof(ignored));
  uint64_t covers = 0;
  {
    std::lock_guard lock(mu_);
    covers = asked_;  // every request made before this render starts gets this page
  }
  std::string page = render_();
  {
    std::lock_guard lock(mu_);
    page_ = std::move(page);
    answered_ = covers;
  }
  rendered_.notify_all();
}

std::string MetricsServer::WaitForPage() {
  std::unique_lock lock(mu_);
  if (stopping_) return "";
  const uint64_t mine = ++asked_;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (!rendered_.wait_for(lock, kRenderTimeout, [&] { return stopping_ || answered_ >= mine; })) return "";
  return stopping_ ? "" : page_;
}

void MetricsServer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  rendered_.notify_all();
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
  http_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

}  // namespace baton::cp
