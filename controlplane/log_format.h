// Data-plane log records (dataplane/api/log.h) as JSON lines: one object a line with
// time (RFC 3339, UTC, microseconds), level, worker, event, then the record's fields.
#pragma once

#include <string>

#include "dataplane/api/log.h"

namespace baton::cp {

std::string LogLine(const dp::LogRecord& record);

}  // namespace baton::cp
