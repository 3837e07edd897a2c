// Active health checks of backends ([pool.health], docs/CONFIG.md), sans-IO: TCP
// segments and time in, segments out through a ProbeSink, a deadline back. Runs on
// worker 0 (dataplane/health_runner.h publishes what it finds to every worker).
//
// A probe is a TCP connection of our own stack (TcpEndpoint, as the proxy's backend
// connections) from the back port's address and one of a few probe ports reserved out
// of the sessions' SNAT range (ReserveProbePorts). It succeeds when the connection is
// established or, with http_path, when an HTTP/1.0 GET is answered with a 2xx or 3xx
// status line, all within timeout_ms. Then it closes politely (FIN); a failed probe
// ends with a RST. `fall` failures in a row mark an up backend down, `rise` successes
// in a row mark a down backend up. Passive marking (real sessions failing to connect,
// lb::Pool::TakePassiveDown) marks a backend down at once; only probes bring it back.
//
// Probe ports are reused safely: each slot owns one port; a slot goes back to the end
// of a FIFO when its connection is over (CLOSED, or TIME-WAIT, which a short linger cap
// ends), so a port is taken again only after every other free port, and its next SYN
// has a later RFC 6528 ISN. A segment for a port with no live probe, or from another
// address than the probe's backend, gets a RST (RFC 9293 3.10.7.1) and nothing else.
//
// Everything is sized in the constructor (control path); Input and Advance never
// allocate and never throw.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dataplane/api/config.h"
#include "dataplane/api/stats.h"
#include "dataplane/lb/pool.h"
#include "dataplane/tcp/connection.h"
#include "dataplane/tcp/isn.h"

namespace baton::dp::lb {

inline constexpr uint16_t kMaxProbePorts = 64;

// Source ports of probes: [first, first + count).
struct ProbePorts {
  uint16_t first = 0;
  uint16_t count = 0;
  bool Contains(uint16_t port) const noexcept { return count != 0 && port >= first && port - first < count; }
};

// When a pool has [pool.health], takes the top kMaxProbePorts ports (half the range
// when it has fewer than 2 * kMaxProbePorts) out of config.tcp's SNAT range and returns
// them; otherwise changes nothing and returns an empty range. Control path.
ProbePorts ReserveProbePorts(ConfigSnapshot& config) noexcept;

// Where probes' segments go: the caller frames them from the back port's address to
// `dst_ip` (host order). The bytes are a TCP segment with a zero checksum.
class ProbeSink {
 public:
  virtual void Emit(uint32_t dst_ip, std::span<const uint8_t> segment) noexcept = 0;

 protected:
  ~ProbeSink() = default;
};

// A backend changed health.
struct HealthChange {
  uint16_t pool = 0;
  uint16_t backend = 0;
  uint32_t flat = 0;                          // index over all pools' backends, config order
  bool up = false;
  HealthResult reason = HealthResult::kOk;    // what decided it (kOk when it came up)
  uint16_t http_status = 0;                   // with kHttpStatus
  uint32_t address = 0;                       // host order
  uint16_t port = 0;
};

class HealthEvents {
 public:
  virtual void OnHealthChange(const HealthChange& change) noexcept = 0;

 protected:
  ~HealthEvents() = default;
};

// Per backend, what the checker knows (plain data; the runner publishes it).
struct BackendHealth {
  bool checked = false;  // its pool has [pool.health]
  bool up = true;        // every backend starts up, like the pools
  uint8_t good_in_a_row = 0, bad_in_a_row = 0;
  HealthResult down_reason = HealthResult::kOk;
  uint16_t last_http_status = 0;
  uint64_t transitions = 0;
  std::array<uint64_t, Idx(HealthResult::kCount)> checks{};
};

class HealthChecker {
 public:
  // `local_ip`: the back port's address (host order); `tcp`: the probes' TCP settings
  // (the proxy's backend settings suit). Probes start staggered over each interval.
  HealthChecker(std::span<const PoolConfig> pools, uint32_t local_ip, ProbePorts ports,
                const tcp::TcpConfig& tcp, const tcp::IsnKey& isn_key, uint64_t now_us,
                HealthEvents* events = nullptr);

