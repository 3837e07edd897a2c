// The API socket in-process: the server is serviced on this thread (as main.cc does),
// clients run on others. Stale and live socket files, the directory's mode, several
// requests on one connection, garbage, oversize requests, and a silent client that
// must not hold anyone else up.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>

#include "controlplane/api_server.h"
#include "controlplane/ctl.h"
#include "tests/controlplane/fake_stats.h"

namespace baton::cp {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

class ApiSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/baton-api-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/run/box.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Services `server` until `done` is ready (bounded to 10 s).
  template <typename T>
  T Serve(ApiServer& server, std::future<T>& done) {
    std::vector<pollfd> fds;
    const auto give_up = Clock::now() + std::chrono::seconds(10);
    while (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready && Clock::now() < give_up) {
      fds.clear();
      server.AppendPollFds(fds);
      (void)poll(fds.data(), fds.size(), 10);
      server.Service(fds, Clock::now());
    }
    return done.get();
  }

  // Connects, sends `bytes`, half-closes if asked, reads until EOF or `lines` lines.
  std::string RawExchange(const std::string& bytes, int lines, bool half_close) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      return "connect failed";
    }
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (size_t off = 0; off < bytes.size();) {
      const ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may close on us mid-way (oversize)
      off += size_t(n);
    }
    if (half_close) shutdown(fd, SHUT_WR);
    std::string in;
    char buf[4096];
    while (std::count(in.begin(), in.end(), '\n') < lines) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      in.append(buf, size_t(n));
    }
    close(fd);
    return in;
  }

  std::string dir_, path_;
  dp::ConfigSnapshot config_ = test::FakeConfig();
  ApiSources sources_{[] { return test::FakeStats(); }, &config_, "1.2.3"};
};

TEST_F(ApiSocket, ServesCtlAndCleansUp) {
  ApiServer server(sources_);
  ASSERT_EQ(server.Listen(path_), "");
  struct stat st {};
  ASSERT_EQ(stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  auto done = std::async(std::launch::async, [&] {
    json answer;
    std::string error;
    const int rc = CtlCall(path_, R"({"command":"sessions"})", answer, error);
    return rc == kCtlOk ? answer : json{{"client_error", error}};
  });
  const json a = Serve(server, done);
  EXPECT_EQ(a.value("ok", false), true) << a.dump();
  EXPECT_EQ(a["result"]["active"], 7);
  server.Close();
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(ApiSocket, SeveralRequestsOnOneConnectionAndGarbageBetween) {
  ApiServer server(sources_);
  ASSERT_EQ(server.Listen(path_), "");
  auto done = std::async(std::launch::async, [&] {
    return RawExchange("{\"command\":\"version\"}\n\nnot json\r\n{\"command\":\"nope\"}\n{\"command\":\"version\"}", 4,
                       /*half_close=*/true);
  });
  const std::string out = Serve(server, done);
  std::istringstream in(out);
  std::string l1, l2, l3, l4;
  std::getline(in, l1), std::getline(in, l2), std::getline(in, l3), std::getline(in, l4);
  EXPECT_EQ(json::parse(l1), (json{{"ok", true}, {"result", {{"version", "1.2.3"}}}}));
  EXPECT_NE(json::parse(l2).value("error", "").find("not JSON"), std::string::npos) << l2;
  EXPECT_NE(json::parse(l3).value("error", "").find("unknown command \"nope\""), std::string::npos) << l3;
  EXPECT_EQ(l4, l1);  // the last request had no newline: EOF ends it
}

TEST_F(ApiSocket, OversizeRequestGetsAnErrorAndTheConnectionCloses) {
  ApiServer server(sources_);
  ASSERT_EQ(server.Listen(path_), "");
  auto done = std::async(std::launch::async, [&] {
    return RawExchange(std::string(3 * kMaxApiRequestBytes, 'x'), 2, /*half_close=*/false);
  });
  const std::string out = Serve(server, done);
  EXPECT_NE(out.find("longer than 65536 bytes"), std::string::npos) << out.substr(0, 200);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST_F(ApiSocket, SilentClientDoesNotHoldOthersUp) {
  ApiServer server(sources_);
  ASSERT_EQ(server.Listen(path_), "");
  const int idle = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
  ASSERT_EQ(connect(idle, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(send(idle, "{\"comm", 6, 0), 6);  // half a request, then nothing
  const auto started = Clock::now();
  auto done = std::async(std::launch::async, [&] { return RawExchange("{\"command\":\"version\"}\n", 1, false); });
  EXPECT_NE(Serve(server, done).find("1.2.3"), std::string::npos);
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(1));
  // The answered client's EOF may still be on its way; the silent one stays until its
  // deadline.
  std::vector<pollfd> fds;
  for (int i = 0; i < 100 && server.ConnectionsForTest() > 1; ++i) {
    fds.clear();
    server.AppendPollFds(fds);
    (void)poll(fds.data(), fds.size(), 10);
    server.Service(fds, Clock::now());
  }
  EXPECT_EQ(server.ConnectionsForTest(), 1u);
  fds.clear();
  server.AppendPollFds(fds);
  for (pollfd& p : fds) p.revents = 0;
  server.Service(fds, Clock::now() + kApiIdleTimeout);
  EXPECT_EQ(server.ConnectionsForTest(), 0u);
  close(idle);
}

TEST_F(ApiSocket, StaleSocketIsReplacedLiveOneAndOtherFilesAreNot) {
  {
    ApiServer first(sources_);
    ASSERT_EQ(first.Listen(path_), "");
    ApiServer second(sources_);
    EXPECT_NE(second.Listen(path_).find("another process answers"), std::string::npos);
    EXPECT_TRUE(std::filesystem::exists(path_));  // the refused one removed nothing
  }
  // A socket file nobody listens on, as a killed baton leaves it.
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  ApiServer third(sources_);
  EXPECT_EQ(third.Listen(path_), "");
  third.Close();
  std::ofstream(path_) << "not a socket";
  ApiServer fourth(sources_);
  EXPECT_NE(fourth.Listen(path_).find("is not a socket"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(path_));
}

TEST(ApiCtl, CannotConnectIsExitTwo) {
  json answer;
  std::string error;
  EXPECT_EQ(CtlCall("/nonexistent/baton.sock", R"({"command":"version"})", answer, error), kCtlCannotConnect);
  EXPECT_NE(error.find("cannot connect"), std::string::npos);
}

}  // namespace
}  // namespace baton::cp
