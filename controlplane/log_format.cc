#include "controlplane/log_format.h"

#include <time.h>

#include <array>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace baton::cp {
namespace {

std::string Ipv4Text(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xff) + "." + std::to_string((ip >> 8) & 0xff) +
         "." + std::to_string(ip & 0xff);
}

std::string Rfc3339(uint64_t unix_us) {
  const time_t secs = time_t(unix_us / 1'000'000);
  tm utc{};
  gmtime_r(&secs, &utc);
  std::array<char, 96> buf{};  // ints of any size fit: no truncation warning
  std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, unsigned(unix_us % 1'000'000));
  return buf.data();
}

}  // namespace

std::string LogLine(const dp::LogRecord& r) {
  // nlohmann::ordered_json keeps the order: time, level, worker, event, fields.
  nlohmann::ordered_json j;
  j["time"] = Rfc3339(r.time_us);
  j["level"] = dp::Idx(r.level) < dp::kLogLevelKey.size() ? dp::kLogLevelKey[dp::Idx(r.level)] : "unknown";
  j["worker"] = r.worker;
  j["event"] = dp::Idx(r.event) < dp::kLogEventKey.size() ? dp::kLogEventKey[dp::Idx(r.event)] : "unknown";
  for (uint8_t i = 0; i < r.field_count && i < r.fields.size(); ++i) {
    const dp::LogField& f = r.fields[i];
    if (f.key == nullptr) continue;
    using K = dp::LogField::Kind;
    switch (f.kind) {
      case K::kUint:
        j[f.key] = f.value;
        break;
      case K::kInt:
        j[f.key] = int64_t(f.value);
        break;
      case K::kText:
        j[f.key] = f.text != nullptr ? f.text : "";
        break;
      case K::kIpv4:
        j[f.key] = Ipv4Text(uint32_t(f.value));
        break;
      case K::kIpv4Port:
        j[f.key] = Ipv4Text(uint32_t(f.value >> 16)) + ":" + std::to_string(f.value & 0xffff);
        break;
      case K::kNone:
        break;
    }
  }
  // Replace, not throw, on invalid UTF-8 in a text field.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace baton::cp
