#include "authsvc/revocation_refresher.hpp"

#include "common/log.hpp"

namespace sparrow::authsvc {

RevocationRefresher::RevocationRefresher(Source source, Announcer& announcer,
                                         const common::Clock& clock,
                                         std::chrono::milliseconds token_ttl,
                                         std::chrono::milliseconds period)
    : source_(std::move(source)),
      announcer_(announcer),
      clock_(clock),
      token_ttl_(token_ttl),
      period_(period) {}

RevocationRefresher::~RevocationRefresher() { Stop(); }

void RevocationRefresher::Start() {
  thread_ = std::thread([this] {
    for (;;) {
      RunOnce();
      std::unique_lock<std::mutex> lock(mutex_);
      if (stopped_.wait_for(lock, period_, [this] { return stopping_; })) return;
    }
  });
}

void RevocationRefresher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stopped_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t RevocationRefresher::RunOnce() {
  try {
    auto revoked = source_(clock_.WallMillis() - token_ttl_.count());
    for (const auto& [user, before] : revoked) announcer_.TokensRevoked(user, before);
    return revoked.size();
  } catch (const std::exception& e) {
    common::Logger("authsvc")->warn("revocation re-announcement failed err={}", e.what());
    return 0;
  }
}

}  // namespace sparrow::authsvc
