#include "controlplane/api_server.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace baton::cp {
namespace {

// Reads per connection per pass: enough for a maximal request, small enough that one
// busy client cannot keep the main loop from the others.
constexpr size_t kReadBudgetBytes = kMaxApiRequestBytes + 4096;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

bool FillAddress(const std::string& path, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

// True when some process accepts connections on the socket file at `path`.
bool SomeoneListens(const sockaddr_un& addr) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // A Unix stream connect completes or fails at once (ECONNREFUSED for a dead file).
  const bool live = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return live;
}

}  // namespace

std::string DefaultApiSocketPath(const std::string& name) { return "/run/baton/" + name + ".sock"; }

std::string ApiServer::Listen(const std::string& path) {
  sockaddr_un addr;
  if (!FillAddress(path, addr))
    return "API socket path must be 1 to " + std::to_string(sizeof(addr.sun_path) - 1) + " bytes: " + path;
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::exists(dir, ec)) {
    if (!fs::create_directories(dir, ec)) return "cannot create " + dir.string() + ": " + ec.message();
    // The socket answers anyone who can reach it: only owner and group may.
    if (chmod(dir.c_str(), 0750) != 0) return Errno("chmod 0750 " + dir.string());
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return path + " exists and is not a socket; not replacing it";
    if (SomeoneListens(addr)) return "another process answers on " + path + " (another baton? use --api-socket)";
    if (unlink(path.c_str()) != 0) return Errno("cannot remove stale socket " + path);
  }
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Errno("socket");
  if (bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const std::string err = Errno("bind " + path);
    Close();
    return err;
  }
  path_ = path;  // ours from here on: Close removes it
  if (chmod(path.c_str(), 0660) != 0 || listen(listen_fd_, int(kApiMaxConnections)) != 0) {
    const std::string err = Errno("listen on " + path);
    Close();
    return err;
  }
  return "";
}

void ApiServer::AppendPollFds(std::vector<pollfd>& fds) const {
  if (listen_fd_ < 0) return;
  fds.push_back({listen_fd_, POLLIN, 0});
  for (const Conn& c : conns_) {
    // An answer not yet written stops reading: a client that sends but never reads
    // holds at most one answer, not a growing queue.
    fds.push_back({c.fd, short(c.out.empty() ? POLLIN : POLLOUT), 0});
  }
}

void ApiServer::Service(std::span<const pollfd> fds, std::chrono::steady_clock::time_point now) {
  if (listen_fd_ < 0 || fds.size() != 1 + conns_.size()) return;  // not the set we handed out
  std::vector<bool> done(conns_.size(), false);
  for (size_t i = 0; i < conns_.size(); ++i) {
    Conn& c = conns_[i];
    const short ev = fds[1 + i].revents;
    bool keep = true;
    if (ev & (POLLERR | POLLNVAL)) {
      keep = false;
    } else if (ev & POLLOUT) {
      keep = OnWritable(c, now);
    } else if (ev & (POLLIN | POLLHUP)) {
      keep = OnReadable(c, now);
    }
    if (keep && now >= c.deadline) keep = false;  // idle, or its answer unread too long
    done[i] = !keep;
  }
  for (size_t i = conns_.size(); i-- > 0;) {
    if (!done[i]) continue;
    close(conns_[i].fd);
    conns_.erase(conns_.begin() + std::ptrdiff_t(i));
  }
  if (fds[0].revents & POLLIN) Accept(now);
}

void ApiServer::Accept(std::chrono::steady_clock::time_point now) {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: all taken; anything else: try again next pass
    if (conns_.size() >= kApiMaxConnections) {
      // Best effort and non-blocking: a full socket buffer just loses the message.
      static constexpr char kBusy[] = "{\"ok\":false,\"error\":\"too many API connections\"}\n";
      (void)!send(fd, kBusy, sizeof(kBusy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
      continue;
    }
    conns_.push_back(Conn{fd, {}, {}, 0, false, now + kApiIdleTimeout});
  }
}

bool ApiServer::OnReadable(Conn& c, std::chrono::steady_clock::time_point now) {
  size_t budget = kReadBudgetBytes;
  bool eof = false;
  char buf[4096];
  while (budget > 0 && c.out.empty()) {
    const ssize_t n = recv(c.fd, buf, std::min(sizeof(buf), budget), MSG_DONTWAIT);
    if (n == 0) {
      eof = true;
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return false;
    }
    budget -= size_t(n);
    c.in.append(buf, size_t(n));
    c.deadline = now + kApiIdleTimeout;
    // Answer the first whole line; later ones wait until this answer is written.
    if (!AnswerNextLine(c) && c.in.find('\n') == std::string::npos && c.in.size() > kMaxApiRequestBytes) {
      Answer(c, c.in);  // the dispatcher refuses it by size, unparsed
      c.in.clear();
      c.close_after_write = true;  // the rest of that line is not worth reading
    }
  }
  if (eof) {
    // A last request without its newline still counts.
    if (c.out.empty() && !c.in.empty()) Answer(c, c.in);
    c.in.clear();
    c.close_after_write = true;
  }
  if (!c.out.empty()) return OnWritable(c, now);  // usually fits the socket buffer at once
  return !eof;
}

bool ApiServer::OnWritable(Conn& c, std::chrono::steady_clock::time_point now) {
  while (c.out_off < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;  // the deadline still runs
      if (errno == EINTR) continue;
      return false;
    }
    c.out_off += size_t(n);
  }
  c.out.clear();
  c.out_off = 0;
  if (c.close_after_write) return false;
  c.deadline = now + kApiIdleTimeout;
  // A request that arrived behind the last one: answered now, written on the next
  // pass (poll reports POLLOUT at once), so one client gets one answer per pass.
  (void)AnswerNextLine(c);
  return true;
}

bool ApiServer::AnswerNextLine(Conn& c) {
  for (size_t nl = c.in.find('\n'); nl != std::string::npos; nl = c.in.find('\n')) {
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;  // blank lines are no requests
    Answer(c, line);
    return true;
  }
  return false;
}

void ApiServer::Answer(Conn& c, std::string_view line) {
  // replace: an invalid UTF-8 byte echoed in an error message must not throw.
  c.out = DispatchApiRequest(line, sources_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  c.out += '\n';
  c.out_off = 0;
}

void ApiServer::Close() {
  for (Conn& c : conns_) close(c.fd);
  conns_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
  if (!path_.empty()) unlink(path_.c_str());
  path_.clear();
}

}  // namespace baton::cp
