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

class HealthRunner;  // dataplane/health_runner.h
struct HealthBoard;
class WorkerLog;     // dataplane/worker_log.h

// A neighbour learned by one worker, for the others (16 bytes: one ring element).
struct NeighborNote {
  uint32_t ip;
  uint16_t port;
  std::array<uint8_t, 6> mac;
  uint32_t reserved;
};
static_assert(sizeof(NeighborNote) == 16);

// A worker's inboxes, written by the other workers (multi-producer, single consumer:
// the worker, or the one that took over from it).
struct WorkerInbox {
  rte_ring* notes = nullptr;     // NeighborNote elements
  rte_ring* packets = nullptr;   // rte_mbuf*: TCP frames for sessions this worker owns
  rte_ring* hand_offs = nullptr; // uint32_t session indices a rebalance moved to this worker
};

// How the main lcore steers one worker, and how that worker reports back. One per
// worker, shared by all of them (dataplane.cc owns the array).
struct WorkerControl {
  // `baton ctl worker halt`: the worker stops at its next pass boundary, as a stuck
  // core would (it stays stopped until the process exits).
  std::atomic<bool> halt{false};
  // `baton ctl rebalance`: the main lcore writes to/share_ppm, then bumps
  // `rebalance_request` (release). The worker runs it over a few passes and then stores
  // the moved count and the request number in `rebalance_done` (release).
  std::atomic<uint16_t> rebalance_to{0};
  std::atomic<uint32_t> rebalance_share_ppm{0};
  std::atomic<uint64_t> rebalance_request{0};
  std::atomic<uint64_t> rebalance_done{0};
  std::atomic<uint64_t> rebalance_moved{0};
  // Set by the worker that took this one's sessions and queues over (-1: none).
  std::atomic<int32_t> taken_over_by{-1};
};

enum class WorkerState : uint8_t { kRunning, kHalted, kFenced };

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
  // Per Latency: the worker's histograms. A reader may see a bucket one tick newer
  // than the sum; the count it derives from the buckets always matches them.
  struct Histogram {
    std::array<std::atomic<uint64_t>, kLatencyBuckets> buckets{};
    std::atomic<uint64_t> sum_us{0};
  };
  std::array<Histogram, Idx(Latency::kCount)> latency{};
  // The AdminSnapshot generation this worker has applied and no longer reads. Release
  // store after applying; dataplane.cc frees older snapshots (acquire load).
  std::atomic<uint64_t> admin_generation{0};
  std::atomic<WorkerState> state{WorkerState::kRunning};
};

