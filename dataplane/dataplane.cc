// dataplane/api/control.h: EAL, ports, workers; start, stats and stop.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crypto/tls/acceptor.h"
#include "dataplane/api/control.h"
#include "dataplane/health_runner.h"
#include "dataplane/lb/health.h"
#include "dataplane/live_config.h"
#include "dataplane/port.h"
#include "dataplane/proxy/session_space.h"
#include "dataplane/worker.h"
#include "dataplane/worker_log.h"

namespace baton::dp {
namespace {

// Generations of the running config kept for live sessions (docs/CONFIG.md "Live
// reload"): each holds certificates and keys that TLS sessions may still point into, so
// none is freed before exit, and reloads stop at this many.
constexpr size_t kMaxGenerations = 1024;

struct Generation {
  std::shared_ptr<const ConfigSnapshot> config;  // shared by the generations reload-certs or a rotation made
  std::unique_ptr<TlsListeners> tls;
  std::unique_ptr<LiveConfig> live;
};

struct Dataplane {
  bool eal_ready = false;
  std::atomic<bool> stop{false};
  std::vector<PortRuntime> ports;
  std::vector<PoolConfig> pools;  // names for the per-backend stats
  std::vector<WorkerInbox> inboxes;
  // The sessions every worker can continue (null without listeners), and the workers'
  // halt / rebalance / take-over controls. Both outlive the workers.
  std::unique_ptr<SessionSpace> space;
  std::unique_ptr<WorkerControl[]> controls;
  uint16_t worker_count = 0;
  std::vector<std::unique_ptr<Worker>> workers;
  // Every config generation since start, the running one last (main lcore only; the
  // workers see them through `admin`).
  std::vector<Generation> generations;
  bool launched = false;
  // Backend admin state: the workers' one publish point, and the snapshots that may
  // still be read (the current one last). Main lcore only, except `admin` (atomic).
  std::atomic<const AdminSnapshot*> admin{nullptr};
  std::vector<std::unique_ptr<AdminSnapshot>> admin_snapshots;
  // Health checks (null without [pool.health]) and the workers' log rings. The logs
  // outlive Stop() so the last records can still be drained; Start() replaces them.
  std::unique_ptr<HealthBoard> health;
  std::vector<std::unique_ptr<WorkerLog>> logs;
  // The started config with the probe ports taken out of its SNAT range
  // (lb::ReserveProbePorts): what every part of the data plane sees.
  ConfigSnapshot config;
  lb::ProbePorts probe_ports;
  int64_t wall_minus_tsc_us = 0;  // Unix time minus the workers' clock (NowUs)
};

Dataplane& Dp() {
  static Dataplane dp;
  return dp;
}

bool HasArg(const std::vector<std::string>& args, std::initializer_list<const char*> names) {
  for (const std::string& a : args)
    for (const char* n : names)
      if (a == n || a.rfind(std::string(n) + "=", 0) == 0) return true;
  return false;
}

// EAL arguments pass through as given; two defaults make a bare `baton run` work:
// every lcore may float on every CPU (so N workers run on a 2-CPU VM), and the
// process keeps no shared hugepage files (several batons can run side by side).
std::vector<std::string> EalArgs(const ConfigSnapshot& config, const StartOptions& options) {
  std::vector<std::string> args{"baton"};
  args.insert(args.end(), options.eal_args.begin(), options.eal_args.end());
  if (!HasArg(options.eal_args, {"-l", "-c", "--lcores"})) {
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    args.push_back("--lcores=(0-" + std::to_string(config.dataplane.workers) + ")@(0-" +
                   std::to_string(cpus - 1) + ")");
  }
  if (!HasArg(options.eal_args, {"--file-prefix", "--in-memory"})) args.push_back("--in-memory");
  return args;
}

// The workers' clock (worker.cc NowUs): microseconds of the TSC.
uint64_t TscNowUs() noexcept {
  const uint64_t hz = rte_get_timer_hz();
  const uint64_t c = rte_get_timer_cycles();
  return c / hz * 1'000'000 + c % hz * 1'000'000 / hz;
}

int WorkerMain(void* arg) {
  static_cast<Worker*>(arg)->Run(Dp().stop);
  return 0;
}

// Publishes `next` (generation one past the current) and frees the snapshots every
// worker has moved past. Main lcore only.
void PublishAdmin(std::unique_ptr<AdminSnapshot> next) {
  Dataplane& dp = Dp();
  const AdminSnapshot* raw = next.get();
  dp.admin_snapshots.push_back(std::move(next));
  // Pairs with the acquire load in Worker::ApplyAdmin(): the contents come first.
  dp.admin.store(raw, std::memory_order_release);
  uint64_t oldest_in_use = raw->generation;
  for (const auto& w : dp.workers)
    oldest_in_use = std::min(oldest_in_use, w->published().admin_generation.load(std::memory_order_acquire));
  // A worker that applied generation G may still hold a pointer to G while it checks
  // for a newer one, so G is freed only when every worker is past it.
  std::erase_if(dp.admin_snapshots, [&](const std::unique_ptr<AdminSnapshot>& a) {
    return a.get() != raw && a->generation < oldest_in_use;
  });
}

// The shared session table holds every worker's sessions.
uint32_t SessionCapacity(const ConfigSnapshot& config) {
  return config.tcp.max_sessions * uint32_t(config.dataplane.workers);
}

const char* StateName(WorkerState s) {
  switch (s) {
    case WorkerState::kRunning: return "running";
    case WorkerState::kHalted: return "halted";
    case WorkerState::kFenced: return "fenced";
  }
  return "?";
}

// The admin snapshot for a new generation: the backends of `next`, each with the admin
// state its namesake (same pool name, same address:port) has now, and the weight the new
// config gives it.
std::unique_ptr<AdminSnapshot> AdminFor(const ConfigSnapshot& next, const ConfigSnapshot& cur,
                                        const AdminSnapshot& cur_admin) {
  auto a = std::make_unique<AdminSnapshot>();
  a->generation = cur_admin.generation + 1;
  for (const PoolConfig& pool : next.pools) {
    std::vector<BackendAdminState>& states = a->pools.emplace_back();
    for (const BackendConfig& b : pool.backends) {
      BackendAdminState st{BackendAdmin::kEnabled, b.weight};
      for (size_t p = 0; p < cur.pools.size() && p < cur_admin.pools.size(); ++p) {
        if (cur.pools[p].name != pool.name) continue;
        for (size_t i = 0; i < cur.pools[p].backends.size() && i < cur_admin.pools[p].size(); ++i)
          if (cur.pools[p].backends[i].address == b.address && cur.pools[p].backends[i].port == b.port)
            st.admin = cur_admin.pools[p][i].admin;
      }
      states.push_back(st);
    }
  }
  return a;
}

// Makes `config` + `tls` the running generation: one AdminSnapshot publication, which
// every worker applies at the start of its next pass. Main lcore only.
void PublishGeneration(std::shared_ptr<const ConfigSnapshot> config, std::unique_ptr<TlsListeners> tls) {
  Dataplane& dp = Dp();
  const Generation& cur = dp.generations.back();
  Generation next;
  next.live = std::make_unique<LiveConfig>(LiveConfig{cur.live->generation + 1, config.get(), tls.get()});
  next.config = std::move(config);
  next.tls = std::move(tls);
  std::unique_ptr<AdminSnapshot> admin = AdminFor(*next.config, *cur.config, *dp.admin_snapshots.back());
  admin->live = next.live.get();
  dp.pools = next.config->pools;
  dp.generations.push_back(std::move(next));
  PublishAdmin(std::move(admin));
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string all;
  for (const std::string& e : lines) all += (all.empty() ? "" : "\n") + e;
  return all;
}

// Same pools in the same order, each with the same backends (address and port, in order)
// and the same health checks.
bool SameHealthTargets(const ConfigSnapshot& a, const ConfigSnapshot& b) {
  if (a.pools.size() != b.pools.size()) return false;
  for (size_t p = 0; p < a.pools.size(); ++p) {
    const PoolConfig &x = a.pools[p], &y = b.pools[p];
    if (x.name != y.name || x.backends.size() != y.backends.size()) return false;
    const HealthConfig &hx = x.health, &hy = y.health;
    if (hx.enabled != hy.enabled || hx.interval_ms != hy.interval_ms || hx.timeout_ms != hy.timeout_ms ||
        hx.rise != hy.rise || hx.fall != hy.fall || hx.http_path != hy.http_path)
      return false;
    for (size_t i = 0; i < x.backends.size(); ++i)
      if (!(x.backends[i].address == y.backends[i].address) || x.backends[i].port != y.backends[i].port) return false;
  }
  return true;
}

// Why a new generation cannot be made now, or "".
std::string CannotPublish() {
  const Dataplane& dp = Dp();
  if (dp.generations.empty() || dp.admin_snapshots.empty()) return "the data plane is not running";
  if (dp.generations.size() >= kMaxGenerations)
    return "refused: " + std::to_string(kMaxGenerations) +
           " config generations are kept for the sessions that may use them; restart baton to reload again";
  return "";
}

}  // namespace

std::vector<SessionInfo> ListSessions(const SessionFilter& f, uint64_t& matched) {
  Dataplane& dp = Dp();
  matched = 0;
  std::vector<SessionInfo> out;
  if (!dp.space) return out;
  const state::SessionStore& store = dp.space->store();
  auto addr = [](uint32_t ip, uint16_t port) { return IpAddr::V4(ip).ToString() + ":" + std::to_string(port); };
  // TCP states are bytes the owner writes: read them as relaxed atomics (a snapshot).
  auto state_of = [](const tcp::TcpConnection& c) {
    const tcp::TcpState st = std::atomic_ref<const tcp::TcpState>(c.state).load(std::memory_order_relaxed);
    return std::string(tcp::kTcpStateText[tcp::TcpIdx(st)]);
  };
  for (uint32_t i = 0; i < store.capacity(); ++i) {
    const state::Owner o = state::Unpack(store.OwnerOf(i));
    if (o.state == state::OwnerState::kFree) continue;
    const FlowKey* c = store.KeyOf(i, state::Side::kClient);
    if (c == nullptr) continue;  // being set up or torn down
    const FlowKey* b = store.KeyOf(i, state::Side::kBackend);
    if (f.worker && o.core != *f.worker) continue;
    if (f.client && f.client->V4HostOrder() != c->remote_ip) continue;
    if (f.vip && (f.vip->first.V4HostOrder() != c->local_ip || f.vip->second != c->local_port)) continue;
    if (f.backend && (b == nullptr || f.backend->first.V4HostOrder() != b->remote_ip || f.backend->second != b->remote_port))
      continue;
    if (++matched > f.limit) continue;
    const Session& s = dp.space->At(i);
    SessionInfo info;
    info.index = i;
    info.worker = o.core;
    info.owner_state = o.state == state::OwnerState::kOwned ? "owned" : "handing_off";
    info.client = addr(c->remote_ip, c->remote_port);
    info.vip = addr(c->local_ip, c->local_port);
    if (b != nullptr) {
      info.backend = addr(b->remote_ip, b->remote_port);
      info.snat_port = b->local_port;
    }
    info.client_tcp = state_of(s.client);
    info.backend_tcp = b != nullptr ? state_of(s.backend) : "";
    info.tls = std::atomic_ref<const bool>(s.tls).load(std::memory_order_relaxed);
    out.push_back(std::move(info));
  }
  return out;
}

std::string HaltWorker(uint16_t worker) {
  Dataplane& dp = Dp();
  if (!dp.launched) return "the data plane is not running";
  if (worker >= dp.worker_count) return "no worker " + std::to_string(worker) + " (there are " +
                                        std::to_string(dp.worker_count) + ")";
  uint16_t running = 0;
  for (const auto& w : dp.workers)
    if (w->published().state.load(std::memory_order_acquire) == WorkerState::kRunning &&
        !dp.controls[w->index()].halt.load(std::memory_order_relaxed))
      ++running;
  if (dp.controls[worker].halt.load(std::memory_order_relaxed) ||
      dp.workers[worker]->published().state.load(std::memory_order_acquire) != WorkerState::kRunning)
    return "worker " + std::to_string(worker) + " is not running";
  if (running <= 1) return "worker " + std::to_string(worker) + " is the last running worker";
  dp.controls[worker].halt.store(true, std::memory_order_release);
  return "";
}

std::string Rebalance(uint16_t from, uint16_t to, double share, uint32_t timeout_ms, uint64_t& moved) {
  Dataplane& dp = Dp();
  moved = 0;
  if (!dp.launched) return "the data plane is not running";
  if (!dp.space) return "no listeners, so no sessions to move";
  if (from >= dp.worker_count || to >= dp.worker_count)
    return "workers are 0.." + std::to_string(dp.worker_count - 1);
  if (from == to) return "from and to are the same worker";
  if (!(share > 0 && share <= 1)) return "share must be in (0, 1]";
  for (const uint16_t w : {from, to})
    if (dp.controls[w].halt.load(std::memory_order_relaxed) ||
        dp.workers[w]->published().state.load(std::memory_order_acquire) != WorkerState::kRunning)
      return "worker " + std::to_string(w) + " is not running";
  WorkerControl& c = dp.controls[from];
  if (c.rebalance_done.load(std::memory_order_acquire) != c.rebalance_request.load(std::memory_order_relaxed))
    return "worker " + std::to_string(from) + " is still running the previous rebalance";
  c.rebalance_to.store(to, std::memory_order_relaxed);
  c.rebalance_share_ppm.store(uint32_t(share * 1e6), std::memory_order_relaxed);
  const uint64_t request = c.rebalance_request.load(std::memory_order_relaxed) + 1;
  c.rebalance_request.store(request, std::memory_order_release);  // pairs with Worker::RunRebalance
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (c.rebalance_done.load(std::memory_order_acquire) != request) {
    if (std::chrono::steady_clock::now() >= deadline)
      return "worker " + std::to_string(from) + " did not finish within " + std::to_string(timeout_ms) + " ms";
    usleep(1000);
  }
  moved = c.rebalance_moved.load(std::memory_order_relaxed);
  return "";
}

std::string Reconfigure(const ConfigSnapshot& next) {
  if (std::string err = CannotPublish(); !err.empty()) return err;
  const Generation& cur = Dp().generations.back();
  // What the workers cannot change live (controlplane/reload.cc says it first, in detail).
  const ConfigSnapshot& run = *cur.config;
  if (next.dataplane.workers != run.dataplane.workers || next.ports.size() != run.ports.size() ||
      next.tcp.max_sessions != run.tcp.max_sessions || next.tcp.buffer_bytes != run.tcp.buffer_bytes ||
      run.listeners.empty() != next.listeners.empty())
    return "refused: workers, ports, tcp.max_sessions, tcp.buffer_kib and having listeners at all cannot change live";
  // The health checker (worker 0) probes the pools and backends of the started config by
  // position: while it runs, a reload must leave pools, backends and their checks as
  // they are, or health would be applied to the wrong backends.
  if (Dp().health && !SameHealthTargets(next, *Dp().generations.front().config))
    return "refused: pools, their backends and [pool.health] cannot change live while health checks run "
           "(restart baton to apply it)";
  std::vector<std::string> errors;
  auto tls = std::make_unique<TlsListeners>(TlsListeners::Reload(next, run, *cur.tls, errors));
  if (!errors.empty()) return JoinLines(errors);
  PublishGeneration(std::make_shared<const ConfigSnapshot>(next), std::move(tls));
  return "";
}

std::string ReloadCertificates() {
  if (std::string err = CannotPublish(); !err.empty()) return err;
  const Generation& cur = Dp().generations.back();
  if (cur.tls->empty()) return "the running config has no TLS listener";
  std::vector<std::string> errors;
  auto tls = std::make_unique<TlsListeners>(TlsListeners::Reload(*cur.config, *cur.config, *cur.tls, errors));
  if (!errors.empty()) return JoinLines(errors);
  PublishGeneration(cur.config, std::move(tls));
  return "";
}

std::string RotateTicketKeys() {
  if (std::string err = CannotPublish(); !err.empty()) return err;
  const Generation& cur = Dp().generations.back();
  if (cur.tls->empty()) return "the running config has no TLS listener";
  std::vector<std::string> errors;
  auto tls = std::make_unique<TlsListeners>(TlsListeners::RotateTicketKeys(*cur.config, *cur.tls, errors));
  if (!errors.empty()) return JoinLines(errors);
  PublishGeneration(cur.config, std::move(tls));
  return "";
}

std::string ChangeBackend(const BackendChange& change) {
  Dataplane& dp = Dp();
  if (dp.admin_snapshots.empty()) return "the data plane is not running";
  const AdminSnapshot& cur = *dp.admin_snapshots.back();
  if (change.pool >= cur.pools.size()) return "no pool #" + std::to_string(change.pool);
  if (change.backend >= cur.pools[change.pool].size())
    return "pool #" + std::to_string(change.pool) + " has no backend #" + std::to_string(change.backend);
  if (change.weight && *change.weight > kMaxBackendWeight)
    return "weight must be 0.." + std::to_string(kMaxBackendWeight);
  auto next = std::make_unique<AdminSnapshot>(cur);
  next->generation = cur.generation + 1;
  BackendAdminState& b = next->pools[change.pool][change.backend];
  if (change.admin) b.admin = *change.admin;
  if (change.weight) b.weight = *change.weight;
  PublishAdmin(std::move(next));
  return "";
}

std::vector<std::string> CheckTls(const ConfigSnapshot& config) {
  std::vector<std::string> errors;
  (void)TlsListeners::Load(config, errors);
  return errors;
}

std::string Start(const ConfigSnapshot& started, const StartOptions& options) {
  Dataplane& dp = Dp();
  if (dp.eal_ready) return "data plane already started";
  dp.config = started;
  dp.probe_ports = lb::ReserveProbePorts(dp.config);
  const ConfigSnapshot& config = dp.config;
  if (config.ports.size() > kMaxPorts) return "at most " + std::to_string(kMaxPorts) + " ports";
  // Certificates first: a bad one stops us before anything starts.
  std::vector<std::string> tls_errors;
  auto tls = std::make_unique<TlsListeners>(TlsListeners::Load(config, tls_errors));
  if (!tls_errors.empty()) return JoinLines(tls_errors);
  {
    Generation first;
    first.config = std::make_shared<const ConfigSnapshot>(config);
    first.tls = std::move(tls);
    first.live = std::make_unique<LiveConfig>(LiveConfig{1, first.config.get(), first.tls.get()});
    dp.generations.push_back(std::move(first));
  }
  std::vector<std::string> args = EalArgs(config, options);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(int(args.size()), argv.data()) < 0)
    return std::string("EAL initialisation failed: ") + rte_strerror(rte_errno);
  dp.eal_ready = true;

