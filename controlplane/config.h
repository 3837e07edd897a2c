// Config file (TOML) -> validated, immutable dp::ConfigSnapshot.
#pragma once

#include <stdexcept>
#include <string>

#include "dataplane/api/config.h"

namespace baton::cp {

// Thrown by LoadConfig; what() is one line per problem, each of the form
//   FILE:LINE: KEY: got VALUE, expected WHAT
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads, parses and validates the file. Only control-plane config loading may throw.
dp::ConfigSnapshot LoadConfig(const std::string& path);

// The same for TOML text in memory; `origin` names it in messages.
dp::ConfigSnapshot ParseConfig(const std::string& text, const std::string& origin);

}  // namespace baton::cp
