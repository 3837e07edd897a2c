// The API dispatcher: JSON request in, JSON answer out, on fake counters; and the
// pieces `baton ctl` builds on (StatsFromJson, the human formats).
#include <gtest/gtest.h>

#include <string>

#include "controlplane/api.h"
#include "controlplane/ctl.h"
#include "controlplane/stats_report.h"
#include "tests/controlplane/fake_stats.h"

namespace baton::cp {
namespace {

using nlohmann::json;

class Dispatch : public ::testing::Test {
 protected:
  json Ask(std::string_view request) { return DispatchApiRequest(request, sources_); }
  std::string ErrorOf(std::string_view request) {
    const json a = Ask(request);
    EXPECT_EQ(a.value("ok", true), false) << a.dump();
    EXPECT_FALSE(a.contains("result")) << a.dump();
    return a.value("error", "");
  }

  dp::ConfigSnapshot config_ = test::FakeConfig();
  int snapshots_ = 0;
  std::vector<dp::BackendChange> changes_;  // what reached the "data plane"
  std::string refuse_;                      // the data plane's answer to a change
  ApiSources sources_{[this] {
                        ++snapshots_;
                        return test::FakeStats();
                      },
                      &config_, "9.8.7",
                      [this](const dp::BackendChange& c) {
                        if (refuse_.empty()) changes_.push_back(c);
                        return refuse_;
                      },
                      [this](uint16_t w) {
                        if (refuse_.empty()) halted_.push_back(w);
                        return refuse_;
                      },
                      [this](uint16_t from, uint16_t to, double share, uint64_t& moved) {
                        if (!refuse_.empty()) return refuse_;
                        rebalances_.push_back({from, to, share});
                        moved = 5;
                        return std::string();
                      },
                      [this](const dp::SessionFilter& f, uint64_t& matched) {
                        listed_.push_back(f);
                        matched = 7;
                        dp::SessionInfo i;
                        i.index = 3;
                        i.worker = 1;
                        i.owner_state = "owned";
                        i.client = "198.18.1.10:40000";
                        i.vip = "198.18.100.10:443";
                        i.backend = "198.18.3.101:80";
                        i.snat_port = 10001;
                        i.client_tcp = i.backend_tcp = "ESTABLISHED";
                        i.tls = true;
                        return std::vector<dp::SessionInfo>{i};
                      }};
  std::vector<dp::SessionFilter> listed_;
  std::vector<uint16_t> halted_;
  struct Move {
    uint16_t from, to;
    double share;
  };
  std::vector<Move> rebalances_;
};

TEST_F(Dispatch, StatsIsTheFullStatsJson) {
  const json a = Ask(R"({"command":"stats"})");
  ASSERT_EQ(a.value("ok", false), true) << a.dump();
  EXPECT_EQ(a["result"], StatsToJson(test::FakeStats()));
  EXPECT_EQ(snapshots_, 1);
}

TEST_F(Dispatch, DropsListsOnlyNonZeroReasonsSummedOverWorkers) {
  const json r = Ask(R"({"command":"stats.drops"})")["result"];
  EXPECT_EQ(r["drops"], (json{{"ipv4_bad_checksum", 10}, {"tcp_no_session", 2}}));
  EXPECT_EQ(r["tcp_drops"], (json{{"ACK in LISTEN", 4}}));
}

TEST_F(Dispatch, SessionsTotalAndPerWorker) {
  const json r = Ask(R"({"command":"sessions"})")["result"];
  EXPECT_EQ(r["active"], 7);
  EXPECT_EQ(r["opened"], 21);
  EXPECT_EQ(r["closed"], 14);
  ASSERT_EQ(r["workers"].size(), 2u);
  EXPECT_EQ(r["workers"][1], (json{{"worker", 1}, {"lcore", 2}, {"active", 4}, {"state", "running"}}));
}

TEST_F(Dispatch, BackendsPortsVersion) {
  const json b = Ask(R"({"command":"backends"})")["result"];
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1], (json{{"pool", "web"},
                        {"address", "198.18.3.102:80"},
                        {"sessions_started", 4},
                        {"active_sessions", 0},
                        {"connect_failures", 2},
                        {"admin", "draining"},
                        {"weight", 3},
                        {"up", false},
                        {"health_checked", true},
                        {"health_transitions", 1},
                        {"health_checks", {{"ok", 9}, {"refused", 0}, {"timeout", 0}, {"http_status", 2},
                                           {"bad_response", 0}, {"no_response", 0}, {"passive", 0}}},
                        {"down_reason", "http_status"},
                        {"last_http_status", 503}}));
  const json p = Ask(R"({"command":"ports"})")["result"];
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0]["name"], "front");
  EXPECT_EQ(p[0]["ipackets"], 1000);
  EXPECT_EQ(Ask(R"({"command":"version"})"), (json{{"ok", true}, {"result", {{"version", "9.8.7"}}}}));
}

