// The workers' log ring (dataplane/worker_log.h): level filter, token bucket, the
// "N suppressed" report, a full ring, and one producer thread against one consumer.
#include "dataplane/worker_log.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace baton::dp {
namespace {

constexpr uint64_t kSec = 1'000'000;

TEST(WorkerLog, LevelFilterAndFields) {
  WorkerLog log(3, LogLevel::kWarn);
  EXPECT_FALSE(log.Log(kSec, LogLevel::kInfo, LogEvent::kBackendUp, {}));
  EXPECT_TRUE(log.Log(kSec, LogLevel::kWarn, LogEvent::kBackendDown,
                      {LogField::Text("pool", "web"), LogField::Ipv4Port("backend", 0xc6120366, 80),
                       LogField::Uint("http_status", 503)}));
  std::vector<LogRecord> out;
  ASSERT_EQ(log.Drain(out), 1u);
  EXPECT_EQ(out[0].worker, 3);
  EXPECT_EQ(out[0].event, LogEvent::kBackendDown);
  EXPECT_EQ(out[0].time_us, kSec);
  ASSERT_EQ(out[0].field_count, 3);
  EXPECT_STREQ(out[0].fields[0].text, "web");
  EXPECT_EQ(out[0].fields[1].value, uint64_t(0xc6120366) << 16 | 80);
  EXPECT_EQ(log.Drain(out), 0u);
  EXPECT_EQ(log.SuppressedTotal(), 0u);  // below the level is not suppressed, just off
}

TEST(WorkerLog, TokenBucketSuppressesAndReportsTheCount) {
  WorkerLog log(0, LogLevel::kDebug, 1024, /*per_second=*/10, /*burst=*/5);
  int accepted = 0;
  for (int i = 0; i < 50; ++i) accepted += log.Log(kSec, LogLevel::kInfo, LogEvent::kBackendUp, {}) ? 1 : 0;
  EXPECT_EQ(accepted, 5);  // the burst
  std::vector<LogRecord> out;
  EXPECT_EQ(log.Drain(out), 5u);
  // 100 ms later one token is back: it goes to the report of the 45 dropped.
  log.Tick(kSec + 100'000);
  out.clear();
  ASSERT_EQ(log.Drain(out), 1u);
  EXPECT_EQ(out[0].event, LogEvent::kLogSuppressed);
  EXPECT_EQ(out[0].level, LogLevel::kWarn);
  EXPECT_EQ(out[0].fields[0].value, 45u);
  EXPECT_EQ(log.SuppressedTotal(), 45u);
  // Another second: the bucket is full again (5), records flow.
  out.clear();
  EXPECT_TRUE(log.Log(2 * kSec + 100'000, LogLevel::kInfo, LogEvent::kBackendUp, {}));
  EXPECT_EQ(log.Drain(out), 1u);
}

TEST(WorkerLog, FullRingCountsInsteadOfBlocking) {
  WorkerLog log(0, LogLevel::kDebug, 8, 1'000'000, 1'000);
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += log.Log(kSec, LogLevel::kInfo, LogEvent::kBackendUp, {}) ? 1 : 0;
  EXPECT_EQ(accepted, 8);
  std::vector<LogRecord> out;
  EXPECT_EQ(log.Drain(out), 8u);
  out.clear();
  EXPECT_TRUE(log.Log(kSec + 1, LogLevel::kInfo, LogEvent::kBackendUp, {}));
  ASSERT_EQ(log.Drain(out), 2u);  // the report of 12 dropped first, then the record
  EXPECT_EQ(out[0].event, LogEvent::kLogSuppressed);
  EXPECT_EQ(out[0].fields[0].value, 12u);
  EXPECT_EQ(out[1].event, LogEvent::kBackendUp);
}

TEST(WorkerLog, OneProducerOneConsumerLoseNothingUnaccounted) {
  WorkerLog log(0, LogLevel::kDebug, 64, 1'000'000'000, 1'000'000);
  constexpr int kRecords = 200'000;
  std::atomic<bool> done{false};
  uint64_t accepted = 0;
  std::thread producer([&] {
    for (int i = 0; i < kRecords; ++i)
      accepted += log.Log(kSec + uint64_t(i), LogLevel::kInfo, LogEvent::kBackendUp,
                          {LogField::Uint("i", uint64_t(i))}) ? 1 : 0;
    while (log.SuppressedPendingForTest() != 0) log.Tick(kSec + kRecords + 1);
    done.store(true);
  });
  std::vector<LogRecord> out;
  uint64_t got = 0, reported = 0, last = 0;
  bool ordered = true;
  while (!done.load() || log.Drain(out) != 0) {
    (void)log.Drain(out);
    for (const LogRecord& r : out) {
      if (r.event == LogEvent::kLogSuppressed) {
        reported += r.fields[0].value;
        continue;
      }
      ++got;
      ordered &= got == 1 || r.fields[0].value > last;
      last = r.fields[0].value;
    }
    out.clear();
  }
  producer.join();
  for (const LogRecord& r : out) got += r.event == LogEvent::kLogSuppressed ? 0 : 1;
  EXPECT_EQ(got, accepted);
  EXPECT_TRUE(ordered);
  EXPECT_EQ(accepted + reported, uint64_t(kRecords)) << "every record either arrives or is counted";
}

}  // namespace
}  // namespace baton::dp
