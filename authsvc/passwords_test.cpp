#include "authsvc/passwords.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "testing/mqtt/wait.hpp"

namespace sparrow::authsvc {
namespace {

TEST(PasswordPolicyTest, CountsCharactersNotBytesAndCapsBytes) {
  EXPECT_EQ(CheckNewPassword(""), PasswordProblem::kTooShort);
  EXPECT_EQ(CheckNewPassword("1234567"), PasswordProblem::kTooShort);
  EXPECT_EQ(CheckNewPassword("12345678"), PasswordProblem::kNone);
  EXPECT_EQ(CheckNewPassword("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"),
            PasswordProblem::kTooShort);
  EXPECT_EQ(CheckNewPassword("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"),
            PasswordProblem::kNone);
  EXPECT_EQ(
      CheckNewPassword("\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600"),
      PasswordProblem::kTooShort);  // 7 four-byte characters
  EXPECT_EQ(CheckNewPassword(std::string(1024, 'x')), PasswordProblem::kNone);
  EXPECT_EQ(CheckNewPassword(std::string(1025, 'x')), PasswordProblem::kTooLong);
  EXPECT_EQ(CheckNewPassword(std::string("1234\0"
                                         "5678",
                                         9)),
            PasswordProblem::kNone);
}

TEST(HasherOptionsTest, RefusesCostsBelowTheFloorNamingTheFlag) {
  EXPECT_NO_THROW(HasherOptions{}.Validate());
  try {
    HasherOptions{.memory_kib = 19455}.Validate();
    FAIL();
  } catch (const common::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--argon2-memory-kib"), std::string::npos);
  }
  EXPECT_THROW(HasherOptions{.passes = 1}.Validate(), common::ConfigError);
  EXPECT_THROW(HasherOptions{.max_concurrent = 0}.Validate(), common::ConfigError);
  EXPECT_NO_THROW((HasherOptions{.memory_kib = 64, .passes = 1, .allow_weak = true}.Validate()));
}

TEST(PasswordHasherTest, HashesWithArgon2idAtTheConfiguredCostAndVerifies) {
  PasswordHasher hasher(HasherOptions{});
  const auto hash = hasher.Hash("correct horse");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *hash;
  EXPECT_EQ(hasher.Verify(*hash, "correct horse"), VerifyResult::kMatch);
  EXPECT_EQ(hasher.Verify(*hash, "correct horsE"), VerifyResult::kMismatch);
  EXPECT_EQ(hasher.Verify("not a hash", "correct horse"), VerifyResult::kMismatch);
  EXPECT_NE(*hasher.Hash("correct horse"), *hash);  // salted
  EXPECT_FALSE(hasher.NeedsRehash(*hash));
}

TEST(PasswordHasherTest, AnUnknownUserCostsOneHashAndNeverMatches) {
  PasswordHasher hasher(HasherOptions{});
  EXPECT_EQ(hasher.hashes_computed(), 0u);  // the dummy made at construction is not counted
  EXPECT_EQ(hasher.VerifyUnknownUser("anything"), VerifyResult::kMismatch);
  EXPECT_EQ(hasher.VerifyUnknownUser(""), VerifyResult::kMismatch);
  EXPECT_EQ(hasher.hashes_computed(), 2u);
}

TEST(PasswordHasherTest, WeakerHashesNeedARehash) {
  PasswordHasher weak(HasherOptions{.memory_kib = 8192, .passes = 1, .allow_weak = true});
  PasswordHasher strong(HasherOptions{});
  const auto hash = weak.Hash("password");
  ASSERT_TRUE(hash);
  EXPECT_TRUE(strong.NeedsRehash(*hash));
  EXPECT_EQ(strong.Verify(*hash, "password"), VerifyResult::kMatch);  // still verifies
}

TEST(PasswordHasherTest, NeverRunsMoreHashesAtOnceThanItsBound) {
  PasswordHasher hasher(HasherOptions{.max_concurrent = 2, .max_waiting = 64});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&] {
      if (hasher.Hash("password")) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 12);
  EXPECT_LE(hasher.peak_concurrent(), 2);
  EXPECT_GE(hasher.peak_concurrent(), 1);
  EXPECT_EQ(hasher.running(), 0);
}

TEST(PasswordHasherTest, RefusesAtOnceWhenTheWaitingRoomIsFull) {
  // A deliberately slow hash holds the only slot; with no waiting room the next caller is
  // refused without waiting.
  PasswordHasher hasher(
      HasherOptions{.memory_kib = 256 * 1024, .passes = 4, .max_concurrent = 1, .max_waiting = 0});
  std::thread slow([&] { (void)hasher.Hash("password"); });
  ASSERT_TRUE(testing::WaitUntil([&] { return hasher.running() == 1; }, std::chrono::seconds(10),
                                 std::chrono::milliseconds(1)));
  EXPECT_FALSE(hasher.Hash("password"));
  EXPECT_EQ(hasher.Verify("$argon2id$x", "password"), VerifyResult::kBusy);
  EXPECT_EQ(hasher.VerifyUnknownUser("password"), VerifyResult::kBusy);
  slow.join();
  EXPECT_TRUE(hasher.Hash("password"));
}

TEST(PasswordHasherTest, AWaiterGivesUpAfterMaxWait) {
  PasswordHasher hasher(HasherOptions{.memory_kib = 256 * 1024,
                                      .passes = 4,
                                      .max_concurrent = 1,
                                      .max_waiting = 4,
                                      .max_wait = std::chrono::milliseconds(1)});
  std::thread slow([&] { (void)hasher.Hash("password"); });
  ASSERT_TRUE(testing::WaitUntil([&] { return hasher.running() == 1; }, std::chrono::seconds(10),
                                 std::chrono::milliseconds(1)));
  EXPECT_FALSE(hasher.Hash("password"));
  slow.join();
}

}  // namespace
}  // namespace sparrow::authsvc