  std::vector<unsigned> lcores;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) lcores.push_back(lcore);
  if (lcores.size() < config.dataplane.workers) {
    (void)Stop();
    return "config wants " + std::to_string(config.dataplane.workers) + " workers, EAL has " +
           std::to_string(lcores.size()) + " worker lcores (check -l/--lcores)";
  }

  dp.pools = config.pools;
  dp.ports.resize(config.ports.size());
  for (uint16_t i = 0; i < config.ports.size(); ++i) {
    if (std::string err = OpenPort(config.ports[i], config.dataplane, i, dp.ports[i]); !err.empty()) {
      (void)Stop();
      return err;
    }
  }
  if (config.dataplane.workers > 1) {
    for (uint16_t w = 0; w < config.dataplane.workers; ++w) {
      const std::string id = std::to_string(w);
      WorkerInbox inbox;
      inbox.notes = rte_ring_create_elem(("baton_notes_" + id).c_str(), sizeof(NeighborNote), 1024,
                                         int(rte_socket_id()), RING_F_SC_DEQ);
      // Room for the frames of a stall: a halted worker's inbox fills until it is taken over.
      inbox.packets = rte_ring_create(("baton_pkts_" + id).c_str(), 16384, int(rte_socket_id()), RING_F_SC_DEQ);
      // Room for every session index: a rebalance never finds it full.
      inbox.hand_offs = rte_ring_create_elem(("baton_hand_" + id).c_str(), sizeof(uint32_t),
                                             SessionCapacity(config), int(rte_socket_id()),
                                             RING_F_SC_DEQ | RING_F_EXACT_SZ);
      dp.inboxes.push_back(inbox);
      if (inbox.notes == nullptr || inbox.packets == nullptr || inbox.hand_offs == nullptr) {
        (void)Stop();
        return "cannot create worker inbox rings: " + std::string(rte_strerror(rte_errno));
      }
    }
  }
  // One key for ISNs and SYN cookies, shared by the workers (steering is deterministic,
  // but a cookie must verify wherever its ACK lands).
  tcp::IsnKey isn_key;
  if (getrandom(&isn_key, sizeof(isn_key), 0) != sizeof(isn_key)) {
    (void)Stop();
    return "cannot read random bytes for the TCP ISN key";
  }
  {
    auto first = std::make_unique<AdminSnapshot>();
    first->generation = 1;
    first->live = dp.generations.back().live.get();
    for (const PoolConfig& pool : config.pools) {
      first->pools.emplace_back();
      for (const BackendConfig& b : pool.backends) first->pools.back().push_back({BackendAdmin::kEnabled, b.weight});
    }
    PublishAdmin(std::move(first));
  }
  if (!config.listeners.empty()) {
    SessionSpaceConfig sc;
    sc.name = "s" + std::to_string(getpid());
    sc.capacity = SessionCapacity(config);
    sc.buffer_bytes = config.tcp.buffer_bytes;
    sc.tls_slot_bytes = sizeof(crypto::tls::TlsAcceptor);  // a reload may add TLS listeners: slots are virtual memory until used
    sc.socket_id = int(rte_socket_id());
    std::string err;
    dp.space = SessionSpace::Create(sc, err);
    if (!dp.space) {
      (void)Stop();
      return err;
    }
  }
  dp.worker_count = config.dataplane.workers;
  dp.controls = std::make_unique<WorkerControl[]>(dp.worker_count);
  const std::span<WorkerControl> controls(dp.controls.get(), dp.worker_count);
  for (uint16_t w = 0; w < config.dataplane.workers; ++w)
    dp.workers.push_back(std::make_unique<Worker>(w, uint16_t(lcores[w]), *dp.generations.back().config, dp.ports,
                                                  dp.inboxes, isn_key, dp.generations.back().tls.get(), dp.space.get(),
                                                  controls, &dp.admin));
  dp.stop.store(false);
  // Health checks and logs, before the workers run.
  dp.wall_minus_tsc_us = WallClockMinus(TscNowUs());
  dp.logs.clear();
  if (dp.probe_ports.count != 0) dp.health = std::make_unique<HealthBoard>(dp.pools, dp.probe_ports);
  uint16_t back = kMaxPorts;
  for (uint16_t i = 0; i < config.ports.size(); ++i)
    if (config.ports[i].roles & kRoleBack) back = i;
  for (auto& w : dp.workers) {
    dp.logs.push_back(std::make_unique<WorkerLog>(w->index(), options.log_level));
    w->AttachHealth(dp.health.get(), dp.pools, back, dp.logs.back().get(), isn_key);
  }
  for (auto& w : dp.workers) {
    if (int rc = rte_eal_remote_launch(WorkerMain, w.get(), w->lcore()); rc != 0) {
      (void)Stop();
      return "cannot launch worker on lcore " + std::to_string(w->lcore());
    }
  }
  dp.launched = true;
  return "";
}

