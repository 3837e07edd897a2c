#include "dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>

#include "dataplane/health_runner.h"
#include "dataplane/worker_log.h"

namespace baton::dp {
namespace {

uint64_t NowUs(uint64_t hz) noexcept {
  const uint64_t c = rte_get_timer_cycles();
  return c / hz * 1'000'000 + c % hz * 1'000'000 / hz;
}

IpChecksumState RxChecksum(const rte_mbuf* m) noexcept {
  switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
    case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
    case RTE_MBUF_F_RX_IP_CKSUM_NONE:  // checksum field unset but header verified (virtio)
      return IpChecksumState::kGood;
    case RTE_MBUF_F_RX_IP_CKSUM_BAD:
      return IpChecksumState::kBad;
    default:
      return IpChecksumState::kUnknown;
  }
}

IpChecksumState RxL4Checksum(const rte_mbuf* m) noexcept {
  switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
    case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
    case RTE_MBUF_F_RX_L4_CKSUM_NONE:  // data verified, field not filled (virtio)
      return IpChecksumState::kGood;
    case RTE_MBUF_F_RX_L4_CKSUM_BAD:
      return IpChecksumState::kBad;
    default:
      return IpChecksumState::kUnknown;
  }
}

void SetTxOffload(rte_mbuf* m, const TxMeta& tx) noexcept {
  if (!tx.ip_checksum_offload) return;
  m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
  m->l2_len = tx.l2_len;
  m->l3_len = tx.l3_len;
}

}  // namespace

Worker::Worker(uint16_t index, uint16_t lcore, const ConfigSnapshot& config,
               std::span<const PortRuntime> ports, std::span<const WorkerInbox> inboxes,
               const tcp::IsnKey& isn_key, const TlsListeners* tls, SessionSpace* space,
               std::span<WorkerControl> controls, const std::atomic<const AdminSnapshot*>* admin)
    : index_(index),
      lcore_(lcore),
      config_(config.dataplane),
      ports_(ports.begin(), ports.end()),
      inboxes_(inboxes.begin(), inboxes.end()),
      l3_(config.arp, counters_),
      space_(space),
      controls_(controls),
      admin_(admin) {
  queues_.push_back(index_);
  // The config generation published when we are built is the one `config` is.
  if (admin_ != nullptr)
    if (const AdminSnapshot* a = admin_->load(std::memory_order_acquire); a != nullptr) live_ = a->live;
  config_.burst = std::min<uint16_t>(config_.burst, kMaxBurst);
  uint16_t front = kMaxPorts, back = kMaxPorts;
  for (uint16_t i = 0; i < ports_.size(); ++i) {
    l3_.AddPort(PortIdentity::FromConfig(config.ports[i], ports_[i].mac, ports_[i].tx_ip_checksum_offload));
    if (config.ports[i].roles & kRoleFront) front = i;
    if (config.ports[i].roles & kRoleBack) back = i;
  }
  // The config loader guarantees a front port, and a back port whenever there are
  // listeners; VIPs live on the front port.
  if (!config.listeners.empty() && front != kMaxPorts && back != kMaxPorts && space_ != nullptr) {
    for (const ListenerConfig& l : config.listeners) l3_.AddLocalAddress(front, l.vip.V4HostOrder());
    proxy_ = std::make_unique<ProxyEngine>(config, front, back, index_, config.dataplane.workers,
                                           l3_, counters_, isn_key, *space_, tls);
    tcp_.reserve(kMaxBurst + kInboxBurst);
    routes_.resize(kMaxBurst + kInboxBurst);
    handoff_batch_.resize(kHandOffBatch);
    if (config.dataplane.workers > 1 && controls_.size() == config.dataplane.workers &&
        config.dataplane.stall_timeout_ms != 0) {
      stall_timeout_us_ = uint64_t(config.dataplane.stall_timeout_ms) * 1000;
      watch_ = std::make_unique<state::StallWatch>(space_->beats());
    }
  }
}

Worker::~Worker() {
  for (uint16_t p = 0; p < ports_.size(); ++p) {
    rte_pktmbuf_free_bulk(tx_[p].pkts.data(), tx_[p].count);
    tx_[p].count = 0;
  }
}

