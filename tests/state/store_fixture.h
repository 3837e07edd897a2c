// Helpers shared by the state tests: a record that proves its own integrity, keys, a
// store per test, and a bounded wait.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/state/session_store.h"

namespace baton::dp::state::test {

// A record carries its key, a sequence number and a checksum over both, so a reader
// can tell a wrong (reused) or torn record from the one its key maps to.
struct TestRecord {
  FlowKey key;
  uint32_t seq = 0;
  uint64_t fill[6] = {};
  uint64_t checksum = 0;
};

inline uint64_t Mix(uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

inline uint64_t Checksum(const TestRecord& r) noexcept {
  uint64_t h = Mix(uint64_t(r.key.remote_ip) << 32 | r.key.local_ip);
  h = Mix(h ^ (uint64_t(r.key.remote_port) << 16 | r.key.local_port));
  h = Mix(h ^ r.seq);
  for (uint64_t f : r.fill) h = Mix(h ^ f);
  return h;
}

inline TestRecord MakeRecord(const FlowKey& key, uint32_t seq) noexcept {
  TestRecord r;
  r.key = key;
  r.seq = seq;
  for (int i = 0; i < 6; ++i) r.fill[i] = Mix(seq * 7919ull + uint64_t(i));
  r.checksum = Checksum(r);
  return r;
}

inline bool Intact(const TestRecord& r, const FlowKey& key) noexcept {
  return r.key == key && r.checksum == Checksum(r);
}

// Client flow number n: distinct for every n < 2^32.
inline FlowKey ClientKey(uint32_t n) noexcept {
  return FlowKey{0x0a000000u + (n >> 16), 0xc0a80001u, uint16_t(n), 443};
}
inline FlowKey BackendKey(uint32_t n) noexcept {
  return FlowKey{0x0a010002u, 0x0a010001u + (n >> 16), 8080, uint16_t(n)};
}

inline std::unique_ptr<SessionStore> MakeStore(const std::string& name, uint32_t capacity,
                                               uint32_t record_bytes = sizeof(TestRecord)) {
  std::string error;
  auto s = SessionStore::Create({name, capacity, record_bytes, -1, 0}, error);
  EXPECT_NE(s, nullptr) << error;
  return s;
}

using Clock = std::chrono::steady_clock;
inline bool Expired(Clock::time_point start, std::chrono::milliseconds limit) {
  return Clock::now() - start > limit;
}

}  // namespace baton::dp::state::test
