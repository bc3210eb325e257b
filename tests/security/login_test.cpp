// Brute-force logins against the real REST service over TCP, from several client addresses
// (RestProbe binds 127.0.0.x): an attacking address is throttled (429 with Retry-After) after a
// handful of failures, even when it then guesses right; many addresses slow the account down
// for new addresses only; the real user, from the address she logs in from, still gets in at
// once. Unit counterparts: LoginRateLimiterTest (authsvc/rate_limiter_test.cpp), ApiTest.
#include <gtest/gtest.h>

#include <string>

#include "testing/stack/stack.hpp"
#include "tests/security/rest_probe.hpp"
#include "tests/security/security_support.hpp"

namespace sparrow::security {
namespace {

using testing::SparrowStack;

constexpr const char* kPassword = "the-real-password-1";

HttpReply TryLogin(const RestProbe& from, const std::string& user, const std::string& password) {
  return from.Post("/api/v1/login", {{"userId", user}, {"password", password}});
}

// Sends wrong passwords from `from` until a 429; returns how many 401s came before it (-1 if
// no 429 came within `limit` attempts).
int FailuresUntilThrottled(const RestProbe& from, const std::string& user, int limit) {
  for (int i = 0; i < limit; ++i) {
    const HttpReply reply = TryLogin(from, user, "wrong-guess-" + std::to_string(i));
    if (reply.status == 429) {
      EXPECT_FALSE(reply.Header("Retry-After").empty());
      EXPECT_GE(std::stoi("0" + reply.Header("Retry-After")), 1);
      EXPECT_EQ(reply.Json().value("error", ""), "rate_limited");
      return i;
    }
    EXPECT_EQ(reply.status, 401) << reply.body;
  }
  return -1;
}

// The value of the metric line that starts with `prefix` (0 if absent).
double Metric(const std::string& metrics, const std::string& prefix) {
  const auto at = metrics.find("\n" + prefix);
  if (at == std::string::npos) return 0;
  const auto space = metrics.find(' ', at + 1 + prefix.size());
  return std::stod(metrics.substr(space + 1, metrics.find('\n', space) - space - 1));
}

TEST(SecurityLoginTest, BruteForceIsThrottledAndTheRealUserStillLogsIn) {
  SparrowStack stack(BrokerOnly(/*authsvc=*/true));
  StartStack(stack, true);
  const RestProbe home(stack.http_port(), "127.0.0.1");  // the real user's usual address
  ASSERT_EQ(home.Register("alice", kPassword), 201);
  ASSERT_TRUE(home.Login("alice", kPassword).has_value());  // makes 127.0.0.1 trusted for alice
  const RestProbe probe_source(stack.http_port(), "127.0.0.2");
  ASSERT_EQ(TryLogin(probe_source, "alice", "x-wrong-pass").status, 401)
      << "binding 127.0.0.2 failed? " << TryLogin(probe_source, "alice", "x").body;

  // One attacking address: 5 failures per (user, address), then 429; the right password from
  // that address is throttled too (the gate comes before the hash).
  const RestProbe attacker(stack.http_port(), "127.0.0.3");
  EXPECT_EQ(FailuresUntilThrottled(attacker, "alice", 20), 5);
  EXPECT_EQ(TryLogin(attacker, "alice", kPassword).status, 429);
  // The real user is not slowed down at all.
  const HttpReply real = TryLogin(home, "alice", kPassword);
  EXPECT_EQ(real.status, 200) << real.body;

  // Many addresses (a distributed guess): the account closes to new addresses after 10
  // failures in all, but not to the address the user logs in from.
  int failures = 1 + 5;  // 127.0.0.2 and 127.0.0.3 above
  int throttled_at = -1;
  for (int host = 10; host < 30 && throttled_at < 0; ++host) {
    const RestProbe bot(stack.http_port(), "127.0.0." + std::to_string(host));
    for (int i = 0; i < 2; ++i) {
      const HttpReply reply = TryLogin(bot, "alice", "bot-guess-" + std::to_string(i));
      if (reply.status == 429) {
        throttled_at = failures;
        break;
      }
      ASSERT_EQ(reply.status, 401) << reply.body;
      ++failures;
    }
  }
  EXPECT_EQ(throttled_at, 10);
  const RestProbe newcomer(stack.http_port(), "127.0.0.100");
  EXPECT_EQ(TryLogin(newcomer, "alice", kPassword).status, 429);
  EXPECT_EQ(TryLogin(home, "alice", kPassword).status, 200);

  // One address spraying many accounts: 20 failures in all, then 429 for any userId.
  const RestProbe sprayer(stack.http_port(), "127.0.0.200");
  int sprayed = 0;
  for (; sprayed < 40; ++sprayed) {
    const HttpReply reply = TryLogin(sprayer, "user" + std::to_string(sprayed), "guess-1234");
    if (reply.status == 429) break;
    ASSERT_EQ(reply.status, 401) << reply.body;
  }
  EXPECT_EQ(sprayed, 20);
  // Successful registrations are not limited by the login buckets.
  EXPECT_EQ(sprayer.Register("carol", "carol-password-1"), 201);
  EXPECT_TRUE(home.Login("carol", "carol-password-1").has_value());

  const std::string metrics = home.Get("/metrics").body;
  EXPECT_GE(Metric(metrics, "sparrow_authsvc_login_throttled_total{scope=\"pair\"}"), 1) << metrics;
  EXPECT_GE(Metric(metrics, "sparrow_authsvc_login_throttled_total{scope=\"account\"}"), 1);
  EXPECT_GE(Metric(metrics, "sparrow_authsvc_login_throttled_total{scope=\"address\"}"), 1);
  EXPECT_GE(Metric(metrics, "sparrow_authsvc_login_failures_total"), failures + 20);
}

}  // namespace
}  // namespace sparrow::security