void Worker::Run(const std::atomic<bool>& stop) {
  const uint64_t hz = rte_get_timer_hz();
  uint64_t now_us = NowUs(hz);
  // Only worker 0 announces the box, so peers see one gratuitous ARP per port.
  if (index_ == 0) l3_.Start(now_us, *this);
  FlushAll();
  state::Heartbeats* beats = proxy_ ? &space_->beats() : nullptr;
  if (beats != nullptr) beats->Join(index_);
  uint64_t next_tick_us = now_us + kTickUs;
  uint32_t idle_passes = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    // Between bursts: the one place this worker may stop without harm.
    if (!controls_.empty() && controls_[index_].halt.load(std::memory_order_acquire))
      return Park(WorkerState::kHalted, stop);
    if (beats != nullptr) {
      if (beats->Fenced(index_)) return Park(WorkerState::kFenced, stop);
      beats->Beat(index_);  // odd: in a burst
    }
    now_us = NowUs(hz);
    ++passes_;
    if (health_) health_->Sync(proxy_->MutablePools(), now_us);  // health in, passive marks out
    ApplyAdmin(now_us);
    uint32_t work = 0;
    for (const uint16_t q : queues_) {
      work += DrainInbox(q, now_us);
      for (uint16_t p = 0; p < ports_.size(); ++p) work += PollPort(p, q, now_us);
    }
    if (proxy_) {
      for (size_t i = 0; i < adopting_.size();) {
        // Records of a worker we took over from, a bounded scan per pass.
        Adoption& a = adopting_[i];
        const uint32_t n = proxy_->AdoptFrom(a.dead, a.cursor, kScanPerPass, now_us);
        a.adopted += n;
        work += n;
        if (a.cursor.next < space_->capacity()) {
          ++i;
          continue;
        }
        if (log_ != nullptr)
          (void)log_->Log(now_us, LogLevel::kInfo, LogEvent::kWorkerAdoptedSessions,
                          {LogField::Uint("sessions", a.adopted), LogField::Uint("from_worker", a.dead)});
        adopting_.erase(adopting_.begin() + long(i));
      }
      proxy_->Flush(now_us, *this);
    }
    FlushAll();
    if (now_us >= next_tick_us) {
      l3_.Advance(now_us, *this);
      if (proxy_) proxy_->Advance(now_us, *this);
      if (health_) health_->Advance(now_us, l3_, *this);
      if (log_) log_->Tick(now_us);
      FlushAll();
      WatchPeers(now_us);
      Publish();
      next_tick_us = now_us + kTickUs;
    }
    work += RunRebalance(now_us);
    if (proxy_) proxy_->EndPass();
    if (beats != nullptr) beats->Beat(index_);  // even: between bursts
    if (work != 0) {
      ++busy_passes_;
      idle_passes = 0;
    } else if (config_.idle_backoff_us != 0 && ++idle_passes >= config_.idle_polls_before_sleep) {
      // Idle back-off: a poll-mode core must not starve a small machine's other work.
      if (proxy_) proxy_->Offline();
      rte_delay_us_sleep(config_.idle_backoff_us);
      if (proxy_) proxy_->Online();
      ++sleeps_;
    }
  }
  if (beats != nullptr) beats->Leave(index_);
  FlushAll();
  Publish();
}

