// A StatsSnapshot with something in every part, for the control-plane tests.
#pragma once

#include "dataplane/api/config.h"
#include "dataplane/api/stats.h"

namespace baton::cp::test {

inline dp::StatsSnapshot FakeStats() {
  dp::StatsSnapshot s;
  dp::PortStats front;
  front.name = "front";
  front.mac = "02:00:00:00:00:01";
  front.driver = "net_af_packet";
  front.link_up = true;
  front.ipackets = 1000;
  front.opackets = 900;
  front.ibytes = 100000;
  front.obytes = 90000;
  s.ports.push_back(front);
  dp::PortStats back = front;
  back.name = "back";
  back.ipackets = 7;
  s.ports.push_back(back);
  s.backends.push_back({"web", "198.18.3.101:80", 5, 1, 0});
  dp::BackendStats drained{"web", "198.18.3.102:80", 4, 0, 2};
  drained.admin = "draining";
  drained.weight = 3;
  drained.up = false;
  drained.health_checked = true;
  drained.health_transitions = 1;
  drained.health_checks[dp::Idx(dp::HealthResult::kOk)] = 9;
  drained.health_checks[dp::Idx(dp::HealthResult::kHttpStatus)] = 2;
  drained.down_reason = "http_status";
  drained.last_http_status = 503;
  s.backends.push_back(drained);
  for (uint16_t w = 0; w < 2; ++w) {
    dp::LcoreStats l;
    l.lcore = uint16_t(w + 1);
    l.worker = w;
    l.passes = 100;
    l.rx_packets = 50;
    l.sessions_active = 3 + w;
    l.counters[dp::Idx(dp::Counter::kSessionsOpened)] = 10 + w;
    l.counters[dp::Idx(dp::Counter::kSessionsClosed)] = 7;
    l.drops[dp::Idx(dp::DropReason::kIpv4BadChecksum)] = 5;
    if (w == 1) l.drops[dp::Idx(dp::DropReason::kTcpNoSession)] = 2;
    l.tcp_drops = {{"RST for no connection", 0}, {"ACK in LISTEN", w == 0 ? 4u : 0u}};
    // TLS handshakes: worker 0 saw 300 us and 3 ms, worker 1 saw 800 us and 20 s (overflow).
    // Requests: only worker 0, 3 x 1 ms. Backend connects: none.
    dp::LatencyHistogram& hs = l.latency[dp::Idx(dp::Latency::kTlsHandshake)];
    hs.Record(w == 0 ? 300 : 800);
    hs.Record(w == 0 ? 3'000 : 20'000'000);
    if (w == 0)
      for (int i = 0; i < 3; ++i) l.latency[dp::Idx(dp::Latency::kRequest)].Record(1'000);
    s.lcores.push_back(l);
  }
  return s;
}

inline dp::ConfigSnapshot FakeConfig() {
  dp::ConfigSnapshot c;
  c.source = "fake.toml";
  c.generation = 1;
  dp::PortConfig p;
  p.name = "front";
  p.roles = dp::kRoleFront;
  p.device = "net_af_packet0,iface=front";
  p.address = *dp::IpPrefix::Parse("198.18.2.11/24");
  p.gateway = *dp::IpAddr::Parse("198.18.2.1");
  c.ports.push_back(p);
  dp::PoolConfig pool;
  pool.name = "web";
  pool.backends.push_back({*dp::IpAddr::Parse("198.18.3.101"), 80, 1});
  pool.backends.push_back({*dp::IpAddr::Parse("198.18.3.102"), 80, 1});
  c.pools.push_back(pool);
  dp::PoolConfig api;
  api.name = "api";
  api.backends.push_back({*dp::IpAddr::Parse("198.18.3.201"), 8080, 1});
  c.pools.push_back(api);
  dp::ListenerConfig l;
  l.name = "http";
  l.vip = *dp::IpAddr::Parse("198.18.100.10");
  l.port = 80;
  l.pool = 0;
  c.listeners.push_back(l);
  return c;
}

}  // namespace baton::cp::test