class Worker final : private FrameSink {
 public:
  // `space`: the shared sessions (required when the config has listeners). `controls`:
  // every worker's WorkerControl, indexed by worker (may be empty: no halt, rebalance
  // or take-over).
  Worker(uint16_t index, uint16_t lcore, const ConfigSnapshot& config,
         std::span<const PortRuntime> ports, std::span<const WorkerInbox> inboxes,
         const tcp::IsnKey& isn_key, const TlsListeners* tls, SessionSpace* space,
         std::span<WorkerControl> controls = {},
         const std::atomic<const AdminSnapshot*>* admin = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The lcore's loop; returns when `stop` becomes true.
  void Run(const std::atomic<bool>& stop);

  // -- health checks and logs (dataplane/health_runner.h, dataplane/worker_log.h) --
  // Before Run(). `board` (shared by the workers; null: no health checks), `pools` (the
  // started config's, for names in logs) and `log` (this worker's; may be null) outlive
  // the worker. `back`: the back port.
  void AttachHealth(HealthBoard* board, std::span<const PoolConfig> pools, uint16_t back, WorkerLog* log,
                    const tcp::IsnKey& isn_key);
  // This worker's log ring: Log() never blocks or allocates. Null when none attached.
  WorkerLog* log() const noexcept { return log_; }
  // -- end health checks and logs --

  uint16_t index() const noexcept { return index_; }
  uint16_t lcore() const noexcept { return lcore_; }
  const PublishedStats& published() const noexcept { return published_; }

 private:
  static constexpr uint16_t kMaxBurst = 256;
  static constexpr uint16_t kInboxBurst = 64;     // steered frames per inbox per pass
  static constexpr uint16_t kHandOffBatch = 256;  // hand-offs posted or accepted per pass
  static constexpr uint32_t kScanPerPass = 16384; // records examined per pass (adoption, rebalance)
  static constexpr uint64_t kTickUs = 1000;  // timers and stats publication

  struct TxBuffer {
    std::array<rte_mbuf*, kMaxBurst> pkts{};
    uint16_t count = 0;
  };
  struct QueueCounters {
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0, tx_full = 0;
  };

  // A frame L3 passed as TCP, waiting for its route (Route() in bulk).
  struct TcpFrame {
    rte_mbuf* m;
    SegmentRef ref;
  };

  uint16_t PollPort(uint16_t port, uint16_t queue, uint64_t now_us);
  // L2/L3 for one frame; TCP frames are queued in tcp_ for RouteTcp().
  void HandleFrame(uint16_t port, rte_mbuf* m, uint64_t now_us);
  // Routes the queued TCP frames (bulk lookup) and runs or steers each.
  void RouteTcp(uint64_t now_us);
  void Steer(uint16_t owner, uint16_t port, rte_mbuf* m);
  void ShareNeighbor(uint16_t port, uint32_t ip, const MacAddr& mac);
  uint16_t DrainInbox(uint16_t inbox, uint64_t now_us);
  // Heartbeats: declares stalled workers and takes over from them; continues an
  // adoption in progress. Between bursts, on the timer tick.
  void WatchPeers(uint64_t now_us);
  void TakeOver(uint16_t dead, uint64_t now_us);
  // A rebalance the main lcore asked for: a chunk per pass.
  uint32_t RunRebalance(uint64_t now_us);
  // Halted or fenced: stop touching anything shared, until `stop`.
  void Park(WorkerState why, const std::atomic<bool>& stop);
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
  SessionSpace* space_ = nullptr;
  std::span<WorkerControl> controls_;
  // RX queues (one per port each) and inboxes this worker serves: its own, then those
  // of workers it took over from.
  std::vector<uint16_t> queues_;
  std::vector<TcpFrame> tcp_;  // this burst's TCP frames, routed together
  std::vector<FlowRoute> routes_;
  uint64_t stall_timeout_us_ = 0;
  std::unique_ptr<state::StallWatch> watch_;
  struct Adoption {
    uint16_t dead;
    state::ScanCursor cursor;
    uint64_t adopted;  // by the scan (claims at a first packet are counted apart)
  };
  std::vector<Adoption> adopting_;  // take-overs whose record scan is not finished
  uint64_t rebalance_seen_ = 0;     // the last rebalance request started
  bool rebalancing_ = false;
  state::ScanCursor rebalance_cursor_;
  uint64_t rebalance_moved_ = 0;
  std::vector<uint32_t> handoff_batch_;
  const std::atomic<const AdminSnapshot*>* admin_;  // dataplane.cc's publish point; may be null
  uint64_t admin_generation_ = 0;                    // the last snapshot applied
  std::unique_ptr<HealthRunner> health_;  // AttachHealth(); probes run on worker 0
  WorkerLog* log_ = nullptr;
  const LiveConfig* live_ = nullptr;                 // the config the proxy runs (live reload)
  std::array<TxBuffer, kMaxPorts> tx_{};
  std::array<QueueCounters, kMaxPorts> queue_counters_{};
  uint64_t passes_ = 0, busy_passes_ = 0, sleeps_ = 0, rx_packets_ = 0, tx_packets_ = 0;
  PublishedStats published_;
};

}  // namespace baton::dp