StatsSnapshot SnapshotStats() {
  Dataplane& dp = Dp();
  StatsSnapshot s;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  for (const PortRuntime& p : dp.ports) {
    PortStats ps;
    ps.name = p.name;
    ps.mac = p.mac.ToString();
    ps.driver = p.driver;
    ps.rss = p.rss;
    ps.rx_ip_checksum_offload = p.rx_ip_checksum_offload;
    ps.tx_ip_checksum_offload = p.tx_ip_checksum_offload;
    rte_eth_link link{};
    if (p.started && rte_eth_link_get_nowait(p.dpdk_id, &link) == 0) ps.link_up = link.link_status != 0;
    rte_eth_stats st{};
    if (p.started && rte_eth_stats_get(p.dpdk_id, &st) == 0) {
      ps.ipackets = st.ipackets;
      ps.opackets = st.opackets;
      ps.ibytes = st.ibytes;
      ps.obytes = st.obytes;
      ps.imissed = st.imissed;
      ps.ierrors = st.ierrors;
      ps.oerrors = st.oerrors;
      ps.rx_nombuf = st.rx_nombuf;
    }
    s.ports.push_back(std::move(ps));
  }
  if (dp.space) {
    const state::StateCounters t = dp.space->store().Stats();
    s.table = SessionTableStats{t.capacity, t.occupancy, t.pending_reclaim, t.client_keys, t.backend_keys,
                                t.inserts, t.erases, t.reclaimed, t.table_full, t.hash_full, t.key_exists,
                                t.adoptions, t.hand_offs, t.rebalanced, t.claims, t.stale_claims};
  }
  const AdminSnapshot* admin = dp.admin_snapshots.empty() ? nullptr : dp.admin_snapshots.back().get();
  for (size_t p = 0; p < dp.pools.size(); ++p) {
    const PoolConfig& pool = dp.pools[p];
    for (size_t i = 0; i < pool.backends.size(); ++i) {
      if (s.backends.size() == PublishedStats::kMaxBackendStats) break;
      const BackendConfig& b = pool.backends[i];
      BackendStats bs;
      bs.pool = pool.name;
      bs.address = b.address.ToString() + ":" + std::to_string(b.port);
      bs.weight = b.weight;
      if (admin != nullptr && p < admin->pools.size() && i < admin->pools[p].size()) {
        bs.admin = kBackendAdminKey[Idx(admin->pools[p][i].admin)];
        bs.weight = admin->pools[p][i].weight;
      }
      if (dp.health && p < dp.health->pool_first.size() && dp.health->pool_first[p] + i < dp.health->up.size()) {
        const size_t f = dp.health->pool_first[p] + i;
        const HealthBoard::Published& h = dp.health->backends[f];
        bs.up = dp.health->up[f].load(kRelaxed) != 0;
        bs.health_checked = h.checked.load(kRelaxed) != 0;
        bs.health_transitions = h.transitions.load(kRelaxed);
        for (size_t r = 0; r < bs.health_checks.size(); ++r) bs.health_checks[r] = h.checks[r].load(kRelaxed);
        const uint8_t why = h.down_reason.load(kRelaxed);
        if (!bs.up && why < kHealthResultKey.size()) bs.down_reason = kHealthResultKey[why];
        bs.last_http_status = h.last_http_status.load(kRelaxed);
      }
      s.backends.push_back(std::move(bs));
    }
  }
  for (const auto& w : dp.workers) {
    const PublishedStats& pub = w->published();
    for (size_t b = 0; b < s.backends.size(); ++b) {
      s.backends[b].sessions_started += pub.backends[b].started.load(kRelaxed);
      s.backends[b].active_sessions += pub.backends[b].active.load(kRelaxed);
      s.backends[b].connect_failures += pub.backends[b].failures.load(kRelaxed);
    }
    LcoreStats ls;
    ls.lcore = w->lcore();
    ls.worker = w->index();
    ls.passes = pub.passes.load(kRelaxed);
    ls.busy_passes = pub.busy_passes.load(kRelaxed);
    ls.sleeps = pub.sleeps.load(kRelaxed);
    ls.rx_packets = pub.rx_packets.load(kRelaxed);
    ls.tx_packets = pub.tx_packets.load(kRelaxed);
    for (size_t i = 0; i < ls.counters.size(); ++i) ls.counters[i] = pub.counters[i].load(kRelaxed);
    for (size_t i = 0; i < ls.drops.size(); ++i) ls.drops[i] = pub.drops[i].load(kRelaxed);
    ls.sessions_active = pub.sessions_active.load(kRelaxed);
    ls.state = StateName(pub.state.load(std::memory_order_acquire));
    if (dp.controls) ls.taken_over_by = dp.controls[w->index()].taken_over_by.load(std::memory_order_acquire);
    for (size_t i = 1; i < pub.tcp_drops.size(); ++i)
      ls.tcp_drops.emplace_back(tcp::kTcpDropText[i], pub.tcp_drops[i].load(kRelaxed));
    for (size_t h = 0; h < ls.latency.size(); ++h) {
      for (size_t i = 0; i < kLatencyBuckets; ++i) ls.latency[h].buckets[i] = pub.latency[h].buckets[i].load(kRelaxed);
      ls.latency[h].sum_us = pub.latency[h].sum_us.load(kRelaxed);
    }
    s.lcores.push_back(ls);
    for (uint16_t p = 0; p < dp.ports.size(); ++p) {
      const PublishedStats::Queue& q = pub.queues[p];
      s.queues.push_back(QueueStats{p, w->index(), q.rx_packets.load(kRelaxed), q.rx_bytes.load(kRelaxed),
                                    q.tx_packets.load(kRelaxed), q.tx_bytes.load(kRelaxed),
                                    q.tx_full.load(kRelaxed)});
    }
  }
  return s;
}

