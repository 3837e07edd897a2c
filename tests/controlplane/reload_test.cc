// Live reload, control-plane side (controlplane/reload.h): what a running baton refuses
// to change, with the exact message each change gets; the Reloader on fake data-plane
// actions (a refused reload changes nothing); the API's reload commands.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "controlplane/api.h"
#include "controlplane/config.h"
#include "controlplane/ctl.h"
#include "controlplane/reload.h"
#include "tests/controlplane/fake_stats.h"

namespace baton::cp {
namespace {

using nlohmann::json;

const std::string kBase = R"([[port]]
name = "front"
roles = ["front"]
device = "net_af_packet0,iface=front"
address = "198.18.2.11/24"

[[port]]
name = "back"
roles = ["back"]
device = "net_af_packet1,iface=back"
address = "198.18.3.11/24"

[[pool]]
name = "web"
backends = ["198.18.3.101:80", "198.18.3.102:80"]

[[listener]]
name = "http"
vip = "198.18.100.10:80"
pool = "web"
)";

dp::ConfigSnapshot Parse(const std::string& text) { return ParseConfig(text, "new.toml"); }

struct LiveCase {
  const char* name;
  std::function<void(dp::ConfigSnapshot&)> edit;
  std::vector<std::string> expected;  // empty: allowed live
};

const std::string kRestart = "; restart baton to apply it";

const LiveCase kLiveCases[] = {
    {"pools, backends, weights, algorithms, listeners: live",
     [](dp::ConfigSnapshot& c) {
       c.pools[0].backends.push_back({dp::IpAddr::V4(0xc6120367u), 80, 5});
       c.pools[0].backends[0].weight = 0;
       c.pools[0].algorithm = dp::BalanceAlgorithm::kMaglev;
       c.listeners.push_back(c.listeners[0]);
       c.listeners[1].name = "http2";
       c.listeners[1].port = 8080;
     },
     {}},
    {"workers", [](dp::ConfigSnapshot& c) { c.dataplane.workers = 2; },
     {"new.toml: dataplane.workers: cannot change while running (1 -> 2)" + kRestart}},
    {"mempool and descriptors",
     [](dp::ConfigSnapshot& c) {
       c.dataplane.mbufs_per_port = 4095;
       c.dataplane.rx_descriptors = 512;
     },
     {"new.toml: dataplane.mbufs_per_port: cannot change while running (8191 -> 4095)" + kRestart,
      "new.toml: dataplane.rx_descriptors: cannot change while running (1024 -> 512)" + kRestart}},
    {"session capacity", [](dp::ConfigSnapshot& c) { c.tcp.max_sessions = 1000; },
     {"new.toml: tcp.max_sessions: cannot change while running (16384 -> 1000)" + kRestart}},
    {"buffer size", [](dp::ConfigSnapshot& c) { c.tcp.buffer_bytes = 64 * 1024; },
     {"new.toml: tcp.buffer_kib: cannot change while running (256 -> 64)" + kRestart}},
    {"timeouts and SNAT ports",
     [](dp::ConfigSnapshot& c) {
       c.tcp.idle_timeout_ms = 60'000;
       c.tcp.snat_port_min = 20000;
     },
     {"new.toml: tcp.idle_timeout_s: cannot change while running (300 -> 60)" + kRestart,
      "new.toml: tcp.snat_ports: cannot change while running (\"10000-59999\" -> \"20000-59999\")" + kRestart}},
    {"arp", [](dp::ConfigSnapshot& c) { c.arp.retries = 5; },
     {"new.toml: arp.retries: cannot change while running (3 -> 5)" + kRestart}},
    {"a port's address and MTU",
     [](dp::ConfigSnapshot& c) {
       c.ports[1].address = {dp::IpAddr::V4(0xc6120321u), 24};
       c.ports[1].mtu_bytes = 9000;
     },
     {"new.toml: port[1].address: cannot change while running (198.18.3.11/24 -> 198.18.3.33/24)" + kRestart,
      "new.toml: port[1].mtu: cannot change while running (1500 -> 9000)" + kRestart}},
    {"a port's device and roles",
     [](dp::ConfigSnapshot& c) {
       c.ports[0].device = "0000:03:00.0";
       c.ports[0].roles = dp::kRoleFront | dp::kRoleRepl;
     },
     {"new.toml: port[0].roles: cannot change while running ([front] -> [front,repl])" + kRestart,
      "new.toml: port[0].device: cannot change while running (\"net_af_packet0,iface=front\" -> \"0000:03:00.0\")" +
          kRestart}},
    {"a port more", [](dp::ConfigSnapshot& c) { c.ports.push_back(c.ports[1]); },
     {"new.toml: port: cannot change while running (2 ports -> 3 ports)" + kRestart}},
    {"no listener left",
     [](dp::ConfigSnapshot& c) {
       c.listeners.clear();
     },
     {"new.toml: listener: cannot change while running (1 listeners -> 0 listeners)" + kRestart}},
};

TEST(CheckLiveChange, WhatCannotChangeLive) {
  const dp::ConfigSnapshot running = Parse(kBase);
  for (const LiveCase& c : kLiveCases) {
    dp::ConfigSnapshot next = running;
    c.edit(next);
    EXPECT_EQ(CheckLiveChange(running, next), c.expected) << c.name;
  }
}

// ---- Reloader -----------------------------------------------------------------------------

class ReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/baton-reload-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/baton.toml";
    Write(kBase);
    running_ = LoadConfig(path_);
    running_.generation = 1;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }

  std::string dir_, path_;
  dp::ConfigSnapshot running_;
  std::vector<dp::ConfigSnapshot> applied_;  // what reached the "data plane"
  std::string refuse_;
  Reloader reloader_{running_, {[this](const dp::ConfigSnapshot& next) {
                                  if (refuse_.empty()) applied_.push_back(next);
                                  return refuse_;
                                },
                                [this] { return refuse_; }, [this] { return refuse_; }}};
};

