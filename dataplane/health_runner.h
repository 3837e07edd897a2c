// Health checks on the workers: worker 0 runs the lb::HealthChecker and publishes each
// backend's health on a HealthBoard; every worker applies it to its own pools
// (lb::Pool::SetAvailable) at the start of a loop pass and hands its passive markings
// (lb::Pool::TakePassiveDown) to worker 0 through the board. Sans-IO like the engine:
// segments in with the time, frames out through the L3 stack.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/lb/health.h"
#include "dataplane/lb/pool.h"
#include "dataplane/net/l3_stack.h"
#include "dataplane/worker_log.h"

namespace baton::dp {

// Shared by the workers and the main lcore; made by dataplane.cc before the workers
// start, freed after they stop. Backends are indexed flat: pools in config order, each
// pool's backends in order.
struct HealthBoard {
  HealthBoard(const std::vector<PoolConfig>& pools, lb::ProbePorts probe_ports);

  const lb::ProbePorts ports;
  std::vector<uint32_t> pool_first;  // flat index of each pool's first backend
  // Health: written by worker 0 only, then `generation` is bumped (release); a worker
  // that sees a new generation (acquire) reads every `up` (relaxed).
  std::vector<std::atomic<uint8_t>> up;
  std::atomic<uint64_t> generation{0};
  // Per pool, backends some worker marked down passively: any worker ORs its bits in,
  // worker 0 takes them (exchange). Release/acquire: nothing else rides on it.
  std::vector<std::atomic<uint64_t>> passive_down;
  // For the main lcore's stats (relaxed; each written by worker 0 only).
  struct Published {
    std::atomic<uint8_t> checked{0};
    std::atomic<uint8_t> down_reason{0};  // HealthResult
    std::atomic<uint16_t> last_http_status{0};
    std::atomic<uint64_t> transitions{0};
    std::array<std::atomic<uint64_t>, Idx(HealthResult::kCount)> checks{};
  };
  std::vector<Published> backends;
  // Worker 0's clock at its last Advance (relaxed): the other workers steer probe
  // segments to it only while it runs (a halted worker 0 would never drain them).
  std::atomic<uint64_t> checker_beat_us{0};
};

class HealthRunner final : private lb::HealthEvents {
 public:
  // `pools` must outlive the runner and the log records it makes (pool names are
  // logged by pointer): dataplane.cc's copy of the started config. `back`: the back
  // port. Worker 0 gets the checker; the others only follow the board.
  HealthRunner(HealthBoard& board, uint16_t worker, std::span<const PoolConfig> pools, const L3Stack& l3,
               uint16_t back, const tcp::IsnKey& isn_key, WorkerLog* log, uint64_t now_us);
  ~HealthRunner();
  HealthRunner(const HealthRunner&) = delete;
  HealthRunner& operator=(const HealthRunner&) = delete;

  // Every worker, start of a pass: passive markings out, health changes in.
  void Sync(std::vector<lb::Pool>& pools, uint64_t now_us) noexcept;
  // Is this TCP segment (received on `port`) a probe's? Then it belongs to worker 0.
  // Not while worker 0 has stopped probing (no Advance for kCheckerStaleUs): then the
  // proxy answers it like any segment for no session.
  bool Owns(uint16_t port, const TcpView& view, ByteView segment, uint64_t now_us) const noexcept {
    if (port != back_ || view.dst_ip != local_ip_ || segment.size() < 4 ||
        !board_.ports.Contains(uint16_t(segment[2] << 8 | segment[3])))
      return false;
    return checker_ || now_us - board_.checker_beat_us.load(std::memory_order_relaxed) < kCheckerStaleUs;
  }
  // Worker 0 only (others steer probe segments to it).
  void Input(const TcpView& view, ByteView segment, uint64_t now_us, L3Stack& l3, FrameSink& sink) noexcept;
  // Worker 0: probes and their timers; every few milliseconds is enough.
  void Advance(uint64_t now_us, L3Stack& l3, FrameSink& sink) noexcept;

 private:
  static constexpr uint64_t kCheckerStaleUs = 100'000;

  void OnHealthChange(const lb::HealthChange& change) noexcept override;
  void PublishStats() noexcept;

  HealthBoard& board_;
  const uint16_t worker_;
  std::span<const PoolConfig> pools_;
  const uint16_t back_;
  const uint32_t local_ip_;
  WorkerLog* log_;
  std::unique_ptr<lb::HealthChecker> checker_;  // worker 0 only
  uint64_t generation_ = 0;                     // the board generation applied
  uint64_t now_us_ = 0;                         // for log records made in callbacks
  uint64_t next_us_ = 0;                        // the checker's NextDeadline() after its last call
  bool attached_ = false;                       // passive marking set on the pools
};

}  // namespace baton::dp