  // Is a segment to this local port (on the back port's address) the checker's?
  bool Owns(uint16_t dst_port) const noexcept { return ports_.Contains(dst_port); }
  // One TCP segment from `src_ip` (host order) to one of our probe ports.
  void Input(uint32_t src_ip, std::span<const uint8_t> segment, uint64_t now_us, ProbeSink& out) noexcept;
  // Starts due probes, fires timers and probe timeouts, sends what is due.
  void Advance(uint64_t now_us, ProbeSink& out) noexcept;
  // The earliest time Advance() has something to do.
  uint64_t NextDeadline() const noexcept;
  // Passive marking: these backends of `pool` failed real sessions; each that is up
  // goes down now (reason kPassive) and needs `rise` good probes to come back.
  void MarkPassiveDown(uint16_t pool, BackendMask backends) noexcept;

  uint32_t BackendCount() const noexcept { return uint32_t(health_.size()); }
  const BackendHealth& Health(uint32_t flat) const noexcept { return health_[flat]; }
  // Flat index of a pool's first backend.
  uint32_t FlatIndex(uint16_t pool, uint16_t backend) const noexcept { return pool_first_[pool] + backend; }
  // Probes that could not start for want of a free probe port (retried next interval).
  uint64_t SkippedForTest() const noexcept { return skipped_; }
  uint32_t ActiveProbesForTest() const noexcept;

 private:
  enum class Phase : uint8_t { kFree, kConnecting, kExpectStatusLine, kClosing };
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr size_t kSendBytes = 512;        // the GET request
  static constexpr size_t kReceiveBytes = 2048;    // reads as it comes; a window's worth
  static constexpr size_t kStatusLineBytes = 128;  // longer: kBadResponse

  struct Target {
    uint32_t address = 0;
    uint16_t port = 0;
    uint16_t pool = 0;
    uint16_t backend = 0;
    uint32_t probe = kNone;  // slot of the probe waiting for its verdict
    uint64_t next_probe_us = tcp::kNoDeadline;
    uint32_t interval_ms = 0, timeout_ms = 0;
    uint8_t rise = 1, fall = 1;
  };
  struct Probe {
    tcp::TcpConnection conn;
    std::array<uint8_t, kSendBytes> snd{};
    std::array<uint8_t, kReceiveBytes> rcv{};
    std::array<char, kStatusLineBytes> line{};
    uint16_t line_len = 0;
    Phase phase = Phase::kFree;
    uint32_t target = kNone;
    uint64_t deadline_us = tcp::kNoDeadline;  // verdict by then (or, closing, give up)
  };

  tcp::TcpEndpoint Ep(Probe& p) noexcept { return tcp::TcpEndpoint(p.conn, p.snd, p.rcv); }
  void Start(uint32_t target, uint64_t now_us, ProbeSink& out) noexcept;
  void OnEvents(uint32_t slot, uint64_t now_us) noexcept;
  void ReadStatusLine(uint32_t slot, bool peer_done, uint64_t now_us) noexcept;
  void Conclude(uint32_t slot, HealthResult result, uint16_t http_status, uint64_t now_us) noexcept;
  void Record(uint32_t target, HealthResult result, uint16_t http_status) noexcept;
  void SetUp(uint32_t target, bool up, HealthResult reason, uint16_t http_status) noexcept;
  void Output(uint32_t slot, uint64_t now_us, ProbeSink& out) noexcept;
  void FreeIfDone(uint32_t slot) noexcept;
  void SendReset(uint32_t dst_ip, const tcp::Segment& seg, ProbeSink& out) noexcept;

  uint32_t local_ip_;
  ProbePorts ports_;
  tcp::TcpConfig tcp_;
  tcp::IsnKey isn_key_;
  HealthEvents* events_;
  std::vector<uint32_t> pool_first_;
  std::vector<Target> targets_;        // one per backend of every pool, flat order
  std::vector<BackendHealth> health_;  // the same order
  std::vector<std::string> requests_;  // per backend: the GET, empty without http_path
  std::vector<Probe> probes_;          // slot i uses port ports_.first + i
  std::vector<uint32_t> free_;         // FIFO ring of free slots
  uint32_t free_head_ = 0, free_count_ = 0;
  uint64_t skipped_ = 0;
};

// The status code of an HTTP/1.x status line ("HTTP/1.1 200 OK", RFC 9112 4), without
// its CRLF; 0 when the line is not one.
uint16_t ParseStatusLine(std::string_view line) noexcept;

}  // namespace baton::dp::lb
