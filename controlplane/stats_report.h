// Stats as JSON (for tools and tests) and as a short human-readable report.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "dataplane/api/config.h"
#include "dataplane/api/stats.h"

namespace baton::cp {

nlohmann::json StatsToJson(const dp::StatsSnapshot& stats);

// A few lines per port and per worker; drops listed by reason, zeros left out.
std::string StatsReport(const dp::StatsSnapshot& stats);

// Writes JSON to `path` atomically (temporary file + rename). False on error.
bool WriteStatsFile(const std::string& path, const dp::StatsSnapshot& stats);

}  // namespace baton::cp
