// A Clock that moves only when a test advances it. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>

#include "common/clock.hpp"

namespace sparrow::testing {

class ManualClock final : public common::Clock {
 public:
  explicit ManualClock(std::int64_t wall_millis = 1764430000000) : wall_millis_(wall_millis) {}

  common::SteadyTime Now() const override {
    return common::SteadyTime(std::chrono::milliseconds(elapsed_ms_.load()));
  }
  std::int64_t WallMillis() const override { return wall_millis_ + elapsed_ms_.load(); }

  void Advance(std::chrono::milliseconds by) { elapsed_ms_ += by.count(); }

 private:
  const std::int64_t wall_millis_;
  std::atomic<std::int64_t> elapsed_ms_{0};
};

}  // namespace sparrow::testing
