// The metrics page, golden checks: HELP and TYPE for every family, one family per
// name, exact sample lines, label values escaped per exposition format 0.0.4.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "controlplane/metrics.h"
#include "tests/controlplane/fake_stats.h"

namespace baton::cp {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const std::string& l : Lines(text))
    if (l == line) return true;
  return false;
}

TEST(MetricsEscape, LabelValues) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\"b"), "a\\\"b");
  EXPECT_EQ(EscapeLabelValue("a\\b"), "a\\\\b");
  EXPECT_EQ(EscapeLabelValue("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeLabelValue("\\\"\n"), "\\\\\\\"\\n");
  EXPECT_EQ(EscapeHelp("say \"x\"\\\n"), "say \"x\"\\\\\\n");  // quotes stay in HELP
}

TEST(MetricsText, EveryFamilyHasHelpThenTypeOnceAndOwnsItsSamples) {
  const std::string text = MetricsText(test::FakeStats(), "1.2.3");
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::set<std::string> families;
  std::string current;
  std::string pending_help;
  for (const std::string& line : Lines(text)) {
    if (line.rfind("# HELP ", 0) == 0) {
      pending_help = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_EQ(name, pending_help) << "TYPE without HELP right before it: " << line;
      const std::string type = line.substr(line.rfind(' ') + 1);
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      if (type == "histogram") {
        EXPECT_TRUE(name.ends_with("_seconds")) << name;
      }
      if (type == "counter") {
        EXPECT_TRUE(name.ends_with("_total")) << name;
      }
      EXPECT_TRUE(families.insert(name).second) << "family declared twice: " << name;
      current = name;
      continue;
    }
    ASSERT_FALSE(line.empty());
    ASSERT_NE(line[0], '#') << line;
    const std::string sample = line.substr(0, line.find_first_of("{ "));
    const bool histogram_part = sample == current + "_bucket" || sample == current + "_sum" ||
                                sample == current + "_count";
    EXPECT_TRUE(sample == current || histogram_part) << "sample outside its family: " << line;
  }
  for (const char* want : {"baton_build_info", "baton_port_rx_packets_total", "baton_drops_total",
                           "baton_tcp_drops_total", "baton_sessions_active", "baton_sessions_opened_total",
                           "baton_backend_sessions_total", "baton_backend_active_sessions",
                           "baton_backend_connect_failures_total", "baton_backend_up",
                           "baton_backend_health_transitions_total", "baton_backend_admin_state",
                           "baton_backend_weight", "baton_tls_handshake_seconds", "baton_request_seconds",
                           "baton_backend_connect_seconds"})
    EXPECT_EQ(families.count(want), 1u) << want;
  EXPECT_EQ(families.count("baton_health_checks_total"), 1u);
}

TEST(MetricsText, GoldenLines) {
  const std::string text = MetricsText(test::FakeStats(), "1.2.3");
  for (const char* line : {
           "# HELP baton_build_info Always 1; the version label says which baton this is.",
           "# TYPE baton_build_info gauge",
           "baton_build_info{version=\"1.2.3\"} 1",
           "# TYPE baton_port_rx_packets_total counter",
           "baton_port_rx_packets_total{port=\"front\"} 1000",
           "baton_port_rx_packets_total{port=\"back\"} 7",
           "baton_port_link_up{port=\"front\"} 1",
           "baton_sessions_active{worker=\"1\"} 4",
           "baton_sessions_opened_total{worker=\"0\"} 10",
           "baton_drops_total{reason=\"ipv4_bad_checksum\",worker=\"0\"} 5",
           "baton_drops_total{reason=\"tcp_no_session\",worker=\"0\"} 0",
           "baton_drops_total{reason=\"tcp_no_session\",worker=\"1\"} 2",
           "baton_tcp_drops_total{reason=\"ACK in LISTEN\",worker=\"0\"} 4",
           "baton_backend_sessions_total{pool=\"web\",backend=\"198.18.3.101:80\"} 5",
           "baton_backend_active_sessions{pool=\"web\",backend=\"198.18.3.101:80\"} 1",
           "baton_backend_connect_failures_total{pool=\"web\",backend=\"198.18.3.102:80\"} 2",
           "# TYPE baton_backend_up gauge",
           "baton_backend_up{pool=\"web\",backend=\"198.18.3.101:80\"} 1",
           "baton_backend_up{pool=\"web\",backend=\"198.18.3.102:80\"} 0",
           "baton_backend_health_transitions_total{pool=\"web\",backend=\"198.18.3.102:80\"} 1",
           "baton_backend_admin_state{pool=\"web\",backend=\"198.18.3.101:80\",state=\"enabled\"} 1",
           "baton_backend_admin_state{pool=\"web\",backend=\"198.18.3.101:80\",state=\"draining\"} 0",
           "baton_backend_admin_state{pool=\"web\",backend=\"198.18.3.102:80\",state=\"enabled\"} 0",
           "baton_backend_admin_state{pool=\"web\",backend=\"198.18.3.102:80\",state=\"draining\"} 1",
           "baton_backend_weight{pool=\"web\",backend=\"198.18.3.102:80\"} 3",
           "# TYPE baton_health_checks_total counter",
           "baton_health_checks_total{pool=\"web\",backend=\"198.18.3.102:80\",result=\"ok\"} 9",
           "baton_health_checks_total{pool=\"web\",backend=\"198.18.3.102:80\",result=\"http_status\"} 2",
           "baton_health_checks_total{pool=\"web\",backend=\"198.18.3.102:80\",result=\"passive\"} 0",
       })
    EXPECT_TRUE(HasLine(text, line)) << "missing: " << line;
  EXPECT_FALSE(HasLine(text, "baton_drops_total{reason=\"none\",worker=\"0\"} 0"));
}

