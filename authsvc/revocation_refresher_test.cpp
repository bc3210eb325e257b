#include "authsvc/revocation_refresher.hpp"

#include <gtest/gtest.h>

#include "authsvc/recording_announcer.hpp"
#include "testing/manual_clock.hpp"

namespace sparrow::authsvc {
namespace {

using namespace std::chrono_literals;

TEST(RevocationRefresherTest, AnnouncesRevocationsWithinTheTokenLifetimeAgain) {
  testing::ManualClock clock(1'000'000);
  RecordingAnnouncer announcer;
  std::int64_t asked_since = -1;
  RevocationRefresher refresher(
      [&](std::int64_t since) {
        asked_since = since;
        return std::vector<std::pair<std::string, std::int64_t>>{{"alice", 999'000}};
      },
      announcer, clock, 3600s, 60s);
  EXPECT_EQ(refresher.RunOnce(), 1u);
  EXPECT_EQ(asked_since, 1'000'000 - 3'600'000);
  auto announced = announcer.Take();
  ASSERT_EQ(announced.size(), 1u);
  EXPECT_EQ(announced[0].topic, "im/sys/revoke/alice");
}

TEST(RevocationRefresherTest, StoreFailureIsLoggedNotThrown) {
  testing::ManualClock clock;
  RecordingAnnouncer announcer;
  RevocationRefresher refresher(
      [](std::int64_t) -> std::vector<std::pair<std::string, std::int64_t>> {
        throw std::runtime_error("database down");
      },
      announcer, clock, 3600s, 60s);
  EXPECT_EQ(refresher.RunOnce(), 0u);
  refresher.Start();
  refresher.Stop();
  refresher.Stop();
}

}  // namespace
}  // namespace sparrow::authsvc
