// Stats as JSON (for tools and tests) and as a short human-readable report.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "dataplane/api/config.h"
#include "dataplane/api/stats.h"

namespace baton::cp {

nlohmann::json StatsToJson(const dp::StatsSnapshot& stats);

// One latency histogram summed over the workers.
dp::LatencyHistogram TotalLatency(const dp::StatsSnapshot& stats, dp::Latency which);
// A latency for people: "850 us", "12.3 ms", "1.25 s".
std::string FormatUs(uint64_t us);

// The inverse, for `baton ctl` (which gets StatsToJson over the API socket). Missing
// keys read as zero; unknown keys are ignored; throws nlohmann::json::exception when a
// value has the wrong type. tcp_drops come back in key order.
dp::StatsSnapshot StatsFromJson(const nlohmann::json& j);

// A few lines per port and per worker, and one latency line; drops listed by reason,
// zeros left out.
std::string StatsReport(const dp::StatsSnapshot& stats);

// Writes JSON to `path` atomically (temporary file + rename). False on error.
bool WriteStatsFile(const std::string& path, const dp::StatsSnapshot& stats);

}  // namespace baton::cp