TEST_F(ReloaderTest, ReloadsTheStartedFileAndCountsIt) {
  Write(kBase + "\n[[pool]]\nname = \"more\"\nbackends = [\"198.18.3.103:80\"]\n");
  EXPECT_EQ(reloader_.Reload(""), "");
  ASSERT_EQ(applied_.size(), 1u);
  EXPECT_EQ(applied_[0].generation, 2u);
  EXPECT_EQ(running_.pools.size(), 2u);
  EXPECT_EQ(running_.generation, 2u);
  EXPECT_EQ(reloader_.Stats().config_generation, 2u);
  EXPECT_EQ(reloader_.Stats().reloads_ok, 1u);
}

TEST_F(ReloaderTest, InvalidFileIsRefusedWithTheLoadersMessageAndNothingChanges) {
  Write(kBase + "\n[[pool]]\nname = \"web\"\nbackends = [\"198.18.3.103:80\"]\n");
  const std::string error = reloader_.Reload("");
  EXPECT_EQ(error, path_ + ":23: pool[1].name: got \"web\", expected a name no other pool uses (pool[0] has it)");
  EXPECT_TRUE(applied_.empty());
  EXPECT_EQ(running_.pools.size(), 1u);
  EXPECT_EQ(running_.generation, 1u);
  EXPECT_EQ(reloader_.Stats().reloads_failed, 1u);
  EXPECT_EQ(reloader_.Stats().config_generation, 1u);
}

TEST_F(ReloaderTest, ChangeThatNeedsARestartIsRefused) {
  Write("[dataplane]\nworkers = 3\n" + kBase);
  EXPECT_EQ(reloader_.Reload(path_),
            path_ + ": dataplane.workers: cannot change while running (1 -> 3); restart baton to apply it");
  EXPECT_TRUE(applied_.empty());
  EXPECT_EQ(running_.dataplane.workers, 1u);
}

TEST_F(ReloaderTest, DataPlaneRefusalChangesNothing) {
  refuse_ = "new.toml:20: listener[0].tls.certificates[0]: cannot read";
  EXPECT_EQ(reloader_.Reload(""), refuse_);
  EXPECT_EQ(running_.generation, 1u);
  EXPECT_EQ(reloader_.ReloadCertificates(), refuse_);
  EXPECT_EQ(reloader_.RotateTicketKeys(), refuse_);
  EXPECT_EQ(reloader_.Stats().reloads_failed, 1u);
  EXPECT_EQ(reloader_.Stats().cert_reloads_failed, 1u);
  EXPECT_EQ(reloader_.Stats().ticket_rotations_failed, 1u);
  refuse_.clear();
  EXPECT_EQ(reloader_.ReloadCertificates(), "");
  EXPECT_EQ(reloader_.RotateTicketKeys(), "");
  EXPECT_EQ(reloader_.Stats().cert_reloads_ok, 1u);
  EXPECT_EQ(reloader_.Stats().ticket_rotations_ok, 1u);
}

TEST_F(ReloaderTest, MissingFile) {
  const std::string error = reloader_.Reload(dir_ + "/nope.toml");
  EXPECT_EQ(error.rfind(dir_ + "/nope.toml: cannot read", 0), 0u) << error;
}

