// Logging: one named spdlog logger per component, short messages with key=value fields.
// Never log message bodies, passwords or tokens.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace sparrow::common {

// Returns the logger for `component` ("bridge", "store", ...), creating it on first use.
// Every logger writes to stderr with a timestamp, the level and the component name.
// Thread-safe.
std::shared_ptr<spdlog::logger> Logger(const std::string& component);

// Sets the level of every Sparrow logger ("trace", "debug", "info", "warn", "error", "off").
// Throws ConfigError on an unknown level.
void SetLogLevel(const std::string& level);

}  // namespace sparrow::common
