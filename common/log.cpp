#include "common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

#include "common/error.hpp"

namespace sparrow::common {
namespace {

std::mutex& Mutex() {
  static std::mutex mutex;
  return mutex;
}

spdlog::level::level_enum& CurrentLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}

}  // namespace

std::shared_ptr<spdlog::logger> Logger(const std::string& component) {
  std::lock_guard<std::mutex> lock(Mutex());
  if (auto existing = spdlog::get(component)) return existing;
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(component, sink);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
  logger->set_level(CurrentLevel());
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

void SetLogLevel(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw ConfigError("--log-level: unknown level '" + level +
                      "' (trace, debug, info, warn, error, off)");
  }
  std::lock_guard<std::mutex> lock(Mutex());
  CurrentLevel() = parsed;
  spdlog::set_level(parsed);
}

}  // namespace sparrow::common
