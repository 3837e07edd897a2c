// Live reload, the pure part (dataplane/proxy/config_remap.h): how listeners, pools and
// backends map across configs, and the fate of a live session in every case.
#include <gtest/gtest.h>

#include "dataplane/proxy/config_remap.h"
#include "dataplane/proxy/tls_listeners.h"

namespace baton::dp {
namespace {

BackendConfig Be(uint8_t host, uint16_t port = 80) { return {IpAddr::V4(0xc6120300u | host), port, 1}; }

ConfigSnapshot Old() {
  ConfigSnapshot c;
  c.pools = {{"web", BalanceAlgorithm::kRoundRobin, {Be(101), Be(102), Be(103)}, {}},
             {"echo", BalanceAlgorithm::kRoundRobin, {Be(101, 9000), Be(102, 9000)}, {}}};
  c.listeners = {{"http", IpAddr::V4(0xc6126410u), 80, ListenerMode::kTcp, 0, false, {}},
                 {"echo", IpAddr::V4(0xc6126410u), 9000, ListenerMode::kTcp, 1, false, {}}};
  return c;
}

// "web" loses .101 and gains .104 in front; "echo" is gone; "sink" is new; listener
// "echo" is gone, "http" moves to pool "sink" (index 0 now), "new" appears.
ConfigSnapshot New() {
  ConfigSnapshot c;
  c.pools = {{"sink", BalanceAlgorithm::kRoundRobin, {Be(101, 9001)}, {}},
             {"web", BalanceAlgorithm::kMaglev, {Be(104), Be(103), Be(102)}, {}}};
  c.listeners = {{"new", IpAddr::V4(0xc6126411u), 80, ListenerMode::kTcp, 1, false, {}},
                 {"http", IpAddr::V4(0xc6126410u), 80, ListenerMode::kTcp, 0, false, {}}};
  return c;
}

TEST(ConfigRemap, ByNameAndAddress) {
  const ConfigRemap m = BuildRemap(Old(), nullptr, New(), nullptr);
  EXPECT_EQ(m.listener, (std::vector<uint16_t>{1, kGone}));
  EXPECT_EQ(m.listener_pool, (std::vector<uint16_t>{1, 0}));
  EXPECT_EQ(m.pool, (std::vector<uint16_t>{1, kGone}));
  ASSERT_EQ(m.backend.size(), 2u);
  EXPECT_EQ(m.backend[0], (std::vector<uint16_t>{kGone, 2, 1}));
  EXPECT_EQ(m.backend[1], (std::vector<uint16_t>{kGone, kGone}));
}

TEST(ConfigRemap, ModeChangeCountsAsRemoved) {
  ConfigSnapshot next = Old();
  next.listeners[1].mode = ListenerMode::kTls;  // without certificates: not an engine listener
  const ConfigRemap m = BuildRemap(Old(), nullptr, next, nullptr);
  EXPECT_EQ(m.listener, (std::vector<uint16_t>{0, kGone}));
  EXPECT_EQ(EngineListeners(next, nullptr), (std::vector<uint16_t>{0}));
}

struct FateCase {
  const char* name;
  uint16_t listener, pool, backend;
  uint8_t attempts;
  bool backend_open, connecting, counted;
  uint64_t tried;
  // expected
  SessionFate fate;
  uint16_t new_listener, new_pool, new_backend;
  bool new_counted;
  uint64_t new_tried;
};

const FateCase kFates[] = {
    {"handshaking, listener stays: follows the listener's new pool", 0, 0, kNoBackend, 0, false, false, false, 0,
     SessionFate::kKeep, 1, 0, kNoBackend, false, 0},
    {"handshaking, listener gone: reset", 1, 1, kNoBackend, 0, false, false, false, 0, SessionFate::kReset, kGone, 0,
     kNoBackend, false, 0},
    {"connected, backend stays: renumbered, still counted", 0, 0, 2, 1, true, false, true, 0, SessionFate::kKeep, 1, 1,
     1, true, 0},
    {"connected, backend gone: runs on uncounted", 0, 0, 0, 1, true, false, true, 0, SessionFate::kKeep, 1, 1,
     kNoBackend, false, 0},
    {"connected, pool and listener gone: runs on uncounted", 1, 1, 1, 1, true, false, true, 0, SessionFate::kKeep,
     kGone, 0, kNoBackend, false, 0},
    {"connecting, backend gone: connects again in its pool, tried ones renumbered", 0, 0, 0, 2, true, true, true,
     0b011, SessionFate::kReconnect, 1, 1, kNoBackend, false, 0b100},
    {"connecting, pool gone, listener stays: connects again in the listener's pool", 0, 1, 0, 1, true, true, true, 0,
     SessionFate::kReconnect, 1, 0, kNoBackend, false, 0},
    {"connecting, pool and listener gone: reset", 1, 1, 0, 1, true, true, true, 0, SessionFate::kReset, kGone, 0,
     kNoBackend, false, 0},
    {"backend closed after its session (TIME-WAIT gone): nothing counted", 0, 0, 1, 1, false, false, false, 0,
     SessionFate::kKeep, 1, 1, 2, false, 0},
};

TEST(ConfigRemap, SessionFates) {
  const ConfigRemap m = BuildRemap(Old(), nullptr, New(), nullptr);
  for (const FateCase& c : kFates) {
    Session s;
    s.listener = c.listener;
    s.pool = c.pool;
    s.backend_index = c.backend;
    s.attempts = c.attempts;
    s.backend_open = c.backend_open;
    s.connect_deadline_us = c.connecting ? 12345 : tcp::kNoDeadline;
    s.counted_on_backend = c.counted;
    s.tried_backends = c.tried;
    const SessionRemap r = RemapSession(m, s);
    EXPECT_EQ(r.fate, c.fate) << c.name;
    EXPECT_EQ(r.listener, c.new_listener) << c.name;
    if (r.fate != SessionFate::kReset) {
      EXPECT_EQ(r.pool, c.new_pool) << c.name;
    }
    EXPECT_EQ(r.backend_index, c.new_backend) << c.name;
    EXPECT_EQ(r.counted_on_backend, c.new_counted) << c.name;
    EXPECT_EQ(r.tried_backends, c.new_tried) << c.name;
  }
}

// Indices past the old config (a listener retired by an earlier reload) stay retired.
TEST(ConfigRemap, RetiredListenerStaysRetired) {
  const ConfigRemap m = BuildRemap(Old(), nullptr, New(), nullptr);
  Session s;
  s.listener = 7;
  s.pool = 0;
  s.backend_index = 2;
  s.attempts = 1;
  s.backend_open = true;
  s.counted_on_backend = true;
  const SessionRemap r = RemapSession(m, s);
  EXPECT_EQ(r.fate, SessionFate::kKeep);
  EXPECT_EQ(r.listener, kGone);
  EXPECT_EQ(r.backend_index, 1u);
}

}  // namespace
}  // namespace baton::dp