void Worker::Park(WorkerState why, const std::atomic<bool>& stop) {
  // What a stuck core looks like to the others: no beats, no polling, nothing sent. Our
  // TX buffers were flushed at the end of the last pass.
  // Its sessions are another worker's from now on (adopted, or soon): it counts none.
  published_.sessions_active.store(0, std::memory_order_relaxed);
  for (PublishedStats::Backend& b : published_.backends) b.active.store(0, std::memory_order_relaxed);
  published_.state.store(why, std::memory_order_release);
  if (why == WorkerState::kHalted && log_ != nullptr)
    (void)log_->Log(NowUs(rte_get_timer_hz()), LogLevel::kWarn, LogEvent::kWorkerHalted, {});
  while (!stop.load(std::memory_order_relaxed)) rte_delay_us_sleep(10'000);
}

void Worker::WatchPeers(uint64_t now_us) {
  if (!watch_) return;
  std::array<uint16_t, state::kMaxCores> quiet, long_quiet;
  const uint32_t n = watch_->StalledCores(now_us, stall_timeout_us_, quiet);
  if (n == 0) return;
  const uint32_t m = watch_->StalledCores(now_us, 10 * stall_timeout_us_, long_quiet);
  for (uint32_t i = 0; i < n; ++i) {
    const uint16_t c = quiet[i];
    if (c >= controls_.size()) continue;
    // Stopped inside a burst, it may only be descheduled: taking its records now would
    // race with it when it wakes, so it gets the long timeout.
    const bool in_burst = state::Heartbeats::InBurst(space_->beats().Count(c));
    if (in_burst && std::find(long_quiet.begin(), long_quiet.begin() + m, c) == long_quiet.begin() + m) continue;
    TakeOver(c, now_us);
  }
}

void Worker::TakeOver(uint16_t dead, uint64_t now_us) {
  if (!space_->beats().Fence(dead)) return;  // another worker is taking over
  // Grace periods stop waiting for it; its sessions become ours as we meet them (first
  // packet) or as the scan reaches them; its RX queues and inbox are ours to serve.
  space_->store().ForgetCore(dead);
  // Its own queues, and those it had taken over from others before it stopped.
  for (uint16_t w = 0; w < controls_.size(); ++w) {
    if (w != dead && controls_[w].taken_over_by.load(std::memory_order_acquire) != dead) continue;
    controls_[w].taken_over_by.store(index_, std::memory_order_release);
    queues_.push_back(w);
  }
  adopting_.push_back({dead, {}, 0});
  if (log_ != nullptr)
    (void)log_->Log(now_us, LogLevel::kWarn, LogEvent::kWorkerStalled,
                    {LogField::Uint("worker", dead), LogField::Uint("taken_over_by", index_)});
}

uint32_t Worker::RunRebalance(uint64_t now_us) {
  if (controls_.empty() || !proxy_) return 0;
  WorkerControl& c = controls_[index_];
  // Pairs with the release in dataplane.cc's Rebalance(): to/share come first.
  const uint64_t request = c.rebalance_request.load(std::memory_order_acquire);
  if (request != rebalance_seen_) {
    rebalance_seen_ = request;
    rebalancing_ = true;
    rebalance_cursor_ = {};
    rebalance_moved_ = 0;
  }
  if (!rebalancing_) return 0;
  const uint16_t to = c.rebalance_to.load(std::memory_order_relaxed);
  const double share = c.rebalance_share_ppm.load(std::memory_order_relaxed) / 1e6;
  uint32_t n = 0;
  if (to < inboxes_.size() && to != index_) {
    n = proxy_->HandOffShare(to, share, rebalance_cursor_, kScanPerPass, handoff_batch_);
    // The ring holds every index of the table, so this cannot fail; were it to, the
    // new owner still accepts each session at its first packet.
    const unsigned posted = rte_ring_mp_enqueue_burst_elem(inboxes_[to].hand_offs, handoff_batch_.data(),
                                                           sizeof(uint32_t), n, nullptr);
    if (posted < n) counters_.Drop(DropReason::kSteerRingFull, n - posted);
    rebalance_moved_ += n;
  } else {
    rebalance_cursor_.next = space_->capacity();  // refused by dataplane.cc already
  }
  if (rebalance_cursor_.next >= space_->capacity()) {
    rebalancing_ = false;
    c.rebalance_moved.store(rebalance_moved_, std::memory_order_relaxed);
    c.rebalance_done.store(request, std::memory_order_release);
  }
  (void)now_us;
  return n;
}

uint16_t Worker::PollPort(uint16_t port, uint16_t queue, uint64_t now_us) {
  std::array<rte_mbuf*, kMaxBurst> rx;
  const uint16_t n = rte_eth_rx_burst(ports_[port].dpdk_id, queue, rx.data(), config_.burst);
  QueueCounters& q = queue_counters_[port];
  for (uint16_t i = 0; i < n; ++i) {
    q.rx_bytes += rte_pktmbuf_pkt_len(rx[i]);
    HandleFrame(port, rx[i], now_us);
  }
  RouteTcp(now_us);
  q.rx_packets += n;
  rx_packets_ += n;
  return n;
}

void Worker::HandleFrame(uint16_t port, rte_mbuf* m, uint64_t now_us) {
  if (m->nb_segs != 1) [[unlikely]] {  // mbufs hold a whole MTU-sized frame
    counters_.Drop(DropReason::kFrameTooLong);
    rte_pktmbuf_free(m);
    return;
  }
  // Some PMDs (af_packet, NICs with VLAN strip) hand the 802.1Q tag out of band; the
  // L2 code reads tags in band, so put it back where it was.
  if ((m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) && rte_vlan_insert(&m) != 0) [[unlikely]] {
    counters_.Drop(DropReason::kNoMbuf);
    rte_pktmbuf_free(m);
    return;
  }
  const RxMeta meta{port, RxChecksum(m), RxL4Checksum(m)};
  const MutByteView frame(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_data_len(m));
  const InputResult r = l3_.Input(frame, meta, now_us, *this);
  if (r.learned_ip != 0) ShareNeighbor(port, r.learned_ip, r.learned_mac);
  switch (r.verdict) {
    case Verdict::kTcp: {
      const ByteView segment(frame.data() + r.tcp.l4_offset, r.tcp.l4_len);
      if (health_ && health_->Owns(port, r.tcp, segment, now_us)) {  // a health probe's: worker 0's
        if (index_ != 0) return Steer(0, port, m);
        health_->Input(r.tcp, segment, now_us, l3_, *this);
        rte_pktmbuf_free(m);
        return;
      }
      if (!proxy_) {
        counters_.Drop(DropReason::kTcpNoListener);
        rte_pktmbuf_free(m);
        return;
      }
      tcp_.push_back({m, {port, r.tcp, segment}});
      return;
    }
    case Verdict::kReply:
      m->data_len = m->pkt_len = r.tx_len;
      // Forget the RX flags but keep those that say who owns the buffer.
      m->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
      SetTxOffload(m, r.tx);
      Enqueue(port, m);
      return;
    case Verdict::kDrop:      // counted by the stack
    case Verdict::kConsumed:
      rte_pktmbuf_free(m);
      return;
  }
}

void Worker::RouteTcp(uint64_t now_us) {
  if (tcp_.empty()) return;
  std::array<SegmentRef, kMaxBurst + kInboxBurst> refs;
  for (size_t i = 0; i < tcp_.size(); ++i) refs[i] = tcp_[i].ref;
  proxy_->Route({refs.data(), tcp_.size()}, routes_, now_us);
  for (size_t i = 0; i < tcp_.size(); ++i) {
    const TcpFrame& f = tcp_[i];
    const FlowRoute& r = routes_[i];
    if (r.owner != index_) {
      Steer(r.owner, f.ref.port, f.m);
      continue;
    }
    proxy_->Input(f.ref.port, f.ref.view, f.ref.segment, r.idx, now_us, *this);  // copies what it keeps
    rte_pktmbuf_free(f.m);
  }
  tcp_.clear();
}

void Worker::ShareNeighbor(uint16_t port, uint32_t ip, const MacAddr& mac) {
  if (inboxes_.size() < 2) return;
  const NeighborNote note{ip, port, mac.b, 0};
  for (uint16_t w = 0; w < inboxes_.size(); ++w) {
    if (w == index_) continue;
    // A full inbox loses only a cache hint: that worker will ask ARP itself.
    NeighborNote copy = note;  // the DPDK API takes a non-const pointer
    if (rte_ring_mp_enqueue_elem(inboxes_[w].notes, &copy, sizeof(copy)) == 0)
      counters_.Count(Counter::kRelayedToWorkers);
  }
}

uint16_t Worker::DrainInbox(uint16_t inbox, uint64_t now_us) {
  if (inboxes_.size() < 2) return 0;
  const WorkerInbox& in = inboxes_[inbox];
  std::array<NeighborNote, 32> notes;
  const unsigned n =
      rte_ring_sc_dequeue_burst_elem(in.notes, notes.data(), sizeof(NeighborNote), notes.size(), nullptr);
  for (unsigned i = 0; i < n; ++i) {
    MacAddr mac;
    mac.b = notes[i].mac;
    l3_.LearnFromPeer(notes[i].port, notes[i].ip, mac, now_us, *this);
  }
  // Sessions a rebalance moved here: ours from now on (unless their first packet made
  // them ours already).
  std::array<uint32_t, kHandOffBatch> moved;
  const unsigned h =
      rte_ring_sc_dequeue_burst_elem(in.hand_offs, moved.data(), sizeof(uint32_t), moved.size(), nullptr);
  for (unsigned i = 0; i < h && proxy_; ++i) (void)proxy_->AcceptHandOff(moved[i], now_us);
  // Frames other workers received for sessions we own; their `port` field holds our
  // port number (set by Steer). L3 checks them again: cheap, and keeps one path.
  std::array<rte_mbuf*, kInboxBurst> pkts;
  const unsigned k =
      rte_ring_sc_dequeue_burst(in.packets, reinterpret_cast<void**>(pkts.data()), pkts.size(), nullptr);
  for (unsigned i = 0; i < k; ++i) HandleFrame(pkts[i]->port, pkts[i], now_us);
  RouteTcp(now_us);
  return uint16_t(n + h + k);
}

void Worker::ApplyAdmin(uint64_t now_us) {
  if (admin_ == nullptr) return;
  // Pairs with the release store in dataplane.cc's PublishAdmin(): the snapshot's
  // contents are visible once its pointer is.
  const AdminSnapshot* a = admin_->load(std::memory_order_acquire);
  if (a == nullptr || a->generation == admin_generation_) [[likely]] return;
  // Live reload: the first snapshot names the config we were built from; a later one
  // may bring another (dataplane.cc keeps both alive).
  if (a->live != nullptr && live_ != nullptr && a->live != live_ && proxy_)
    proxy_->Reconfigure(*live_->config, live_->tls, *a->live->config, a->live->tls, a->live->generation, now_us);
  if (a->live != nullptr) live_ = a->live;
  if (proxy_) {
    std::vector<lb::Pool>& pools = proxy_->MutablePools();
    for (size_t p = 0; p < pools.size() && p < a->pools.size(); ++p) {
      for (uint16_t b = 0; b < pools[p].Size() && b < a->pools[p].size(); ++b) {
        pools[p].SetAdmin(b, a->pools[p][b].admin);
        // CONTROL-PATH EXCEPTION (on a worker): a weight change rebuilds a Maglev table
        // in place (no allocation), a few ms for 65537 slots; weight changes are rare.
        pools[p].SetWeight(b, a->pools[p][b].weight);
      }
    }
  }
  admin_generation_ = a->generation;
  // After the last read of *a: dataplane.cc may free it once every worker is past it.
  published_.admin_generation.store(a->generation, std::memory_order_release);
}

void Worker::AttachHealth(HealthBoard* board, std::span<const PoolConfig> pools, uint16_t back, WorkerLog* log,
                          const tcp::IsnKey& isn_key) {
  log_ = log;
  if (board == nullptr || !proxy_ || back >= ports_.size()) return;
  health_ = std::make_unique<HealthRunner>(*board, index_, pools, l3_, back, isn_key, log, NowUs(rte_get_timer_hz()));
}

void Worker::Steer(uint16_t owner, uint16_t port, rte_mbuf* m) {
  m->port = port;
  if (owner >= inboxes_.size() || rte_ring_mp_enqueue(inboxes_[owner].packets, m) != 0) [[unlikely]] {
    counters_.Drop(DropReason::kSteerRingFull);
    rte_pktmbuf_free(m);
    return;
  }
  counters_.Count(Counter::kSteeredToOwner);
}

void Worker::Enqueue(uint16_t port, rte_mbuf* m) {
  TxBuffer& b = tx_[port];
  if (b.count == b.pkts.size()) Flush(port);
  b.pkts[b.count++] = m;
}

void Worker::Flush(uint16_t port) {
  TxBuffer& b = tx_[port];
  if (b.count == 0) return;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < b.count; ++i) bytes += rte_pktmbuf_pkt_len(b.pkts[i]);
  const uint16_t sent = rte_eth_tx_burst(ports_[port].dpdk_id, index_, b.pkts.data(), b.count);
  QueueCounters& q = queue_counters_[port];
  if (sent < b.count) [[unlikely]] {
    for (uint16_t i = sent; i < b.count; ++i) bytes -= rte_pktmbuf_pkt_len(b.pkts[i]);
    const uint16_t unsent = uint16_t(b.count - sent);
    q.tx_full += unsent;
    counters_.Drop(DropReason::kTxFull, unsent);
    rte_pktmbuf_free_bulk(b.pkts.data() + sent, unsent);
  }
  q.tx_packets += sent;
  q.tx_bytes += bytes;
  tx_packets_ += sent;
  b.count = 0;
}

