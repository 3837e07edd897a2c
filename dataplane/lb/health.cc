#include "dataplane/lb/health.h"

#include <algorithm>
#include <string_view>

namespace baton::dp::lb {
namespace {

constexpr uint64_t kUsPerMs = 1000;
// A probe that succeeded closes politely; if the backend does not finish the close
// within this, the probe resets and its port goes back to the pool.
constexpr uint64_t kCloseLingerUs = 2'000'000;

std::array<uint8_t, 4> Be(uint32_t ip) noexcept {
  return {uint8_t(ip >> 24), uint8_t(ip >> 16), uint8_t(ip >> 8), uint8_t(ip)};
}

std::string Ipv4Text(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xff) + "." + std::to_string((ip >> 8) & 0xff) +
         "." + std::to_string(ip & 0xff);
}

// Passes a probe's segments to the sink with their destination.
class ToBackend final : public tcp::SegmentSink {
 public:
  ToBackend(ProbeSink& out, uint32_t dst) noexcept : out_(out), dst_(dst) {}
  void Emit(std::span<const uint8_t> segment) noexcept override { out_.Emit(dst_, segment); }

 private:
  ProbeSink& out_;
  uint32_t dst_;
};

// "HTTP/1." then at least the digit of the minor version: what a status line's first
// bytes must be. A shorter prefix of it is still fine.
constexpr std::string_view kHttpPrefix = "HTTP/1.";

bool CouldBeStatusLine(std::string_view got) noexcept {
  const size_t n = std::min(got.size(), kHttpPrefix.size());
  return got.substr(0, n) == kHttpPrefix.substr(0, n);
}

}  // namespace

ProbePorts ReserveProbePorts(ConfigSnapshot& config) noexcept {
  const bool any = std::any_of(config.pools.begin(), config.pools.end(),
                               [](const PoolConfig& p) { return p.health.enabled; });
  TcpSettings& t = config.tcp;
  if (!any || t.snat_port_max <= t.snat_port_min) return {};
  const uint32_t range = uint32_t(t.snat_port_max) - t.snat_port_min + 1;
  const uint16_t count = uint16_t(range >= 2u * kMaxProbePorts ? kMaxProbePorts : range / 2);
  if (count == 0) return {};
  const uint16_t first = uint16_t(t.snat_port_max - count + 1);
  t.snat_port_max = uint16_t(first - 1);
  return {first, count};
}

// RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ], and
// HTTP-version = "HTTP/" DIGIT "." DIGIT; we probe with HTTP/1.0 and accept 1.x answers.
uint16_t ParseStatusLine(std::string_view line) noexcept {
  if (line.size() < 12 || line.substr(0, 7) != kHttpPrefix) return 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!digit(line[7]) || line[8] != ' ') return 0;
  if (!digit(line[9]) || !digit(line[10]) || !digit(line[11])) return 0;
  if (line.size() > 12 && line[12] != ' ') return 0;  // "HTTP/1.1 2000" is not a code
  const uint16_t code = uint16_t((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  return code >= 100 ? code : 0;  // RFC 9110 15: 1xx..5xx; "099" is nonsense
}

HealthChecker::HealthChecker(std::span<const PoolConfig> pools, uint32_t local_ip, ProbePorts ports,
                             const tcp::TcpConfig& tcp, const tcp::IsnKey& isn_key, uint64_t now_us,
                             HealthEvents* events)
    : local_ip_(local_ip), ports_(ports), tcp_(tcp), isn_key_(isn_key), events_(events) {
  // A probe's TIME-WAIT need not outlast a slot's turn in the FIFO: 2 x 500 ms.
  tcp_.msl_us = 500'000;
  tcp_.keepalive_idle_us = 0;
  for (uint16_t p = 0; p < pools.size(); ++p) {
    const PoolConfig& pool = pools[p];
    pool_first_.push_back(uint32_t(targets_.size()));
    std::string request;
    if (pool.health.enabled && !pool.health.http_path.empty()) {
      // Host (optional in HTTP/1.0, but some servers want it) is the backend's address,
      // so each backend gets its own copy of the request, made here, once.
      request = "GET " + pool.health.http_path + " HTTP/1.0\r\nUser-Agent: baton-health\r\nConnection: close\r\nHost: ";
    }
    const size_t n = pool.backends.size();
    for (uint16_t b = 0; b < n; ++b) {
      Target t;
      t.address = pool.backends[b].address.V4HostOrder();
      t.port = pool.backends[b].port;
      t.pool = p;
      t.backend = b;
      t.interval_ms = pool.health.interval_ms;
      t.timeout_ms = pool.health.timeout_ms;
      t.rise = pool.health.rise;
      t.fall = pool.health.fall;
      BackendHealth h;
      h.checked = pool.health.enabled;
      if (h.checked) {
        // Staggered: a pool's backends are probed evenly through the interval.
        const uint64_t interval_us = uint64_t(pool.health.interval_ms) * kUsPerMs;
        t.next_probe_us = now_us + interval_us * b / n;
      }
      requests_.push_back(request.empty() ? request : request + Ipv4Text(t.address) + "\r\n\r\n");
      targets_.push_back(t);
      health_.push_back(h);
    }
  }
  probes_.resize(ports_.count);
  free_.resize(ports_.count);
  for (uint32_t i = 0; i < ports_.count; ++i) free_[i] = i;
  free_count_ = ports_.count;
}

uint32_t HealthChecker::ActiveProbesForTest() const noexcept {
  return uint32_t(std::count_if(probes_.begin(), probes_.end(), [](const Probe& p) { return p.phase != Phase::kFree; }));
}

void HealthChecker::Start(uint32_t target, uint64_t now_us, ProbeSink& out) noexcept {
  Target& t = targets_[target];
  if (free_count_ == 0) {
    ++skipped_;  // every port busy: not the backend's fault, try next interval
    return;
  }
  const uint32_t slot = free_[free_head_];
  free_head_ = (free_head_ + 1) % uint32_t(free_.size());
  --free_count_;
  Probe& p = probes_[slot];
  const uint16_t port = uint16_t(ports_.first + slot);
  tcp::TcpEndpoint::Init(p.conn, tcp_, port, t.port, uint32_t(p.snd.size()), uint32_t(p.rcv.size()), now_us);
  p.phase = Phase::kConnecting;
  p.target = target;
  p.line_len = 0;
  p.deadline_us = now_us + uint64_t(t.timeout_ms) * kUsPerMs;
  t.probe = slot;
  const auto local = Be(local_ip_), remote = Be(t.address);
  tcp::TcpEndpoint ep = Ep(p);
  ep.Connect(tcp::Rfc6528Isn(isn_key_, local, port, remote, t.port, now_us), now_us);
  Output(slot, now_us, out);
}

void HealthChecker::Input(uint32_t src_ip, std::span<const uint8_t> segment, uint64_t now_us,
                          ProbeSink& out) noexcept {
  tcp::Segment seg;
  if (tcp::ParseSegment(segment, seg) != tcp::ParseStatus::kOk) return;  // L3 checked it; options malformed
  if (!ports_.Contains(seg.hdr.dst_port)) return;
  const uint32_t slot = seg.hdr.dst_port - ports_.first;
  Probe& p = probes_[slot];
  if (p.phase == Phase::kFree || targets_[p.target].address != src_ip ||
      targets_[p.target].port != seg.hdr.src_port) {
    return SendReset(src_ip, seg, out);  // a late segment of an earlier probe, or a stranger
  }
  (void)Ep(p).Input(seg, now_us);  // refusals are the connection's business; nothing to count here
  OnEvents(slot, now_us);
  Output(slot, now_us, out);
}

void HealthChecker::SendReset(uint32_t dst_ip, const tcp::Segment& seg, ProbeSink& out) noexcept {
  std::array<uint8_t, tcp::kTcpMaxHeaderLen> rst;
  const size_t n = tcp::BuildResetFor(seg, rst);
  if (n != 0) out.Emit(dst_ip, {rst.data(), n});
}

void HealthChecker::OnEvents(uint32_t slot, uint64_t now_us) noexcept {
  Probe& p = probes_[slot];
  const uint16_t ev = p.conn.events;
  p.conn.events = 0;
  switch (p.phase) {
    case Phase::kConnecting:
      if (ev & tcp::kEvConnected) {
        const std::string& request = requests_[p.target];
        if (request.empty()) return Conclude(slot, HealthResult::kOk, 0, now_us);
        // The request always fits: http_path is at most 256 bytes, the send ring 512.
        if (Ep(p).Send({reinterpret_cast<const uint8_t*>(request.data()), request.size()}) != request.size())
          return Conclude(slot, HealthResult::kBadResponse, 0, now_us);
        p.phase = Phase::kExpectStatusLine;
        if (ev & (tcp::kEvData | tcp::kEvPeerFin)) ReadStatusLine(slot, (ev & tcp::kEvPeerFin) != 0, now_us);
        return;
      }
      // RST to our SYN: refused. Retries exhausted (SYNs unanswered): timeout.
      if (ev & tcp::kEvTimedOut) return Conclude(slot, HealthResult::kTimeout, 0, now_us);
      if (ev & (tcp::kEvReset | tcp::kEvClosed)) return Conclude(slot, HealthResult::kRefused, 0, now_us);
      return;
    case Phase::kExpectStatusLine:
      if (ev & (tcp::kEvData | tcp::kEvPeerFin | tcp::kEvReset | tcp::kEvClosed | tcp::kEvTimedOut)) {
        const bool over = (ev & (tcp::kEvPeerFin | tcp::kEvReset | tcp::kEvClosed | tcp::kEvTimedOut)) != 0;
        ReadStatusLine(slot, over, now_us);
      }
      return;
    case Phase::kClosing: {
      // The rest of the answer is not needed: read and drop it so the window stays open
      // and the backend can finish.
      tcp::TcpEndpoint ep = Ep(p);
      std::array<uint8_t, 512> sink;
      while (ep.Readable() > 0) (void)ep.Receive(sink);
      return;  // Output() sends what is due (the ACK of the backend's FIN), then frees
    }
    case Phase::kFree:
      return;
  }
}

void HealthChecker::ReadStatusLine(uint32_t slot, bool peer_done, uint64_t now_us) noexcept {
  Probe& p = probes_[slot];
  tcp::TcpEndpoint ep = Ep(p);
  while (ep.Readable() > 0) {
    uint8_t c = 0;
    (void)ep.Receive({&c, 1});  // a status line is short; bytes after it are never read here
    if (c == '\n') {
      std::string_view line(p.line.data(), p.line_len);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const uint16_t code = ParseStatusLine(line);
      if (code == 0) return Conclude(slot, HealthResult::kBadResponse, 0, now_us);
      const bool good = code >= 200 && code < 400;
      return Conclude(slot, good ? HealthResult::kOk : HealthResult::kHttpStatus, code, now_us);
    }
    if (p.line_len == p.line.size()) return Conclude(slot, HealthResult::kBadResponse, 0, now_us);
    p.line[p.line_len++] = char(c);
    if (!CouldBeStatusLine({p.line.data(), p.line_len})) return Conclude(slot, HealthResult::kBadResponse, 0, now_us);
  }
  if (peer_done) {
    // Closed before a whole status line: silence is "no response", a fragment is bad.
    Conclude(slot, p.line_len == 0 ? HealthResult::kNoResponse : HealthResult::kBadResponse, 0, now_us);
  }
}

void HealthChecker::Conclude(uint32_t slot, HealthResult result, uint16_t http_status, uint64_t now_us) noexcept {
  Probe& p = probes_[slot];
  const uint32_t target = p.target;
  targets_[target].probe = kNone;
  Record(target, result, http_status);
  tcp::TcpEndpoint ep = Ep(p);
  if (result == HealthResult::kOk && ep.state() != tcp::TcpState::kClosed) {
    ep.Close();  // FIN; the backend's answer and FIN are read and dropped (kClosing)
    p.phase = Phase::kClosing;
    p.deadline_us = now_us + kCloseLingerUs;
    std::array<uint8_t, 512> sink;
    while (ep.Readable() > 0) (void)ep.Receive(sink);
  } else {
    if (ep.state() != tcp::TcpState::kClosed) ep.Abort();  // RST goes out on the next Output
    p.phase = Phase::kClosing;
    p.deadline_us = now_us;
  }
}

void HealthChecker::FreeIfDone(uint32_t slot) noexcept {
  Probe& p = probes_[slot];
  if (p.phase != Phase::kClosing) return;
  const tcp::TcpState s = p.conn.state;
  if (s != tcp::TcpState::kClosed && s != tcp::TcpState::kTimeWait) return;
  if (p.conn.rst_pending) return;  // Output() sends it first
  p.phase = Phase::kFree;
  p.target = kNone;
  p.deadline_us = tcp::kNoDeadline;
  // FIFO: the port comes back after every other free one.
  free_[(free_head_ + free_count_) % uint32_t(free_.size())] = slot;
  ++free_count_;
}

void HealthChecker::Output(uint32_t slot, uint64_t now_us, ProbeSink& out) noexcept {
  Probe& p = probes_[slot];
  if (p.phase == Phase::kFree) return;
  ToBackend sink(out, targets_[p.target].address);
  Ep(p).Output(now_us, sink);
  FreeIfDone(slot);
}

void HealthChecker::Record(uint32_t target, HealthResult result, uint16_t http_status) noexcept {
  BackendHealth& h = health_[target];
  const Target& c = targets_[target];
  ++h.checks[Idx(result)];
  if (http_status != 0) h.last_http_status = http_status;
  if (result == HealthResult::kOk) {
    h.bad_in_a_row = 0;
    if (h.good_in_a_row < UINT8_MAX) ++h.good_in_a_row;
    if (!h.up && h.good_in_a_row >= c.rise) SetUp(target, true, result, http_status);
  } else {
    h.good_in_a_row = 0;
    if (h.bad_in_a_row < UINT8_MAX) ++h.bad_in_a_row;
    if (h.up && h.bad_in_a_row >= c.fall) SetUp(target, false, result, http_status);
  }
}

void HealthChecker::SetUp(uint32_t target, bool up, HealthResult reason, uint16_t http_status) noexcept {
  BackendHealth& h = health_[target];
  h.up = up;
  h.down_reason = up ? HealthResult::kOk : reason;
  h.good_in_a_row = 0;
  h.bad_in_a_row = 0;
  ++h.transitions;
  if (events_ == nullptr) return;
  const Target& t = targets_[target];
  events_->OnHealthChange({t.pool, t.backend, target, up, reason, http_status, t.address, t.port});
}

void HealthChecker::MarkPassiveDown(uint16_t pool, BackendMask backends) noexcept {
  if (pool >= pool_first_.size()) return;
  const uint32_t end = pool + 1u < pool_first_.size() ? pool_first_[pool + 1] : uint32_t(targets_.size());
  for (uint32_t i = pool_first_[pool]; i < end; ++i) {
    if ((backends & BackendBit(uint16_t(i - pool_first_[pool]))) == 0) continue;
    BackendHealth& h = health_[i];
    ++h.checks[Idx(HealthResult::kPassive)];
    h.good_in_a_row = 0;
    if (h.up) SetUp(i, false, HealthResult::kPassive, 0);
  }
}

void HealthChecker::Advance(uint64_t now_us, ProbeSink& out) noexcept {
  for (uint32_t slot = 0; slot < probes_.size(); ++slot) {
    Probe& p = probes_[slot];
    if (p.phase == Phase::kFree) continue;
    tcp::TcpEndpoint ep = Ep(p);
    if (p.conn.state != tcp::TcpState::kClosed && ep.NextDeadline() <= now_us) {
      ep.OnTimer(now_us);
      OnEvents(slot, now_us);
    }
    if (p.phase != Phase::kFree && p.deadline_us <= now_us) {
      if (p.phase != Phase::kClosing) {
        Conclude(slot, HealthResult::kTimeout, 0, now_us);
      } else if (p.conn.state != tcp::TcpState::kClosed && p.conn.state != tcp::TcpState::kTimeWait) {
        Ep(p).Abort();  // the backend did not finish the close in time
      }
    }
    Output(slot, now_us, out);  // frees the slot once its connection is over
  }
  for (uint32_t i = 0; i < targets_.size(); ++i) {
    Target& t = targets_[i];
    if (t.next_probe_us > now_us) continue;
    // Fixed cadence from the schedule, not from now: a late pass does not drift it
    // (but never schedules into the past twice).
    const uint64_t interval_us = uint64_t(t.interval_ms) * kUsPerMs;
    t.next_probe_us = std::max(t.next_probe_us + interval_us, now_us + interval_us / 2);
    if (t.probe != kNone) continue;  // the last one still runs (timeout <= interval: rare)
    Start(i, now_us, out);
  }
}

uint64_t HealthChecker::NextDeadline() const noexcept {
  uint64_t d = tcp::kNoDeadline;
  for (const Target& t : targets_) d = std::min(d, t.next_probe_us);
  for (const Probe& p : probes_) {
    if (p.phase == Phase::kFree) continue;
    d = std::min(d, p.deadline_us);
    if (p.conn.state != tcp::TcpState::kClosed) {
      d = std::min({d, p.conn.rtx_deadline_us, p.conn.delack_deadline_us, p.conn.persist_deadline_us,
                    p.conn.keepalive_deadline_us, p.conn.timewait_deadline_us, p.conn.tlp_deadline_us});
    }
  }
  return d;
}

}  // namespace baton::dp::lb