size_t DrainLogs(std::vector<LogRecord>& out) {
  Dataplane& dp = Dp();
  const size_t first = out.size();
  for (const auto& log : dp.logs) (void)log->Drain(out);
  for (size_t i = first; i < out.size(); ++i) out[i].time_us = uint64_t(int64_t(out[i].time_us) + dp.wall_minus_tsc_us);
  return out.size() - first;
}

StatsSnapshot Stop() {
  Dataplane& dp = Dp();
  if (!dp.eal_ready) return {};
  dp.stop.store(true);
  if (dp.launched) rte_eal_mp_wait_lcore();
  dp.launched = false;
  StatsSnapshot final_stats = SnapshotStats();
  dp.workers.clear();  // frees what sat in TX buffers, before the pools go
  // Frames still in inboxes go back to their pools before the pools go.
  for (const WorkerInbox& inbox : dp.inboxes) {
    if (inbox.packets != nullptr) {
      rte_mbuf* m = nullptr;
      while (rte_ring_dequeue(inbox.packets, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    }
    rte_ring_free(inbox.notes);
    rte_ring_free(inbox.packets);
    rte_ring_free(inbox.hand_offs);
  }
  dp.inboxes.clear();
  dp.space.reset();  // after the workers: their engines end their TLS sessions first
  dp.controls.reset();
  dp.worker_count = 0;
  dp.admin.store(nullptr, std::memory_order_relaxed);  // no worker runs any more
  dp.admin_snapshots.clear();
  dp.health.reset();
  dp.generations.clear();  // no session is left to point into them
  for (PortRuntime& p : dp.ports) ClosePort(p);
  dp.ports.clear();
  rte_eal_cleanup();
  dp.eal_ready = false;
  return final_stats;
}

}  // namespace baton::dp
