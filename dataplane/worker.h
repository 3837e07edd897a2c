// One worker lcore: polls its RX queue on every port, runs L2/L3 (and later TCP/TLS)
// to completion, flushes TX, runs timers, and backs off when idle.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/api/stats.h"
#include "dataplane/live_config.h"
#include "dataplane/net/counters.h"
#include "dataplane/net/l3_stack.h"
#include "dataplane/proxy/engine.h"
#include "dataplane/port.h"

struct rte_mbuf;
struct rte_ring;

namespace baton::dp {

// A neighbour learned by one worker, for the others (16 bytes: one ring element).
struct NeighborNote {
  uint32_t ip;
  uint16_t port;
  std::array<uint8_t, 6> mac;
  uint32_t reserved;
};
static_assert(sizeof(NeighborNote) == 16);

// A worker's inboxes, written by the other workers (multi-producer, single consumer).
struct WorkerInbox {
  rte_ring* notes = nullptr;    // NeighborNote elements
  rte_ring* packets = nullptr;  // rte_mbuf*: TCP frames for sessions this worker owns
};

// Run-time state of one backend, as the operator set it (ChangeBackend in control.h).
struct BackendAdminState {
  BackendAdmin admin = BackendAdmin::kEnabled;
  uint16_t weight = 1;
};

// The admin state of every backend of every pool (config order). Immutable once
// published: dataplane.cc builds a new one per change and swaps one atomic pointer;
// a worker that sees a new generation applies it to its pools at the start of a pass.
struct AdminSnapshot {
  uint64_t generation = 0;
  std::vector<std::vector<BackendAdminState>> pools;
  const LiveConfig* live = nullptr;  // the config `pools` is for; a new one: reconfigure first
};

// Counters published by a worker for the main lcore: relaxed atomics, written by the
// worker only, copied from its private counters once per timer tick and at exit.
struct PublishedStats {
  std::atomic<uint64_t> passes{0}, busy_passes{0}, sleeps{0}, rx_packets{0}, tx_packets{0};
  std::array<std::atomic<uint64_t>, Idx(Counter::kCount)> counters{};
  std::array<std::atomic<uint64_t>, Idx(DropReason::kCount)> drops{};
  struct Queue {
    std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, tx_packets{0}, tx_bytes{0}, tx_full{0};
  };
  std::array<Queue, kMaxPorts> queues{};
  std::atomic<uint64_t> sessions_active{0};
  // Per backend, pools in config order, backends in pool order (at most kMaxBackendStats).
  static constexpr size_t kMaxBackendStats = 512;
  struct Backend {
    std::atomic<uint64_t> started{0}, active{0}, failures{0};
  };
  std::array<Backend, kMaxBackendStats> backends{};
  std::array<std::atomic<uint64_t>, tcp::TcpIdx(tcp::TcpDrop::kCount)> tcp_drops{};
  // The AdminSnapshot generation this worker has applied and no longer reads. Release
  // store after applying; dataplane.cc frees older snapshots (acquire load).
  std::atomic<uint64_t> admin_generation{0};
};

class Worker final : private FrameSink {
 public:
  Worker(uint16_t index, uint16_t lcore, const ConfigSnapshot& config,
         std::span<const PortRuntime> ports, std::span<const WorkerInbox> inboxes,
         const tcp::IsnKey& isn_key, const TlsListeners* tls,
         const std::atomic<const AdminSnapshot*>* admin = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The lcore's loop; returns when `stop` becomes true.
  void Run(const std::atomic<bool>& stop);

  uint16_t index() const noexcept { return index_; }
  uint16_t lcore() const noexcept { return lcore_; }
  const PublishedStats& published() const noexcept { return published_; }

 private:
  static constexpr uint16_t kMaxBurst = 256;
  static constexpr uint64_t kTickUs = 1000;  // timers and stats publication

  struct TxBuffer {
    std::array<rte_mbuf*, kMaxBurst> pkts{};
    uint16_t count = 0;
  };
  struct QueueCounters {
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0, tx_full = 0;
  };

  uint16_t PollPort(uint16_t port, uint64_t now_us);
  void HandleFrame(uint16_t port, rte_mbuf* m, uint64_t now_us);
  void Steer(uint16_t owner, uint16_t port, rte_mbuf* m);
  void ShareNeighbor(uint16_t port, uint32_t ip, const MacAddr& mac);
  uint16_t DrainInbox(uint64_t now_us);
  // Applies a newly published AdminSnapshot to the pools; once per pass, one load.
  void ApplyAdmin(uint64_t now_us);
  void Enqueue(uint16_t port, rte_mbuf* m);
  void Flush(uint16_t port);
  void FlushAll();
  void Publish();

  // FrameSink
  Buffer Alloc(uint16_t port, uint16_t len, const TxMeta& tx) override;
  void Send(uint16_t port, PacketHandle frame) override;
  void Discard(PacketHandle frame) override;
  void ReleasePending(uint16_t port, PacketHandle frame, const MacAddr& dst) override;
  void DropPending(uint16_t port, PacketHandle frame) override;

  uint16_t index_;
  uint16_t lcore_;
  DataplaneConfig config_;
  std::vector<PortRuntime> ports_;
  std::vector<WorkerInbox> inboxes_;  // every worker's, indexed by worker
  DpCounters counters_;
  L3Stack l3_;
  std::unique_ptr<ProxyEngine> proxy_;  // null when the config has no listeners
  const std::atomic<const AdminSnapshot*>* admin_;  // dataplane.cc's publish point; may be null
  uint64_t admin_generation_ = 0;                    // the last snapshot applied
  const LiveConfig* live_ = nullptr;                 // the config the proxy runs (live reload)
  std::array<TxBuffer, kMaxPorts> tx_{};
  std::array<QueueCounters, kMaxPorts> queue_counters_{};
  uint64_t passes_ = 0, busy_passes_ = 0, sleeps_ = 0, rx_packets_ = 0, tx_packets_ = 0;
  PublishedStats published_;
};

}  // namespace baton::dp
