#include "dataplane/health_runner.h"

namespace baton::dp {
namespace {

// Frames a probe's segments from the back port's address.
class ToL3 final : public lb::ProbeSink {
 public:
  ToL3(L3Stack& l3, uint16_t port, uint32_t src, uint64_t now_us, FrameSink& sink) noexcept
      : l3_(l3), port_(port), src_(src), now_us_(now_us), sink_(sink) {}
  void Emit(uint32_t dst_ip, std::span<const uint8_t> segment) noexcept override {
    (void)l3_.SendTcp(port_, src_, dst_ip, segment, now_us_, sink_);  // drops are counted there
  }

 private:
  L3Stack& l3_;
  uint16_t port_;
  uint32_t src_;
  uint64_t now_us_;
  FrameSink& sink_;
};

// The proxy's backend-side TCP settings (ProxyEngine's constructor): probes should
// see what sessions see.
tcp::TcpConfig ProbeTcp(const PortIdentity& back) noexcept {
  tcp::TcpConfig c;
  c.mss_bytes = uint16_t(back.mtu_bytes - 40);
  c.rto_initial_us = 200'000;
  c.rto_min_us = 200'000;
  c.syn_retries = 3;
  return c;
}

}  // namespace

HealthBoard::HealthBoard(const std::vector<PoolConfig>& pools, lb::ProbePorts probe_ports)
    : ports(probe_ports), passive_down(pools.size()) {
  size_t n = 0;
  for (const PoolConfig& p : pools) {
    pool_first.push_back(uint32_t(n));
    n += p.backends.size();
  }
  up = std::vector<std::atomic<uint8_t>>(n);
  backends = std::vector<Published>(n);
  for (size_t i = 0; i < n; ++i) up[i].store(1, std::memory_order_relaxed);
  for (size_t p = 0; p < pools.size(); ++p)
    for (size_t b = 0; b < pools[p].backends.size(); ++b)
      backends[pool_first[p] + b].checked.store(pools[p].health.enabled ? 1 : 0, std::memory_order_relaxed);
}

HealthRunner::HealthRunner(HealthBoard& board, uint16_t worker, std::span<const PoolConfig> pools, const L3Stack& l3,
                           uint16_t back, const tcp::IsnKey& isn_key, WorkerLog* log, uint64_t now_us)
    : board_(board),
      worker_(worker),
      pools_(pools),
      back_(back),
      local_ip_(l3.Port(back).ip),
      log_(log),
      now_us_(now_us) {
  if (worker_ != 0 || board_.ports.count == 0) return;
  lb::HealthEvents* events = this;  // a private base: converted here, where it is accessible
  checker_ = std::make_unique<lb::HealthChecker>(pools, local_ip_, board_.ports, ProbeTcp(l3.Port(back)), isn_key,
                                                 now_us, events);
  if (log_ != nullptr) {
    log_->Log(now_us, LogLevel::kInfo, LogEvent::kHealthChecksStarted,
              {LogField::Uint("backends", checker_->BackendCount()),
               LogField::Uint("probe_port_first", board_.ports.first),
               LogField::Uint("probe_ports", board_.ports.count)});
  }
}

HealthRunner::~HealthRunner() = default;

void HealthRunner::Sync(std::vector<lb::Pool>& pools, uint64_t now_us) noexcept {
  now_us_ = now_us;
  if (!attached_) {
    // Passive marking with the pool's own `fall` (docs/CONFIG.md [pool.health]).
    for (size_t p = 0; p < pools.size() && p < pools_.size(); ++p)
      if (pools_[p].health.enabled) pools[p].SetPassiveFall(pools_[p].health.fall);
    attached_ = true;
  }
  for (size_t p = 0; p < pools.size() && p < board_.passive_down.size(); ++p) {
    const lb::BackendMask m = pools[p].TakePassiveDown();
    if (m != 0) board_.passive_down[p].fetch_or(m, std::memory_order_release);
  }
  if (checker_) {
    for (size_t p = 0; p < board_.passive_down.size(); ++p) {
      if (board_.passive_down[p].load(std::memory_order_relaxed) == 0) [[likely]] continue;
      const lb::BackendMask m = board_.passive_down[p].exchange(0, std::memory_order_acquire);
      checker_->MarkPassiveDown(uint16_t(p), m);  // publishes through OnHealthChange
    }
  }
  // Pairs with the release increment in OnHealthChange(): the `up` flags it covers are
  // visible once the generation is.
  const uint64_t g = board_.generation.load(std::memory_order_acquire);
  if (g == generation_) [[likely]] return;
  generation_ = g;
  for (size_t p = 0; p < pools.size() && p < board_.pool_first.size(); ++p) {
    for (uint16_t b = 0; b < pools[p].Size(); ++b) {
      const uint32_t i = board_.pool_first[p] + b;
      if (i >= board_.up.size()) continue;
      const bool up = board_.up[i].load(std::memory_order_relaxed) != 0;
      // Only changes: SetAvailable(true) also forgets the backend's run of failures.
      if (pools[p].Backend(b).available != up) pools[p].SetAvailable(b, up);
    }
  }
}

void HealthRunner::Input(const TcpView& view, ByteView segment, uint64_t now_us, L3Stack& l3,
                         FrameSink& sink) noexcept {
  if (!checker_) return;
  now_us_ = now_us;
  ToL3 out(l3, back_, local_ip_, now_us, sink);
  checker_->Input(view.src_ip, segment, now_us, out);
  next_us_ = checker_->NextDeadline();
  PublishStats();
}

void HealthRunner::Advance(uint64_t now_us, L3Stack& l3, FrameSink& sink) noexcept {
  if (!checker_) return;
  board_.checker_beat_us.store(now_us, std::memory_order_relaxed);
  // One compare per tick while nothing is due (the checker's scan is O(backends)).
  if (now_us < next_us_) return;
  now_us_ = now_us;
  ToL3 out(l3, back_, local_ip_, now_us, sink);
  checker_->Advance(now_us, out);
  next_us_ = checker_->NextDeadline();
  PublishStats();
}

void HealthRunner::OnHealthChange(const lb::HealthChange& c) noexcept {
  board_.up[c.flat].store(c.up ? 1 : 0, std::memory_order_relaxed);
  // Pairs with the acquire load in Sync() on every worker (this one included).
  board_.generation.fetch_add(1, std::memory_order_release);
  if (log_ == nullptr) return;
  const char* pool = c.pool < pools_.size() ? pools_[c.pool].name.c_str() : "";
  if (c.up) {
    log_->Log(now_us_, LogLevel::kInfo, LogEvent::kBackendUp,
              {LogField::Text("pool", pool), LogField::Ipv4Port("backend", c.address, c.port)});
  } else {
    log_->Log(now_us_, LogLevel::kWarn, LogEvent::kBackendDown,
              {LogField::Text("pool", pool), LogField::Ipv4Port("backend", c.address, c.port),
               LogField::Text("reason", kHealthResultKey[Idx(c.reason)].data()),
               LogField::Uint("http_status", c.http_status)});
  }
}

void HealthRunner::PublishStats() noexcept {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  const uint32_t n = std::min<uint32_t>(checker_->BackendCount(), uint32_t(board_.backends.size()));
  for (uint32_t i = 0; i < n; ++i) {
    const lb::BackendHealth& h = checker_->Health(i);
    HealthBoard::Published& out = board_.backends[i];
    out.down_reason.store(uint8_t(h.down_reason), kRelaxed);
    out.last_http_status.store(h.last_http_status, kRelaxed);
    out.transitions.store(h.transitions, kRelaxed);
    for (size_t r = 0; r < h.checks.size(); ++r) out.checks[r].store(h.checks[r], kRelaxed);
  }
}

}  // namespace baton::dp