TEST_F(Dispatch, ConfigSummarisesPortsPoolsListeners) {
  const json r = Ask(R"({"command":"config"})")["result"];
  EXPECT_EQ(r["source"], "fake.toml");
  EXPECT_EQ(r["ports"][0], (json{{"name", "front"},
                                 {"roles", {"front"}},
                                 {"device", "net_af_packet0,iface=front"},
                                 {"address", "198.18.2.11/24"},
                                 {"gateway", "198.18.2.1"},
                                 {"mtu_bytes", 1500},
                                 {"vlan_id", 0}}));
  EXPECT_EQ(r["pools"][0], (json{{"name", "web"},
                                 {"algorithm", "round_robin"},
                                 {"backends",
                                  {{{"address", "198.18.3.101:80"}, {"weight", 1}},
                                   {{"address", "198.18.3.102:80"}, {"weight", 1}}}}}));
  EXPECT_EQ(r["listeners"][0], (json{{"name", "http"},
                                     {"vip", "198.18.100.10:80"},
                                     {"mode", "tcp"},
                                     {"pool", "web"},
                                     {"proxy_protocol", false}}));
  EXPECT_EQ(snapshots_, 0);  // the config needs no counters
}

TEST_F(Dispatch, MalformedRequestsGetClearErrorsAndTouchNothing) {
  EXPECT_NE(ErrorOf("garbage").find("not JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"command":"stats")").find("not JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"(["stats"])").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"cmd":"stats"})").find("\"command\" (a string) is missing"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"command":7})").find("\"command\" (a string) is missing"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"command":"stats","all":true})").find("unknown field \"all\" (command \"stats\" takes no arguments)"),
            std::string::npos);
  EXPECT_NE(ErrorOf("\xff\xfe").find("not JSON"), std::string::npos);
  EXPECT_EQ(snapshots_, 0);
}

TEST_F(Dispatch, BackendActionsReachTheDataPlane) {
  const json a = Ask(R"({"command":"backend","pool":"web","backend":"198.18.3.102:80","action":"disable"})");
  ASSERT_EQ(a.value("ok", false), true) << a.dump();
  EXPECT_EQ(a["result"]["address"], "198.18.3.102:80");  // the backend as the stats show it
  EXPECT_EQ(a["result"]["active_sessions"], 0);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].pool, 0);
  EXPECT_EQ(changes_[0].backend, 1);
  EXPECT_EQ(changes_[0].admin, dp::BackendAdmin::kDisabled);
  EXPECT_FALSE(changes_[0].weight);
  for (const auto& [action, admin] : {std::pair{"enable", dp::BackendAdmin::kEnabled},
                                      std::pair{"drain", dp::BackendAdmin::kDraining}}) {
    const json r = Ask(std::string(R"({"command":"backend","pool":"api","backend":"198.18.3.201:8080","action":")") +
                       action + "\"}");
    ASSERT_EQ(r.value("ok", false), true) << r.dump();
    EXPECT_EQ(changes_.back().pool, 1);
    EXPECT_EQ(changes_.back().backend, 0);
    EXPECT_EQ(changes_.back().admin, admin);
  }
  for (int w : {0, 7, 1000}) {
    const json r = Ask(R"({"command":"backend","pool":"web","backend":"198.18.3.101:80","action":"weight","weight":)" +
                       std::to_string(w) + "}");
    ASSERT_EQ(r.value("ok", false), true) << r.dump();
    EXPECT_EQ(changes_.back().weight, w);
    EXPECT_FALSE(changes_.back().admin);
  }
  EXPECT_EQ(changes_.size(), 6u);
}

