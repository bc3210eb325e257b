// Failures of Sparrow's own infrastructure (a database that went away, a bad config file).
// Untrusted input never throws: decoders return values. These are caught only at boundaries:
// the per-frame loop of a service, the per-request HTTP handler, plugin entry points and main.
#pragma once

#include <stdexcept>
#include <string>

namespace sparrow::common {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A setting is missing or invalid; the message names the option.
class ConfigError : public Error {
 public:
  using Error::Error;
};

}  // namespace sparrow::common
