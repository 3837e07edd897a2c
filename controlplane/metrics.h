// Counters as Prometheus text (exposition format 0.0.4). Pure: a StatsSnapshot in, the
// page out; metrics_http.h serves it. Families and labels are listed in docs/API.md.
#pragma once

#include <string>
#include <string_view>

#include "dataplane/api/stats.h"

namespace baton::cp {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string EscapeLabelValue(std::string_view v);
// A HELP text: backslash and newline escaped (quotes stay as they are).
std::string EscapeHelp(std::string_view v);

// Every family has # HELP and # TYPE lines, even when it has no samples.
std::string MetricsText(const dp::StatsSnapshot& stats, std::string_view version);

}  // namespace baton::cp
