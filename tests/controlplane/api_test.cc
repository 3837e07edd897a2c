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
  ApiSources sources_{[this] {
                        ++snapshots_;
                        return test::FakeStats();
                      },
                      &config_, "9.8.7"};
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
  EXPECT_EQ(r["workers"][1], (json{{"worker", 1}, {"lcore", 2}, {"active", 4}}));
}

TEST_F(Dispatch, BackendsPortsVersion) {
  const json b = Ask(R"({"command":"backends"})")["result"];
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1], (json{{"pool", "web"},
                        {"address", "198.18.3.102:80"},
                        {"sessions_started", 4},
                        {"active_sessions", 0},
                        {"connect_failures", 2}}));
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
                                 {"backends", {{{"address", "198.18.3.101:80"}, {"weight", 1}}}}}));
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
  EXPECT_NE(ErrorOf(R"({"command":"stats","all":true})").find("unknown field \"all\""), std::string::npos);
  EXPECT_NE(ErrorOf("\xff\xfe").find("not JSON"), std::string::npos);
  EXPECT_EQ(snapshots_, 0);
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

TEST(CtlFormat, HumanForms) {
  const dp::StatsSnapshot s = test::FakeStats();
  EXPECT_EQ(FormatCtlResult("sessions", SessionsToJson(s)),
            "sessions active 7 (opened 21, closed 14)\n  worker 0 (lcore 1): 3\n  worker 1 (lcore 2): 4\n");
  EXPECT_EQ(FormatCtlResult("drops", DropsToJson(s)),
            "drop ipv4_bad_checksum: 10\ndrop tcp_no_session: 2\n  tcp: ACK in LISTEN: 4\n");
  EXPECT_EQ(FormatCtlResult("drops", DropsToJson(dp::StatsSnapshot{})), "no drops\n");
  EXPECT_EQ(FormatCtlResult("backends", BackendsToJson(s)),
            "backend web 198.18.3.101:80: sessions 5 (active 1), connect failures 0\n"
            "backend web 198.18.3.102:80: sessions 4 (active 0), connect failures 2\n");
  EXPECT_EQ(FormatCtlResult("version", json{{"version", "1.2.3"}}), "baton 1.2.3\n");
}

}  // namespace
}  // namespace baton::cp
