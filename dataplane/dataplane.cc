// dataplane/api/control.h: EAL, ports, workers; start, stats and stop.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/api/control.h"
#include "dataplane/live_config.h"
#include "dataplane/port.h"
#include "dataplane/worker.h"

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
  std::vector<std::unique_ptr<Worker>> workers;
  // Every config generation since start, the running one last (main lcore only; the
  // workers see them through `admin`).
  std::vector<Generation> generations;
  bool launched = false;
  // Backend admin state: the workers' one publish point, and the snapshots that may
  // still be read (the current one last). Main lcore only, except `admin` (atomic).
  std::atomic<const AdminSnapshot*> admin{nullptr};
  std::vector<std::unique_ptr<AdminSnapshot>> admin_snapshots;
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

std::string Reconfigure(const ConfigSnapshot& next) {
  if (std::string err = CannotPublish(); !err.empty()) return err;
  const Generation& cur = Dp().generations.back();
  // What the workers cannot change live (controlplane/reload.cc says it first, in detail).
  const ConfigSnapshot& run = *cur.config;
  if (next.dataplane.workers != run.dataplane.workers || next.ports.size() != run.ports.size() ||
      next.tcp.max_sessions != run.tcp.max_sessions || next.tcp.buffer_bytes != run.tcp.buffer_bytes ||
      run.listeners.empty() != next.listeners.empty())
    return "refused: workers, ports, tcp.max_sessions, tcp.buffer_kib and having listeners at all cannot change live";
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

std::string Start(const ConfigSnapshot& config, const StartOptions& options) {
  Dataplane& dp = Dp();
  if (dp.eal_ready) return "data plane already started";
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
      inbox.packets = rte_ring_create(("baton_pkts_" + id).c_str(), 4096, int(rte_socket_id()), RING_F_SC_DEQ);
      dp.inboxes.push_back(inbox);
      if (inbox.notes == nullptr || inbox.packets == nullptr) {
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
  for (uint16_t w = 0; w < config.dataplane.workers; ++w)
    dp.workers.push_back(std::make_unique<Worker>(w, uint16_t(lcores[w]), *dp.generations.back().config, dp.ports,
                                                  dp.inboxes, isn_key, dp.generations.back().tls.get(), &dp.admin));
  dp.stop.store(false);
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
    for (size_t i = 1; i < pub.tcp_drops.size(); ++i)
      ls.tcp_drops.emplace_back(tcp::kTcpDropText[i], pub.tcp_drops[i].load(kRelaxed));
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
  }
  dp.inboxes.clear();
  dp.admin.store(nullptr, std::memory_order_relaxed);  // no worker runs any more
  dp.admin_snapshots.clear();
  dp.generations.clear();  // no session is left to point into them
  for (PortRuntime& p : dp.ports) ClosePort(p);
  dp.ports.clear();
  rte_eal_cleanup();
  dp.eal_ready = false;
  return final_stats;
}

}  // namespace baton::dp
