// Reconnect delays for the adapters: exponential with jitter, reset after a success.
// Internal to transport/. Not thread-safe: owned by one network or supervisor thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace sparrow::transport {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max)
      : min_(min), max_(max), next_(min), rng_(std::random_device{}()) {}

  // The delay before the next attempt: a random value in [d/2, d], where d starts at `min`
  // and doubles on every call up to `max`. Jitter keeps many clients of a restarted
  // broker from reconnecting in lockstep.
  std::chrono::milliseconds Next() {
    const auto d = next_;
    next_ = std::min(max_, next_ * 2);
    std::uniform_int_distribution<std::int64_t> jitter(d.count() / 2, d.count());
    return std::chrono::milliseconds(std::max<std::int64_t>(1, jitter(rng_)));
  }

  // After a successful connect: the next failure waits `min` again.
  void Reset() { next_ = min_; }

 private:
  const std::chrono::milliseconds min_;
  const std::chrono::milliseconds max_;
  std::chrono::milliseconds next_;
  std::minstd_rand rng_;
};

}  // namespace sparrow::transport
