// Data-plane log records: fixed-size, trivially copyable, made by workers without
// allocating (dataplane/worker_log.h puts them in a per-worker ring behind a token
// bucket) and written by the main lcore as one JSON object a line (controlplane/
// log_format.h). Add an event: a LogEvent and its key; fields are free-form.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "dataplane/api/stats.h"

namespace baton::dp {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError, kCount };
inline constexpr std::array<std::string_view, Idx(LogLevel::kCount)> kLogLevelKey = {"debug", "info", "warn",
                                                                                      "error"};
inline std::optional<LogLevel> ParseLogLevel(std::string_view s) noexcept {
  for (size_t i = 0; i < kLogLevelKey.size(); ++i)
    if (kLogLevelKey[i] == s) return LogLevel(i);
  return std::nullopt;
}

enum class LogEvent : uint8_t {
  kLogSuppressed,          // the worker's token bucket or ring dropped records: field count
  kBackendDown,            // health: pool, backend, reason (kHealthResultKey), http_status
  kBackendUp,              // health: pool, backend
  kHealthChecksStarted,    // worker 0: backends, probe_ports
  kWorkerAdoptedSessions,  // a take-over's scan finished: sessions, from_worker
  kWorkerHalted,           // the worker stops on request (baton ctl worker halt)
  kWorkerStalled,          // declared stalled: worker, taken_over_by
  kCount
};
inline constexpr std::array<std::string_view, Idx(LogEvent::kCount)> kLogEventKey = {
    "log_suppressed", "backend_down", "backend_up", "health_checks_started", "worker_adopted_sessions",
    "worker_halted", "worker_stalled",
};
static_assert(!kLogEventKey.back().empty(), "a LogEvent lacks its key");

// One key = value. Keys and texts must be string literals or strings that outlive the
// data plane (pool names in the started config): records cross threads as plain bytes.
struct LogField {
  enum class Kind : uint8_t { kNone, kUint, kInt, kText, kIpv4, kIpv4Port };
  const char* key = nullptr;
  Kind kind = Kind::kNone;
  uint64_t value = 0;          // kUint; kInt as two's complement; kIpv4 host order; kIpv4Port ip << 16 | port
  const char* text = nullptr;  // kText

  static constexpr LogField Uint(const char* k, uint64_t v) noexcept { return {k, Kind::kUint, v, nullptr}; }
  static constexpr LogField Int(const char* k, int64_t v) noexcept { return {k, Kind::kInt, uint64_t(v), nullptr}; }
  static constexpr LogField Text(const char* k, const char* t) noexcept { return {k, Kind::kText, 0, t}; }
  static constexpr LogField Ipv4(const char* k, uint32_t ip) noexcept { return {k, Kind::kIpv4, ip, nullptr}; }
  static constexpr LogField Ipv4Port(const char* k, uint32_t ip, uint16_t port) noexcept {
    return {k, Kind::kIpv4Port, uint64_t(ip) << 16 | port, nullptr};
  }
};

inline constexpr size_t kLogMaxFields = 6;

struct LogRecord {
  uint64_t time_us = 0;  // Unix time in microseconds once drained (DrainLogs)
  uint16_t worker = 0;
  LogLevel level = LogLevel::kInfo;
  LogEvent event = LogEvent::kLogSuppressed;
  uint8_t field_count = 0;
  std::array<LogField, kLogMaxFields> fields{};
};
static_assert(std::is_trivially_copyable_v<LogRecord>);

}  // namespace baton::dp
