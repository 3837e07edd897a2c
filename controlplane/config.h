// Config file (TOML) -> validated, immutable dp::ConfigSnapshot.
#pragma once

#include <stdexcept>
#include <string>

#include "dataplane/api/config.h"

namespace baton::cp {

// Thrown by LoadConfig and ParseConfig; what() is one line per problem (joined by '\n',
// no trailing newline), in line order, each of the form
//   FILE:LINE: KEY: got VALUE, expected WHAT
// except for a TOML syntax error ("FILE:LINE: syntax error: REASON", alone) and an
// unreadable file ("FILE: cannot read: REASON"). docs/CONFIG.md has the schema.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads, parses and validates the file. Only control-plane config loading may throw.
// The snapshot's source is `path`; its generation is 0 (the publisher sets it).
dp::ConfigSnapshot LoadConfig(const std::string& path);

// The same for TOML text in memory; `origin` names it in messages.
dp::ConfigSnapshot ParseConfig(const std::string& text, const std::string& origin);

}  // namespace baton::cp
