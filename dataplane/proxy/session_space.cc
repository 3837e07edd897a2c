#include "dataplane/proxy/session_space.h"

#include <sys/mman.h>

namespace baton::dp {
namespace {

uint8_t* MapLazily(size_t bytes) noexcept {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
}

}  // namespace

std::unique_ptr<SessionSpace> SessionSpace::Create(const SessionSpaceConfig& cfg, std::string& error) {
  std::unique_ptr<SessionSpace> s(new SessionSpace());
  s->store_ = state::SessionStore::Create(
      state::StoreConfig{cfg.name, cfg.capacity, uint32_t(sizeof(Session)), cfg.socket_id, 0}, error);
  if (!s->store_) return nullptr;
  s->beats_ = std::make_unique<state::Heartbeats>();
  s->buffer_bytes_ = cfg.buffer_bytes;
  s->buffers_bytes_ = size_t(cfg.capacity) * 4 * cfg.buffer_bytes;
  s->buffers_ = MapLazily(s->buffers_bytes_);
  if (s->buffers_ == nullptr) {
    error = "cannot map " + std::to_string(s->buffers_bytes_ >> 20) + " MiB of session buffers";
    return nullptr;
  }
  if (cfg.tls_slot_bytes != 0) {
    s->tls_slot_bytes_ = cfg.tls_slot_bytes;
    s->tls_bytes_ = size_t(cfg.capacity) * cfg.tls_slot_bytes;
    s->tls_ = MapLazily(s->tls_bytes_);
    if (s->tls_ == nullptr) {
      error = "cannot map " + std::to_string(s->tls_bytes_ >> 20) + " MiB of TLS session slots";
      return nullptr;
    }
  }
  return s;
}

SessionSpace::~SessionSpace() {
  if (buffers_ != nullptr) munmap(buffers_, buffers_bytes_);
  if (tls_ != nullptr) munmap(tls_, tls_bytes_);
}

}  // namespace baton::dp