// Both workers summed: handshakes 300 us, 3 ms (worker 0), 800 us, 20 s (worker 1).
TEST(MetricsText, HistogramsAreCumulativeAndSummedOverWorkers) {
  const std::string text = MetricsText(test::FakeStats(), "1.2.3");
  for (const char* line : {
           "# TYPE baton_tls_handshake_seconds histogram",
           "baton_tls_handshake_seconds_bucket{le=\"0.00005\"} 0",
           "baton_tls_handshake_seconds_bucket{le=\"0.0002\"} 0",
           "baton_tls_handshake_seconds_bucket{le=\"0.0005\"} 1",
           "baton_tls_handshake_seconds_bucket{le=\"0.001\"} 2",
           "baton_tls_handshake_seconds_bucket{le=\"0.005\"} 3",
           "baton_tls_handshake_seconds_bucket{le=\"1\"} 3",
           "baton_tls_handshake_seconds_bucket{le=\"10\"} 3",
           "baton_tls_handshake_seconds_bucket{le=\"+Inf\"} 4",
           "baton_tls_handshake_seconds_sum 20.0041",
           "baton_tls_handshake_seconds_count 4",
           "baton_request_seconds_bucket{le=\"0.0005\"} 0",
           "baton_request_seconds_bucket{le=\"0.001\"} 3",  // le is inclusive
           "baton_request_seconds_bucket{le=\"+Inf\"} 3",
           "baton_request_seconds_sum 0.003",
           "baton_request_seconds_count 3",
           "baton_backend_connect_seconds_bucket{le=\"+Inf\"} 0",
           "baton_backend_connect_seconds_sum 0",
           "baton_backend_connect_seconds_count 0",
       })
    EXPECT_TRUE(HasLine(text, line)) << "missing: " << line;
}

TEST(MetricsText, LabelValuesAreEscapedInThePage) {
  dp::StatsSnapshot s = test::FakeStats();
  s.backends[0].pool = "we\"b\\x\ny";
  s.lcores[0].tcp_drops = {{"odd \"reason\"", 1}};
  const std::string text = MetricsText(s, "v\"1");
  EXPECT_TRUE(HasLine(text, "baton_build_info{version=\"v\\\"1\"} 1"));
  EXPECT_TRUE(HasLine(text, "baton_backend_sessions_total{pool=\"we\\\"b\\\\x\\ny\",backend=\"198.18.3.101:80\"} 5"));
  EXPECT_TRUE(HasLine(text, "baton_tcp_drops_total{reason=\"odd \\\"reason\\\"\",worker=\"0\"} 1"));
}

TEST(MetricsText, EmptySnapshotStillDeclaresEveryFamily) {
  const std::string text = MetricsText(dp::StatsSnapshot{}, "1.2.3");
  EXPECT_TRUE(HasLine(text, "# TYPE baton_drops_total counter"));
  EXPECT_TRUE(HasLine(text, "# TYPE baton_backend_active_sessions gauge"));
  EXPECT_TRUE(HasLine(text, "baton_request_seconds_bucket{le=\"+Inf\"} 0"));
  EXPECT_TRUE(HasLine(text, "baton_request_seconds_count 0"));
}

}  // namespace
}  // namespace baton::cp