void Worker::FlushAll() {
  for (uint16_t p = 0; p < ports_.size(); ++p) Flush(p);
}

void Worker::Publish() {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  published_.passes.store(passes_, kRelaxed);
  published_.busy_passes.store(busy_passes_, kRelaxed);
  published_.sleeps.store(sleeps_, kRelaxed);
  published_.rx_packets.store(rx_packets_, kRelaxed);
  published_.tx_packets.store(tx_packets_, kRelaxed);
  for (size_t i = 0; i < counters_.counters.size(); ++i) published_.counters[i].store(counters_.counters[i], kRelaxed);
  for (size_t i = 0; i < counters_.drops.size(); ++i) published_.drops[i].store(counters_.drops[i], kRelaxed);
  for (size_t h = 0; h < counters_.latency.size(); ++h) {
    for (size_t i = 0; i < kLatencyBuckets; ++i)
      published_.latency[h].buckets[i].store(counters_.latency[h].buckets[i], kRelaxed);
    published_.latency[h].sum_us.store(counters_.latency[h].sum_us, kRelaxed);
  }
  if (proxy_) {
    size_t b = 0;
    for (const lb::Pool& pool : proxy_->Pools()) {
      for (const lb::BackendCounters& c : pool.Counters()) {
        if (b == published_.backends.size()) break;
        published_.backends[b].started.store(c.sessions_started, kRelaxed);
        published_.backends[b].active.store(c.active_sessions, kRelaxed);
        published_.backends[b].failures.store(c.connect_failures, kRelaxed);
        ++b;
      }
    }
    published_.sessions_active.store(proxy_->ActiveSessions(), kRelaxed);
    for (size_t i = 0; i < published_.tcp_drops.size(); ++i)
      published_.tcp_drops[i].store(proxy_->TcpDrops()[i], kRelaxed);
  }
  for (size_t p = 0; p < ports_.size(); ++p) {
    const QueueCounters& q = queue_counters_[p];
    PublishedStats::Queue& out = published_.queues[p];
    out.rx_packets.store(q.rx_packets, kRelaxed);
    out.rx_bytes.store(q.rx_bytes, kRelaxed);
    out.tx_packets.store(q.tx_packets, kRelaxed);
    out.tx_bytes.store(q.tx_bytes, kRelaxed);
    out.tx_full.store(q.tx_full, kRelaxed);
  }
}

FrameSink::Buffer Worker::Alloc(uint16_t port, uint16_t len, const TxMeta& tx) {
  rte_mbuf* m = rte_pktmbuf_alloc(ports_[port].pool);
  if (m == nullptr) return {};
  uint8_t* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, len));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return {};
  }
  SetTxOffload(m, tx);
  return {{data, len}, reinterpret_cast<PacketHandle>(m)};
}

void Worker::Send(uint16_t port, PacketHandle frame) { Enqueue(port, reinterpret_cast<rte_mbuf*>(frame)); }

void Worker::Discard(PacketHandle frame) { rte_pktmbuf_free(reinterpret_cast<rte_mbuf*>(frame)); }

void Worker::ReleasePending(uint16_t port, PacketHandle frame, const MacAddr& dst) {
  rte_mbuf* m = reinterpret_cast<rte_mbuf*>(frame);
  dst.Store(rte_pktmbuf_mtod(m, uint8_t*));
  Enqueue(port, m);
}

void Worker::DropPending(uint16_t, PacketHandle pkt) {
  rte_pktmbuf_free(reinterpret_cast<rte_mbuf*>(pkt));
}

}  // namespace baton::dp