TEST_F(Dispatch, BackendMisuseIsRefusedAndChangesNothing) {
  struct Case {
    std::string request, error;
  };
  const std::string web = R"({"command":"backend","pool":"web","backend":"198.18.3.101:80",)";
  const Case cases[] = {
      {R"({"command":"backend"})", "\"pool\" (a string, the pool's name) is missing"},
      {R"({"command":"backend","pool":7,"backend":"198.18.3.101:80","action":"enable"})",
       "\"pool\" (a string, the pool's name) is missing"},
      {R"({"command":"backend","pool":"web","action":"enable"})", "\"backend\" (a string, ADDRESS:PORT) is missing"},
      {R"({"command":"backend","pool":"web","backend":"198.18.3.101:80"})",
       "\"action\" (a string: enable, disable, drain or weight) is missing"},
      {R"({"command":"backend","pool":"db","backend":"198.18.3.101:80","action":"enable"})",
       "unknown pool \"db\" (pools: web, api)"},
      {R"({"command":"backend","pool":"web","backend":"198.18.3.109:80","action":"enable"})",
       "pool \"web\" has no backend \"198.18.3.109:80\" (backends: 198.18.3.101:80, 198.18.3.102:80)"},
      {R"({"command":"backend","pool":"web","backend":"198.18.3.101","action":"enable"})",
       "has no backend \"198.18.3.101\""},
      {R"({"command":"backend","pool":"api","backend":"198.18.3.101:80","action":"enable"})",
       "pool \"api\" has no backend"},
      {web + R"("action":"reboot"})", "unknown action \"reboot\" (expected enable, disable, drain or weight)"},
      {web + R"("action":"weight"})", "\"weight\" (an integer 0..1000) is missing"},
      {web + R"("action":"weight","weight":1001})", "\"weight\" must be an integer 0..1000, got 1001"},
      {web + R"("action":"weight","weight":-1})", "\"weight\" must be an integer 0..1000, got -1"},
      {web + R"("action":"weight","weight":2.5})", "must be an integer 0..1000, got 2.5"},
      {web + R"("action":"weight","weight":"3"})", "must be an integer 0..1000, got \"3\""},
      {web + R"("action":"disable","weight":3})", "\"weight\" goes only with \"action\":\"weight\""},
      {web + R"("action":"disable","force":true})",
       "unknown field \"force\" (command \"backend\" takes pool, backend, action, weight)"},
      {web + R"("action":"disable")", "not JSON"},
  };
  for (const Case& c : cases) {
    const std::string e = ErrorOf(c.request);
    EXPECT_NE(e.find(c.error), std::string::npos) << c.request << " -> " << e;
  }
  EXPECT_TRUE(changes_.empty());
  EXPECT_EQ(snapshots_, 0);
  // The data plane's own refusal is passed on as is.
  refuse_ = "the data plane is not running";
  EXPECT_EQ(ErrorOf(web + R"("action":"enable"})"), "the data plane is not running");
  EXPECT_TRUE(changes_.empty());
  // A baton without a data plane to change refuses every change.
  ApiSources read_only = sources_;
  read_only.change_backend = nullptr;
  const json a = DispatchApiRequest(web + R"("action":"enable"})", read_only);
  EXPECT_EQ(a.value("error", ""), "this baton cannot change backends");
}

