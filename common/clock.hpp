// Time as an injected dependency, so that timers (retransmission, reorder bounds, rate limits)
// can be tested by advancing a ManualClock instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace sparrow::common {

using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time for timeouts and intervals.
  virtual SteadyTime Now() const = 0;
  // Wall-clock time in milliseconds since the Unix epoch (timestamps on the wire, in the store).
  virtual std::int64_t WallMillis() const = 0;
};

// The real clocks. Thread-safe.
class SystemClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  std::int64_t WallMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // A process-wide instance for main() to inject; never read it from library code.
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

}  // namespace sparrow::common
