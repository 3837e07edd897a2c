// Everything another worker core needs to continue a session, addressed by the
// session's record index: the shared table of records (state::SessionStore holding
// Session records, found from either side's flow), each record's four byte rings, its
// TLS slot, and the cores' heartbeats. One per process, created before the workers and
// destroyed after them (ARCHITECTURE.md 4).
//
// Memory: the records and the rte_hash tables are EAL memory (hugepages when the EAL
// has them, anonymous under --no-huge). The byte rings and the TLS slots are large
// (capacity x 4 x buffer_bytes, capacity x sizeof(TlsAcceptor)) and mostly untouched,
// so they are virtual memory the kernel backs on first touch, not hugepages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "dataplane/proxy/session.h"
#include "dataplane/state/heartbeat.h"
#include "dataplane/state/session_store.h"

namespace baton::dp {

struct SessionSpaceConfig {
  std::string name = "sessions";  // DPDK object names; unique per process
  uint32_t capacity = 0;          // sessions, all workers together
  uint32_t buffer_bytes = 0;      // per ring (four per session)
  size_t tls_slot_bytes = 0;      // 0: no TLS listeners, no TLS slots
  int socket_id = -1;
};

class SessionSpace {
 public:
  // The four byte rings of a session.
  struct Buffers {
    std::span<uint8_t> client_snd, client_rcv, backend_snd, backend_rcv;
  };

  // Needs an initialised EAL. nullptr and `error` on failure.
  static std::unique_ptr<SessionSpace> Create(const SessionSpaceConfig& cfg, std::string& error);
  ~SessionSpace();
  SessionSpace(const SessionSpace&) = delete;
  SessionSpace& operator=(const SessionSpace&) = delete;

  state::SessionStore& store() noexcept { return *store_; }
  const state::SessionStore& store() const noexcept { return *store_; }
  state::Heartbeats& beats() noexcept { return *beats_; }
  const state::Heartbeats& beats() const noexcept { return *beats_; }

  Session& At(uint32_t idx) noexcept { return store_->As<Session>(idx); }
  Buffers BuffersOf(uint32_t idx) const noexcept {
    const size_t b = buffer_bytes_;
    uint8_t* base = buffers_ + size_t(idx) * 4 * b;
    return {{base, b}, {base + b, b}, {base + 2 * b, b}, {base + 3 * b, b}};
  }
  // Raw storage for the session's TLS server object; nullptr without TLS slots.
  uint8_t* TlsSlot(uint32_t idx) const noexcept {
    return tls_ == nullptr ? nullptr : tls_ + size_t(idx) * tls_slot_bytes_;
  }
  uint32_t capacity() const noexcept { return store_->capacity(); }

 private:
  SessionSpace() = default;

  std::unique_ptr<state::SessionStore> store_;
  std::unique_ptr<state::Heartbeats> beats_;
  uint8_t* buffers_ = nullptr;
  size_t buffers_bytes_ = 0;
  size_t buffer_bytes_ = 0;
  uint8_t* tls_ = nullptr;
  size_t tls_bytes_ = 0;
  size_t tls_slot_bytes_ = 0;
};

}  // namespace baton::dp
