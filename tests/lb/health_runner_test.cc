// HealthRunner and HealthBoard (dataplane/health_runner.h) in memory: two workers'
// runners on one board. Worker 1's passive marking reaches worker 0's checker, the
// checker's verdict reaches both workers' pools at their next Sync, and worker 0 logs
// it; probe segments are recognised by port and address.
#include "dataplane/health_runner.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/packet/fake_sink.h"

namespace baton::dp {
namespace {

constexpr uint32_t kBackIp = 0xc6120b0b;  // 198.18.3.11

struct FakeSinkAdapter {
  testkit::FakeSink sink;
};

struct TwoWorkers {
  std::vector<PoolConfig> config;
  DpCounters counters;
  L3Stack l3{ArpConfig{}, counters};
  std::unique_ptr<HealthBoard> board;
  WorkerLog log0{0}, log1{1};
  std::unique_ptr<HealthRunner> w0, w1;
  std::vector<lb::Pool> pools0, pools1;

  TwoWorkers() {
    PoolConfig web;
    web.name = "web";
    web.health.enabled = true;
    web.health.fall = 2;
    web.health.rise = 2;
    for (uint32_t i = 0; i < 3; ++i) web.backends.push_back({IpAddr::V4(0xc6120365 + i), 80, 1});
    PoolConfig plain;
    plain.name = "plain";
    plain.backends.push_back({IpAddr::V4(0xc6120365), 9000, 1});
    config = {plain, web};
    PortIdentity front, back;
    front.ip = 0xc6120201;
    front.netmask = 0xffffff00;
    back.ip = kBackIp;
    back.netmask = 0xffffff00;
    l3.AddPort(front);
    l3.AddPort(back);
    board = std::make_unique<HealthBoard>(config, lb::ProbePorts{59936, 64});
    w0 = std::make_unique<HealthRunner>(*board, 0, config, l3, 1, tcp::IsnKey{}, &log0, 1'000'000);
    w1 = std::make_unique<HealthRunner>(*board, 1, config, l3, 1, tcp::IsnKey{}, &log1, 1'000'000);
    for (auto* pools : {&pools0, &pools1}) {
      pools->resize(config.size());
      for (size_t p = 0; p < config.size(); ++p) EXPECT_EQ((*pools)[p].Init(config[p]), lb::PoolStatus::kOk);
    }
  }
};

TEST(HealthRunner, PassiveMarkOnOneWorkerTakesTheBackendOutOnEvery) {
  TwoWorkers t;
  t.w0->Sync(t.pools0, 1'000'000);
  t.w1->Sync(t.pools1, 1'000'000);  // sets passive marking (fall = 2) on the web pool only
  // Worker 1: two connect failures in a row to web backend 2.
  t.pools1[1].OnConnectFailure(2);
  t.pools1[1].OnConnectFailure(2);
  EXPECT_FALSE(t.pools1[1].Backend(2).available);
  // The plain pool has no health checks: failures never mark it down.
  for (int i = 0; i < 5; ++i) t.pools1[0].OnConnectFailure(0);
  EXPECT_TRUE(t.pools1[0].Backend(0).available);
  t.w1->Sync(t.pools1, 1'001'000);  // hands the mark to the board
  EXPECT_TRUE(t.pools0[1].Backend(2).available);
  t.w0->Sync(t.pools0, 1'001'000);  // worker 0: the checker marks it down and publishes
  EXPECT_FALSE(t.pools0[1].Backend(2).available);
  EXPECT_TRUE(t.pools0[1].Backend(1).available);
  EXPECT_EQ(t.board->up[t.board->pool_first[1] + 2].load(), 0);
  t.w1->Sync(t.pools1, 1'002'000);
  EXPECT_FALSE(t.pools1[1].Backend(2).available);
  // Worker 0 logged it, with the pool's name and the backend's address.
  std::vector<LogRecord> out;
  t.log0.Drain(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event, LogEvent::kHealthChecksStarted);
  EXPECT_EQ(out[1].event, LogEvent::kBackendDown);
  EXPECT_STREQ(out[1].fields[0].text, "web");
  EXPECT_EQ(out[1].fields[1].value, uint64_t(0xc6120367) << 16 | 80);
  EXPECT_STREQ(out[1].fields[2].text, "passive");
}

TEST(HealthRunner, ProbeSegmentsAreRecognisedByPortAndAddress) {
  TwoWorkers t;
  std::array<uint8_t, 20> seg{};
  seg[2] = uint8_t(59936 >> 8);
  seg[3] = uint8_t(59936 & 0xff);
  const TcpView to_probe{0xc6120365, kBackIp, 0, 20};
  const uint64_t now = 2'000'000;
  EXPECT_TRUE(t.w0->Owns(1, to_probe, seg, now));
  // Worker 1 steers them to worker 0 only while worker 0 probes.
  EXPECT_FALSE(t.w1->Owns(1, to_probe, seg, now)) << "worker 0 never advanced";
  FakeSinkAdapter sink;
  t.w0->Advance(now - 50'000, t.l3, sink.sink);
  EXPECT_TRUE(t.w1->Owns(1, to_probe, seg, now));
  EXPECT_FALSE(t.w1->Owns(1, to_probe, seg, now + 100'000)) << "worker 0 stopped 150 ms ago";
  EXPECT_FALSE(t.w0->Owns(0, to_probe, seg, now)) << "front port";
  EXPECT_FALSE(t.w0->Owns(1, TcpView{0xc6120365, 0xc6120b0c, 0, 20}, seg, now)) << "another address";
  seg[3] = uint8_t((59936 - 1) & 0xff);  // 59935: a session's SNAT port
  EXPECT_FALSE(t.w0->Owns(1, to_probe, seg, now));
}

}  // namespace
}  // namespace baton::dp
