// Re-announces recent revocations to the brokers. A broker's plugin keeps revocations in
// memory only, so a broker that restarts would again accept a token revoked by a logout until
// it expires. Every `period`, the users whose token_epoch lies within the last token lifetime
// (older revocations concern expired tokens only) are announced again; the plugin ignores what
// it already knows. Thread-safe: its own thread; Stop() is idempotent.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "authsvc/announcer.hpp"
#include "common/clock.hpp"

namespace sparrow::authsvc {

class RevocationRefresher {
 public:
  // Users with token_epoch > since_ms, with their epochs (AccountStore::RevokedSince).
  using Source = std::function<std::vector<std::pair<std::string, std::int64_t>>(std::int64_t)>;

  RevocationRefresher(Source source, Announcer& announcer, const common::Clock& clock,
                      std::chrono::milliseconds token_ttl, std::chrono::milliseconds period);
  ~RevocationRefresher();

  void Start();
  void Stop();
  // One round: returns how many revocations were announced. Errors are logged, not thrown.
  std::size_t RunOnce();

 private:
  Source source_;
  Announcer& announcer_;
  const common::Clock& clock_;
  std::chrono::milliseconds token_ttl_;
  std::chrono::milliseconds period_;
  std::mutex mutex_;  // guards stopping_
  std::condition_variable stopped_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sparrow::authsvc
