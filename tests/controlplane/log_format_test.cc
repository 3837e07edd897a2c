// Data-plane log records as JSON lines (controlplane/log_format.h).
#include "controlplane/log_format.h"

#include <gtest/gtest.h>

namespace baton::cp {
namespace {

TEST(LogLine, OneJsonObjectWithTimeLevelWorkerEventThenFields) {
  dp::LogRecord r;
  r.time_us = 1'795'000'000'123'456;  // 2026-11-18T11:06:40.123456Z
  r.worker = 2;
  r.level = dp::LogLevel::kWarn;
  r.event = dp::LogEvent::kBackendDown;
  r.fields[0] = dp::LogField::Text("pool", "web");
  r.fields[1] = dp::LogField::Ipv4Port("backend", 0xc6120366, 80);
  r.fields[2] = dp::LogField::Text("reason", "timeout");
  r.fields[3] = dp::LogField::Uint("http_status", 0);
  r.fields[4] = dp::LogField::Int("delta", -3);
  r.fields[5] = dp::LogField::Ipv4("snat", 0xc6120b0b);
  r.field_count = 6;
  EXPECT_EQ(LogLine(r),
            "{\"time\":\"2026-11-18T11:06:40.123456Z\",\"level\":\"warn\",\"worker\":2,\"event\":\"backend_down\","
            "\"pool\":\"web\",\"backend\":\"198.18.3.102:80\",\"reason\":\"timeout\",\"http_status\":0,"
            "\"delta\":-3,\"snat\":\"198.18.11.11\"}");
}

TEST(LogLine, SuppressedAndNoFields) {
  dp::LogRecord r;
  r.time_us = 0;
  r.event = dp::LogEvent::kLogSuppressed;
  r.level = dp::LogLevel::kWarn;
  r.fields[0] = dp::LogField::Uint("count", 45);
  r.field_count = 1;
  EXPECT_EQ(LogLine(r),
            "{\"time\":\"1970-01-01T00:00:00.000000Z\",\"level\":\"warn\",\"worker\":0,\"event\":\"log_suppressed\","
            "\"count\":45}");
  r.field_count = 0;
  r.event = dp::LogEvent::kWorkerAdoptedSessions;
  r.level = dp::LogLevel::kInfo;
  EXPECT_EQ(LogLine(r), "{\"time\":\"1970-01-01T00:00:00.000000Z\",\"level\":\"info\",\"worker\":0,"
                        "\"event\":\"worker_adopted_sessions\"}");
}

TEST(LogLevel, ParsesItsKeys) {
  EXPECT_EQ(dp::ParseLogLevel("debug"), dp::LogLevel::kDebug);
  EXPECT_EQ(dp::ParseLogLevel("error"), dp::LogLevel::kError);
  EXPECT_FALSE(dp::ParseLogLevel("verbose").has_value());
}

}  // namespace
}  // namespace baton::cp