TEST_F(Dispatch, WorkerHaltAndRebalanceReachTheDataPlane) {
  config_.dataplane.workers = 2;
  const json h = Ask(R"({"command":"worker","worker":1,"action":"halt"})");
  ASSERT_TRUE(h.value("ok", false)) << h.dump();
  EXPECT_EQ(halted_, std::vector<uint16_t>{1});
  const json r = Ask(R"({"command":"rebalance","from":0,"to":1,"share":0.25})");
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(r["result"]["moved"], 5);
  ASSERT_EQ(rebalances_.size(), 1u);
  EXPECT_EQ(rebalances_[0].from, 0);
  EXPECT_EQ(rebalances_[0].to, 1);
  EXPECT_DOUBLE_EQ(rebalances_[0].share, 0.25);
  refuse_ = "worker 1 is the last running worker";
  EXPECT_EQ(ErrorOf(R"({"command":"worker","worker":1,"action":"halt"})"), refuse_);
}

TEST_F(Dispatch, WorkerAndRebalanceMisuseIsRefusedAndChangesNothing) {
  config_.dataplane.workers = 2;
  const struct {
    const char* request;
    const char* error;
  } cases[] = {
      {R"({"command":"worker","action":"halt"})", "\"worker\" (a worker number 0..1) is missing"},
      {R"({"command":"worker","worker":2,"action":"halt"})", "\"worker\" must be a worker number 0..1, got 2"},
      {R"({"command":"worker","worker":"1","action":"halt"})", "must be a worker number 0..1, got \"1\""},
      {R"({"command":"worker","worker":1,"action":"resume"})", "\"action\" must be \"halt\""},
      {R"({"command":"worker","worker":1})", "\"action\" must be \"halt\""},
      {R"({"command":"rebalance","from":0,"to":1})", "\"share\" must be a number in (0, 1]"},
      {R"({"command":"rebalance","from":0,"to":1,"share":1.5})", "\"share\" must be a number in (0, 1]"},
      {R"({"command":"rebalance","from":0,"to":1,"share":0})", "\"share\" must be a number in (0, 1]"},
      {R"({"command":"rebalance","from":1,"to":1,"share":0.5})", "\"from\" and \"to\" are the same worker"},
      {R"({"command":"rebalance","from":0,"to":9,"share":0.5})", "\"to\" must be a worker number 0..1, got 9"},
      {R"({"command":"rebalance","from":0,"to":1,"share":0.5,"x":1})", "unknown field \"x\""},
  };
  for (const auto& c : cases) {
    const std::string e = ErrorOf(c.request);
    EXPECT_NE(e.find(c.error), std::string::npos) << c.request << " -> " << e;
  }
  EXPECT_TRUE(halted_.empty());
  EXPECT_TRUE(rebalances_.empty());
}

