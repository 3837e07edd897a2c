// One worker's log: a single-producer single-consumer ring of fixed-size LogRecords
// (dataplane/api/log.h) behind a token bucket. The worker logs without blocking,
// allocating or a system call; the main lcore drains the ring (DrainLogs in
// dataplane/api/control.h) and writes the lines. What the bucket or a full ring drops
// is counted and reported by the next record that gets through, as a kLogSuppressed
// record with the count (HAProxy's "N messages dropped", rsyslog's ratelimit notice).
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <memory>
#include <vector>

#include "dataplane/api/log.h"

namespace baton::dp {

// Unix time in microseconds minus `now_us` (a worker clock reading taken right before):
// what turns record times into Unix times. Control path (a system call).
inline int64_t WallClockMinus(uint64_t now_us) noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000 - int64_t(now_us);
}

class WorkerLog {
 public:
  static constexpr uint32_t kDefaultCapacity = 1024;  // records; a power of two
  static constexpr uint32_t kDefaultPerSecond = 50;   // sustained records per second
  static constexpr uint32_t kDefaultBurst = 100;      // records at once after a quiet spell

  // Control path: sizes the ring once.
  explicit WorkerLog(uint16_t worker, LogLevel level = LogLevel::kInfo, uint32_t capacity = kDefaultCapacity,
                     uint32_t per_second = kDefaultPerSecond, uint32_t burst = kDefaultBurst)
      : worker_(worker),
        level_(level),
        mask_(capacity - 1),
        per_second_(per_second),
        burst_(burst),
        tokens_x1e6_(uint64_t(burst) * 1'000'000),
        slots_(std::make_unique<LogRecord[]>(capacity)) {}
  WorkerLog(const WorkerLog&) = delete;
  WorkerLog& operator=(const WorkerLog&) = delete;

  // Worker side. False when the record was below the level or dropped (counted).
  bool Log(uint64_t now_us, LogLevel level, LogEvent event, std::initializer_list<LogField> fields) noexcept {
    if (level < level_) return false;
    Refill(now_us);
    if (suppressed_ != 0 && !Report(now_us)) {
      ++suppressed_;
      return false;
    }
    if (!Take()) {
      ++suppressed_;
      return false;
    }
    LogRecord r;
    r.time_us = now_us;
    r.worker = worker_;
    r.level = level;
    r.event = event;
    for (const LogField& f : fields) {
      if (r.field_count == r.fields.size()) break;
      r.fields[r.field_count++] = f;
    }
    if (!Push(r)) {
      ++suppressed_;
      return false;
    }
    return true;
  }
  // Worker side, now and then (each loop pass is fine: one compare when nothing is owed):
  // reports suppressed records once the bucket has a token again.
  void Tick(uint64_t now_us) noexcept {
    if (suppressed_ == 0) return;
    Refill(now_us);
    (void)Report(now_us);
  }
  uint64_t SuppressedTotal() const noexcept { return suppressed_total_.load(std::memory_order_relaxed); }
  // Worker side: dropped and not reported yet.
  uint64_t SuppressedPendingForTest() const noexcept { return suppressed_; }

  // Main lcore. Appends what the worker logged since the last call; returns how many.
  size_t Drain(std::vector<LogRecord>& out) {
    // Pairs with the release store in Push(): the record's bytes are there before head.
    const uint32_t head = head_.load(std::memory_order_acquire);
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    const size_t n = head - tail;
    for (; tail != head; ++tail) out.push_back(slots_[tail & mask_]);
    // Pairs with the acquire load in Push(): the slots are read before the worker reuses them.
    tail_.store(tail, std::memory_order_release);
    return n;
  }

 private:
  void Refill(uint64_t now_us) noexcept {
    if (now_us <= last_us_) return;
    const uint64_t cap = uint64_t(burst_) * 1'000'000;
    const uint64_t add = (now_us - last_us_) * per_second_;  // tokens x 1e6
    tokens_x1e6_ = add >= cap - tokens_x1e6_ ? cap : tokens_x1e6_ + add;
    last_us_ = now_us;
  }
  bool Take() noexcept {
    if (tokens_x1e6_ < 1'000'000) return false;
    tokens_x1e6_ -= 1'000'000;
    return true;
  }
  // The kLogSuppressed record for what was dropped so far; false if it cannot go yet.
  bool Report(uint64_t now_us) noexcept {
    if (!Take()) return false;
    LogRecord r;
    r.time_us = now_us;
    r.worker = worker_;
    r.level = LogLevel::kWarn;
    r.event = LogEvent::kLogSuppressed;
    r.field_count = 1;
    r.fields[0] = LogField::Uint("count", suppressed_);
    if (!Push(r)) return false;
    suppressed_total_.store(suppressed_total_.load(std::memory_order_relaxed) + suppressed_,
                            std::memory_order_relaxed);
    suppressed_ = 0;
    return true;
  }
  bool Push(const LogRecord& r) noexcept {
    const uint32_t head = head_.load(std::memory_order_relaxed);
    // Pairs with the release store in Drain().
    if (head - tail_.load(std::memory_order_acquire) > mask_) return false;  // full
    slots_[head & mask_] = r;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  const uint16_t worker_;
  const LogLevel level_;
  const uint32_t mask_;
  const uint32_t per_second_, burst_;
  // Worker-only state.
  uint64_t tokens_x1e6_;
  uint64_t last_us_ = 0;
  uint64_t suppressed_ = 0;  // dropped since the last report
  std::unique_ptr<LogRecord[]> slots_;
  alignas(64) std::atomic<uint32_t> head_{0};  // written by the worker
  alignas(64) std::atomic<uint32_t> tail_{0};  // written by the main lcore
  std::atomic<uint64_t> suppressed_total_{0};  // reported so far, for tests and stats
};

}  // namespace baton::dp