// ---- The API commands -----------------------------------------------------------------------

TEST(ReloadApi, CommandsAnswerWithTheReloadCounters) {
  dp::ConfigSnapshot config = test::FakeConfig();
  std::vector<std::string> paths;
  std::string refuse;
  ApiSources s{[] {
                 dp::StatsSnapshot st = test::FakeStats();
                 st.reload.config_generation = 4;
                 st.reload.reloads_ok = 3;
                 return st;
               },
               &config, "1", nullptr};
  s.reload = [&](const std::string& p) {
    paths.push_back(p);
    return refuse;
  };
  s.reload_certs = [&] { return refuse; };
  s.rotate_ticket_keys = [&] { return refuse; };
  json a = DispatchApiRequest(R"({"command":"reload"})", s);
  ASSERT_TRUE(a.value("ok", false)) << a.dump();
  EXPECT_EQ(a["result"]["config_generation"], 4);
  EXPECT_EQ(a["result"]["reloads_ok"], 3);
  a = DispatchApiRequest(R"({"command":"reload","path":"/etc/baton/b.toml"})", s);
  ASSERT_TRUE(a.value("ok", false)) << a.dump();
  EXPECT_EQ(paths, (std::vector<std::string>{"", "/etc/baton/b.toml"}));
  EXPECT_TRUE(DispatchApiRequest(R"({"command":"reload-certs"})", s).value("ok", false));
  EXPECT_TRUE(DispatchApiRequest(R"({"command":"rotate-ticket-keys"})", s).value("ok", false));

  refuse = "b.toml:3: pool[0].name: got 1, expected a string";
  a = DispatchApiRequest(R"({"command":"reload"})", s);
  EXPECT_EQ(a, (json{{"ok", false}, {"error", refuse}}));
  a = DispatchApiRequest(R"({"command":"reload","path":7})", s);
  EXPECT_EQ(a["error"], "\"path\" must be a non-empty string (a config file), got 7");
  a = DispatchApiRequest(R"({"command":"reload-certs","path":"x"})", s);
  EXPECT_EQ(a["error"], "unknown field \"path\" (command \"reload-certs\" takes no arguments)");
  EXPECT_EQ(paths.size(), 3u);
}

TEST(ReloadApi, RefusedWhenNotWired) {
  dp::ConfigSnapshot config = test::FakeConfig();
  const ApiSources s{[] { return test::FakeStats(); }, &config, "1", nullptr};
  EXPECT_EQ(DispatchApiRequest(R"({"command":"reload"})", s)["error"], "this baton cannot reload");
  EXPECT_EQ(DispatchApiRequest(R"({"command":"rotate-ticket-keys"})", s)["error"],
            "this baton cannot rotate ticket keys");
}

TEST(ReloadCtl, RequestsAndReport) {
  auto find = [](const std::string& name) {
    for (const CtlCommand& c : CtlCommands())
      if (c.name == name) return c;
    ADD_FAILURE() << name;
    return CtlCommand{};
  };
  std::string error;
  EXPECT_EQ(CtlRequest(find("reload"), {}, error), R"({"command":"reload"})");
  EXPECT_EQ(CtlRequest(find("reload"), {"/etc/baton/../baton/b.toml"}, error),
            R"({"command":"reload","path":"/etc/baton/b.toml"})");
  const json relative = json::parse(CtlRequest(find("reload"), {"b.toml"}, error));
  EXPECT_EQ(relative["path"], (std::filesystem::current_path() / "b.toml").string());
  EXPECT_EQ(CtlRequest(find("reload"), {"a", "b"}, error), "");
  EXPECT_EQ(error, "usage: baton ctl reload [FILE]");
  EXPECT_EQ(CtlRequest(find("reload-certs"), {}, error), R"({"command":"reload-certs"})");
  EXPECT_EQ(CtlRequest(find("rotate-ticket-keys"), {"x"}, error), "");
  EXPECT_EQ(error, "rotate-ticket-keys takes no arguments");
  const json r{{"config_generation", 3}, {"reloads_ok", 2}, {"reloads_failed", 1}, {"cert_reloads_ok", 4},
               {"ticket_rotations_ok", 5}, {"source", "/etc/baton/b.toml"}};
  EXPECT_EQ(FormatCtlResult("reload", r),
            "reload: done; config generation 3 (/etc/baton/b.toml); reloads 2 ok, 1 failed; certificate reloads 4; "
            "ticket-key rotations 5\n");
}

}  // namespace
}  // namespace baton::cp