TEST_F(Dispatch, SessionsListPassesTheFiltersAndShowsEachSession) {
  config_.dataplane.workers = 2;
  const json a = Ask(R"({"command":"sessions","list":true,"worker":1,"client":"198.18.1.10",)"
                     R"("vip":"198.18.100.10:443","backend":"198.18.3.101:80","limit":5})");
  ASSERT_TRUE(a.value("ok", false)) << a.dump();
  ASSERT_EQ(listed_.size(), 1u);
  const dp::SessionFilter& f = listed_[0];
  EXPECT_EQ(f.worker, std::optional<uint16_t>(1));
  EXPECT_EQ(f.client->ToString(), "198.18.1.10");
  EXPECT_EQ(f.vip->first.ToString(), "198.18.100.10");
  EXPECT_EQ(f.vip->second, 443);
  EXPECT_EQ(f.backend->second, 80);
  EXPECT_EQ(f.limit, 5u);
  EXPECT_EQ(a["result"]["matched"], 7);
  EXPECT_EQ(a["result"]["list"][0]["backend"], "198.18.3.101:80");
  EXPECT_EQ(a["result"]["active"], 7);  // the counts stay
  EXPECT_NE(FormatCtlResult("sessions", a["result"]).find("#3 worker 1 198.18.1.10:40000 -> 198.18.100.10:443 tls"),
            std::string::npos);
  const struct {
    const char* request;
    const char* error;
  } bad[] = {
      {R"({"command":"sessions","worker":1})", "\"worker\" goes only with \"list\":true"},
      {R"({"command":"sessions","list":"yes"})", "\"list\" must be true or false"},
      {R"({"command":"sessions","list":true,"vip":"198.18.100.10"})", "\"vip\" must be \"ADDRESS:PORT\""},
      {R"({"command":"sessions","list":true,"backend":"x:80"})", "\"backend\" must be \"ADDRESS:PORT\""},
      {R"({"command":"sessions","list":true,"client":"300.1.1.1"})", "\"client\" must be an IPv4 address"},
      {R"({"command":"sessions","list":true,"limit":0})", "\"limit\" must be an integer 1..10000, got 0"},
      {R"({"command":"sessions","list":true,"worker":4})", "\"worker\" must be a worker number 0..1, got 4"},
  };
  for (const auto& c : bad) {
    const std::string e = ErrorOf(c.request);
    EXPECT_NE(e.find(c.error), std::string::npos) << c.request << " -> " << e;
  }
  EXPECT_EQ(listed_.size(), 1u);
}

TEST_F(Dispatch, UnknownCommandNamesTheKnownOnes) {
  const std::string e = ErrorOf(R"({"command":"reboot"})");
  EXPECT_NE(e.find("unknown command \"reboot\""), std::string::npos) << e;
  for (std::string_view name : ApiCommands()) EXPECT_NE(e.find(name), std::string::npos) << name;
  EXPECT_EQ(snapshots_, 0);
}

TEST_F(Dispatch, OversizeRequestIsRefusedUnparsed) {
  std::string big = R"({"command":"stats","pad":")" + std::string(kMaxApiRequestBytes, 'x') + "\"}";
  EXPECT_NE(ErrorOf(big).find("longer than 65536 bytes"), std::string::npos);
  EXPECT_EQ(snapshots_, 0);
  // Exactly at the bound it is parsed (and refused for its stray field instead).
  std::string at = R"({"command":"stats","p":")";
  at += std::string(kMaxApiRequestBytes - at.size() - 2, 'x') + "\"}";
  ASSERT_EQ(at.size(), kMaxApiRequestBytes);
  EXPECT_NE(ErrorOf(at).find("unknown field"), std::string::npos);
}

TEST(StatsJson, RoundTripsThroughStatsFromJson) {
  const json once = StatsToJson(test::FakeStats());
  EXPECT_EQ(StatsToJson(StatsFromJson(once)), once);
  EXPECT_EQ(StatsReport(StatsFromJson(once)).find("drop ipv4_bad_checksum (IPv4 header checksum wrong): 5") !=
                std::string::npos,
            true);
}

