#include "authsvc/rate_limiter.hpp"

#include <gtest/gtest.h>

#include "testing/manual_clock.hpp"

namespace sparrow::authsvc {
namespace {

using std::chrono::seconds;

class LoginRateLimiterTest : public ::testing::Test {
 protected:
  // One failed attempt, if the limiter lets it through; returns whether it did.
  bool Fail(const std::string& account, const std::string& address) {
    if (!limiter_.Check(account, address).allowed()) return false;
    limiter_.RecordFailure(account, address);
    return true;
  }
  bool Succeed(const std::string& account, const std::string& address) {
    if (!limiter_.Check(account, address).allowed()) return false;
    limiter_.RecordSuccess(account, address);
    return true;
  }
  testing::ManualClock clock_;
  LoginRateLimiter limiter_{clock_};
};

TEST_F(LoginRateLimiterTest, FivePairFailuresThenOnePerMinute) {
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Fail("alice", "10.0.0.1"));
  const GateDecision refused = limiter_.Check("alice", "10.0.0.1");
  EXPECT_EQ(refused.gate, LoginGate::kThrottledPair);
  EXPECT_EQ(refused.retry_after, seconds(60));
  clock_.Advance(seconds(30));
  EXPECT_EQ(limiter_.Check("alice", "10.0.0.1").retry_after, seconds(30));
  clock_.Advance(seconds(30));
  EXPECT_TRUE(Fail("alice", "10.0.0.1"));
  EXPECT_FALSE(Fail("alice", "10.0.0.1"));
}

TEST_F(LoginRateLimiterTest, RefusedAttemptsDoNotDeepenTheHole) {
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Fail("alice", "10.0.0.1"));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(Fail("alice", "10.0.0.1"));
  clock_.Advance(seconds(60));
  EXPECT_TRUE(Fail("alice", "10.0.0.1"));
}

TEST_F(LoginRateLimiterTest, ConcurrentFailuresAreAPaidBackDebt) {
  // Ten attempts let through together (all checked before any failed) leave the pair five
  // tokens in debt: the next attempt waits six minutes, not one.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(limiter_.Check("alice", "10.0.0.1").allowed());
  for (int i = 0; i < 10; ++i) limiter_.RecordFailure("alice", "10.0.0.1");
  EXPECT_EQ(limiter_.Check("alice", "10.0.0.1").retry_after, seconds(360));
  clock_.Advance(seconds(359));
  EXPECT_FALSE(limiter_.Check("alice", "10.0.0.1").allowed());
  clock_.Advance(seconds(1));
  EXPECT_TRUE(limiter_.Check("alice", "10.0.0.1").allowed());
}

TEST_F(LoginRateLimiterTest, SuccessesAreNeverLimited) {
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(Succeed("alice", "10.0.0.1")) << i;
  // Many users behind one address logging in successfully are never limited.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(Succeed("user" + std::to_string(i), "10.0.0.1")) << i;
  EXPECT_EQ(limiter_.entries(), 1001u);  // the trusted pairs; no bucket
}

TEST_F(LoginRateLimiterTest, ASuccessForgetsThePairsFailures) {
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Fail("alice", "10.0.0.1"));  // typos
  EXPECT_TRUE(Succeed("alice", "10.0.0.1"));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Fail("alice", "10.0.0.1"));
}

TEST_F(LoginRateLimiterTest, TwentyFailuresFromOneAddressBlockEveryAccountFromIt) {
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(Fail("user" + std::to_string(i % 4), "10.0.0.1"));
  const GateDecision refused = limiter_.Check("someone", "10.0.0.1");
  EXPECT_EQ(refused.gate, LoginGate::kThrottledAddress);
  EXPECT_EQ(refused.retry_after, seconds(30));
  EXPECT_TRUE(Fail("someone", "10.0.0.2"));
}

TEST_F(LoginRateLimiterTest, TheRealUserLogsInWhileOneAddressHammersTheAccount) {
  for (int i = 0; i < 1000; ++i) (void)Fail("alice", "10.6.6.6");
  EXPECT_TRUE(Succeed("alice", "192.0.2.1"));
}

TEST_F(LoginRateLimiterTest, ManyAddressesExhaustTheAccountWhichRefillsSlowly) {
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Fail("alice", "10.0.0." + std::to_string(i)));
  const GateDecision refused = limiter_.Check("alice", "10.0.1.1");
  EXPECT_EQ(refused.gate, LoginGate::kThrottledAccount);
  EXPECT_EQ(refused.retry_after, seconds(10));
  clock_.Advance(seconds(10));
  EXPECT_TRUE(Fail("alice", "10.0.1.1"));  // slow, but never stopped
  EXPECT_FALSE(Fail("alice", "10.0.1.2"));
  EXPECT_TRUE(Fail("bob", "10.0.1.2"));  // other accounts are not affected
}

TEST_F(LoginRateLimiterTest, AnAddressThatLoggedInBeforeSkipsTheAccountBucket) {
  EXPECT_TRUE(Succeed("alice", "192.0.2.1"));
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Fail("alice", "10.0.0." + std::to_string(i)));
  EXPECT_FALSE(Fail("alice", "10.0.1.1"));
  EXPECT_TRUE(limiter_.Check("alice", "192.0.2.1").allowed());
  // Its own typos do not use up the account's bucket either.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Fail("alice", "192.0.2.1"));
  EXPECT_TRUE(Succeed("alice", "192.0.2.1"));
  // The trust lasts 30 days.
  clock_.Advance(std::chrono::hours(24 * 30) + seconds(1));
  for (int i = 0; i < 10; ++i) (void)Fail("alice", "10.0.2." + std::to_string(i));
  EXPECT_EQ(limiter_.Check("alice", "192.0.2.1").gate, LoginGate::kThrottledAccount);
}

TEST_F(LoginRateLimiterTest, MemoryStaysBoundedUnderManyAddresses) {
  LoginRateLimiter limiter(clock_, LoginLimits{.max_entries = 50});
  for (int i = 0; i < 5000; ++i) {
    const std::string user = "user" + std::to_string(i % 7);
    const std::string address = "10.0." + std::to_string(i);
    limiter.RecordFailure(user, address);
    if (i % 3 == 0) limiter.RecordSuccess(user, address);
  }
  EXPECT_LE(limiter.entries(), 200u);
}

TEST_F(LoginRateLimiterTest, FullBucketsAreForgotten) {
  for (int i = 0; i < 100; ++i)
    (void)Fail("user" + std::to_string(i), "10.0.0." + std::to_string(i));
  EXPECT_EQ(limiter_.entries(), 300u);
  clock_.Advance(std::chrono::minutes(10));
  (void)Fail("x", "y");               // the periodic prune runs first
  EXPECT_EQ(limiter_.entries(), 3u);  // x's three buckets only
}

}  // namespace
}  // namespace sparrow::authsvc