TEST(StatsJson, LatencyTotalsWithQuantiles) {
  const json j = StatsToJson(test::FakeStats());
  const json& hs = j["latency"]["tls_handshake"];
  EXPECT_EQ(hs["count"], 4u);
  EXPECT_EQ(hs["sum_us"], 300u + 3'000u + 800u + 20'000'000u);
  EXPECT_EQ(hs["buckets"].size(), dp::kLatencyBuckets);
  // Ranks 2, 3.6, 3.96 of 4: the (500 us, 1 ms] bucket's top, then the overflow bucket,
  // which answers the last bound.
  EXPECT_EQ(hs["p50_us"], 1'000u);
  EXPECT_EQ(hs["p90_us"], 10'000'000u);
  const json& rq = j["latency"]["request"];
  EXPECT_EQ(rq["count"], 3u);
  EXPECT_EQ(rq["p50_us"], 750u);  // rank 1.5 of 3 in (500 us, 1 ms]
  EXPECT_EQ(j["latency"]["backend_connect"]["count"], 0u);
  EXPECT_EQ(j["latency"]["backend_connect"]["p99_us"], 0u);
  EXPECT_EQ(j["latency_bounds_us"].size(), dp::kLatencyBoundsUs.size());
  EXPECT_EQ(j["lcores"][1]["latency"]["tls_handshake"]["count"], 2u);
  const std::string report = StatsReport(StatsFromJson(j));
  EXPECT_NE(report.find("latency: tls_handshake n=4 p50 1.0 ms p90 10.00 s p99 10.00 s; request n=3 p50 750 us"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("backend_connect none\n"), std::string::npos) << report;
}

TEST(CtlFormat, HumanForms) {
  const dp::StatsSnapshot s = test::FakeStats();
  EXPECT_EQ(FormatCtlResult("sessions", SessionsToJson(s)),
            "sessions active 7 (opened 21, closed 14)\n  worker 0 (lcore 1): 3\n  worker 1 (lcore 2): 4\n");
  EXPECT_EQ(FormatCtlResult("drops", DropsToJson(s)),
            "drop ipv4_bad_checksum: 10\ndrop tcp_no_session: 2\n  tcp: ACK in LISTEN: 4\n");
  EXPECT_EQ(FormatCtlResult("drops", DropsToJson(dp::StatsSnapshot{})), "no drops\n");
  EXPECT_EQ(FormatCtlResult("backends", BackendsToJson(s)),
            "backend web 198.18.3.101:80: sessions 5 (active 1), connect failures 0; enabled, weight 1, up\n"
            "backend web 198.18.3.102:80: sessions 4 (active 0), connect failures 2; draining, no sessions "
            "remain, weight 3, down: http_status (health checks, 1 transitions)\n");
  json draining = BackendsToJson(s)[1];
  draining["active_sessions"] = 3;
  EXPECT_EQ(FormatCtlResult("backend", draining),
            "backend web 198.18.3.102:80: draining, 3 session(s) remain, weight 3, down: http_status (health checks, 1 "
            "transitions)\n");
  EXPECT_EQ(FormatCtlResult("version", json{{"version", "1.2.3"}}), "baton 1.2.3\n");
}

TEST(CtlRequest, BackendArgumentsBecomeOneRequest) {
  const CtlCommand* backend = nullptr;
  const CtlCommand* stats = nullptr;
  for (const CtlCommand& c : CtlCommands()) {
    if (c.name == "backend") backend = &c;
    if (c.name == "stats") stats = &c;
  }
  ASSERT_TRUE(backend && stats);
  std::string error;
  EXPECT_EQ(json::parse(CtlRequest(*backend, {"web", "198.18.3.101:80", "drain"}, error)),
            (json{{"command", "backend"}, {"pool", "web"}, {"backend", "198.18.3.101:80"}, {"action", "drain"}}));
  EXPECT_EQ(json::parse(CtlRequest(*backend, {"web", "198.18.3.101:80", "weight", "5"}, error)),
            (json{{"command", "backend"},
                  {"pool", "web"},
                  {"backend", "198.18.3.101:80"},
                  {"action", "weight"},
                  {"weight", 5}}));
  // Not a number: sent as text, for baton to refuse with its own message.
  EXPECT_EQ(json::parse(CtlRequest(*backend, {"web", "b", "weight", "x"}, error))["weight"], "x");
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{}, {"web"}, {"web", "b"}, {"web", "b", "weight"}, {"web", "b", "drain", "5"}}) {
    error.clear();
    EXPECT_EQ(CtlRequest(*backend, bad, error), "");
    EXPECT_NE(error.find("usage: baton ctl backend POOL ADDRESS:PORT"), std::string::npos);
  }
  EXPECT_EQ(CtlRequest(*stats, {"extra"}, error), "");
  EXPECT_EQ(error, "stats takes no arguments");
  EXPECT_EQ(CtlRequest(*stats, {}, error), R"({"command":"stats"})");
}

}  // namespace
}  // namespace baton::cp
