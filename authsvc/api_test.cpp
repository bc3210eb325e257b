// The REST calls as plain functions (no HTTP): every status code of the table in
// authsvc/README.md, on a real database (SQLite in a temp dir here; MariaDB in
// authsvc_mariadb_test), with a ManualClock and a recording Announcer.
#include "authsvc/api.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "authsvc/metrics.hpp"
#include "authsvc/passwords.hpp"
#include "authsvc/rate_limiter.hpp"
#include "authsvc/recording_announcer.hpp"
#include "authsvc/sealed_keys.hpp"
#include "authsvc/store_pool.hpp"
#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/token.hpp"
#include "offline/account_store.hpp"
#include "testing/manual_clock.hpp"
#include "testing/mariadb.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::authsvc {
namespace {

using nlohmann::json;
using Announcement = RecordingAnnouncer::Announcement;

constexpr const char* kPassword = "correct horse battery";
constexpr std::int64_t kStart = 1764430000000;

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return common::HexEncode(std::string_view(reinterpret_cast<char*>(digest), length));
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(SPARROW_TEST_MARIADB)
    const auto server = testing::MariaDbDatabase::ServerUrl();
    if (!server) GTEST_SKIP() << testing::MariaDbDatabase::kSkipMessage;
    mariadb_ = std::make_unique<testing::MariaDbDatabase>(*server);
    url_ = mariadb_->url();
#else
    url_ = "sqlite:" + (dir_.path() / "sparrow.db").string();
#endif
    pool_ = std::make_unique<AccountStorePool>(
        [this] {
          return std::make_unique<offline::AccountStore>(offline::DbOptions{.url = url_}, clock_);
        },
        4);
    hasher_ = std::make_unique<PasswordHasher>(HasherOptions{}, &metrics_.hashes_in_progress());
    files_ = std::make_unique<FileStore>(dir_.path() / "files");
    MakeApi(ApiOptions{});
  }

  void MakeApi(ApiOptions options) {
    api_ = std::make_unique<Api>(ApiDeps{.accounts = *pool_,
                                         .hasher = *hasher_,
                                         .limiter = limiter_,
                                         .sealer = sealer_,
                                         .files = *files_,
                                         .signer = signer_,
                                         .verifier = verifier_,
                                         .announcer = announcer_,
                                         .clock = clock_,
                                         .metrics = &metrics_},
                                 options);
  }

  static ApiRequest Body(std::string body, std::string token = "",
                         std::string address = "192.0.2.1") {
    return ApiRequest{.method = "POST",
                      .body = std::move(body),
                      .bearer = std::move(token),
                      .client_address = std::move(address)};
  }
  static ApiRequest WithToken(std::string token) {
    return ApiRequest{.bearer = std::move(token), .client_address = "192.0.2.1"};
  }
  static ApiRequest WithUser(std::string token, std::string other) {
    ApiRequest request = WithToken(std::move(token));
    request.params["userId"] = std::move(other);
    return request;
  }
  static std::string Credentials(const std::string& user, const std::string& password) {
    return json{{"userId", user}, {"password", password}}.dump();
  }

  ApiResponse Register(const std::string& user, const std::string& password = kPassword) {
    return api_->Register(Body(Credentials(user, password)));
  }
  ApiResponse Login(const std::string& user, const std::string& password = kPassword,
                    const std::string& address = "192.0.2.1") {
    return api_->Login(Body(Credentials(user, password), "", address));
  }
  // Registers and logs in; returns the token.
  std::string NewUser(const std::string& user) {
    EXPECT_EQ(Register(user).status, 201);
    const ApiResponse login = Login(user);
    EXPECT_EQ(login.status, 200);
    return login.json.value("token", "");
  }
  ApiResponse RequestFriend(const std::string& token, const std::string& other) {
    return api_->RequestFriend(Body(json{{"userId", other}}.dump(), token));
  }
  void Befriend(const std::string& token_a, const std::string& a, const std::string& token_b,
                const std::string& b) {
    ASSERT_EQ(RequestFriend(token_a, b).status, 202);
    ASSERT_EQ(api_->AcceptFriend(WithUser(token_b, a)).status, 200);
    (void)token_a;
    (void)announcer_.Take();
  }
  ApiResponse Upload(const std::string& token, const std::string& to, std::string_view data,
                     std::size_t chunk = 4096) {
    ApiRequest request = WithToken(token);
    request.query["to"] = to;
    auto start = api_->BeginUpload(request);
    if (start.refusal) return *start.refusal;
    for (std::size_t at = 0; at < data.size(); at += chunk) {
      if (!start.session->Append(data.substr(at, chunk))) break;
    }
    return api_->FinishUpload(std::move(start.session));
  }
  ApiResponse Download(const std::string& token, const std::string& file_id) {
    ApiRequest request = WithToken(token);
    request.params["fileId"] = file_id;
    return api_->DownloadFile(request);
  }
  std::optional<offline::UserRecord> StoredUser(const std::string& id) {
    return pool_->Acquire()->GetUser(id);
  }

  testing::ManualClock clock_{kStart};
  testing::TempDir dir_;
  std::unique_ptr<testing::MariaDbDatabase> mariadb_;
  std::string url_;
  AuthsvcMetrics metrics_{std::make_shared<prometheus::Registry>()};
  std::unique_ptr<AccountStorePool> pool_;
  std::unique_ptr<PasswordHasher> hasher_;
  LoginRateLimiter limiter_{clock_};
  KeySealer sealer_{{common::RandomBytes(32)}};
  std::unique_ptr<FileStore> files_;
  const common::SigningKey key_ = common::GenerateSigningKey();
  const common::TokenSigner signer_{key_};
  const common::TokenVerifier verifier_{{key_.public_key}};
  RecordingAnnouncer announcer_;
  std::unique_ptr<Api> api_;
};

void ExpectError(const ApiResponse& response, int status, const std::string& code) {
  EXPECT_EQ(response.status, status) << response.json.dump();
  EXPECT_EQ(response.json.value("error", ""), code) << response.json.dump();
  EXPECT_TRUE(response.json.contains("message") && response.json["message"].is_string());
}

// ---- register ------------------------------------------------------------------------------

TEST_F(ApiTest, RegisterAnswers201WithTheUserIdAndStoresAnArgon2idHash) {
  const ApiResponse response = Register("alice");
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.json, (json{{"userId", "alice"}}));
  const auto user = StoredUser("alice");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->password_hash.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u)
      << user->password_hash;
  EXPECT_EQ(user->password_hash.find(kPassword), std::string::npos);
}

TEST_F(ApiTest, RegisterOfATakenIdIs409) {
  ASSERT_EQ(Register("alice").status, 201);
  ExpectError(Register("alice", "another password"), 409, "conflict");
}

TEST_F(ApiTest, RegisterRefusesBadIdsWith400) {
  for (const std::string& id :
       std::vector<std::string>{"Alice", "al", "_alice", "-alice", "al ice", "alice!", "",
                                std::string(33, 'a'), "al/ice", "al:ice"}) {
    ExpectError(Register(id), 400, "bad_request");
  }
  EXPECT_EQ(Register(std::string(32, 'a')).status, 201);
  EXPECT_EQ(Register("a.b-c_d").status, 201);
}

TEST_F(ApiTest, RegisterRefusesReservedServiceNames) {
  for (const char* id :
       {"bridge", "offline", "authsvc", "ops", "admin", "root", "sparrow", "system"}) {
    ExpectError(Register(id), 400, "bad_request");
    EXPECT_FALSE(StoredUser(id));
  }
}

TEST_F(ApiTest, RegisterRefusesPasswordsUnder8Characters) {
  ExpectError(Register("alice", "1234567"), 400, "bad_request");
  // Characters, not bytes: 7 two-byte characters are still too short, 8 are enough.
  ExpectError(Register("alice", "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"), 400, "bad_request");
  EXPECT_EQ(Register("alice", "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9").status, 201);
  EXPECT_EQ(Register("bob", "12345678").status, 201);
}

TEST_F(ApiTest, RegisterRefusesPasswordsOver1KiBBeforeHashing) {
  const auto hashes = hasher_->hashes_computed();
  ExpectError(Register("alice", std::string(1025, 'x')), 400, "bad_request");
  EXPECT_EQ(hasher_->hashes_computed(), hashes);
  EXPECT_EQ(Register("alice", std::string(1024, 'x')).status, 201);
}

TEST_F(ApiTest, RegisterRefusesMalformedJsonAndWrongTypes) {
  for (const std::string body :
       {"", "not json", "{", "[]", "\"alice\"", "42", "null", R"({"userId":"alice"})",
        R"({"password":"12345678"})", R"({"userId":5,"password":"12345678"})",
        R"({"userId":"alice","password":null})", R"({"userId":["alice"],"password":"12345678"})",
        R"({"userId":"alice","password":12345678})"}) {
    ExpectError(api_->Register(Body(body)), 400, "bad_request");
  }
  EXPECT_FALSE(StoredUser("alice"));
}

TEST_F(ApiTest, RegisterIgnoresUnknownFields) {
  EXPECT_EQ(
      api_->Register(Body(R"({"userId":"alice","password":"12345678","extra":{"a":[1]}})")).status,
      201);
}

TEST_F(ApiTest, JsonBodiesOver64KiBAre413) {
  const std::string big =
      json{{"userId", "alice"}, {"password", kPassword}, {"pad", std::string(64 * 1024, 'x')}}
          .dump();
  ExpectError(api_->Register(Body(big)), 413, "too_large");
  ExpectError(api_->Login(Body(big)), 413, "too_large");
}

// ---- login ---------------------------------------------------------------------------------

TEST_F(ApiTest, LoginAnswersAVerifiableUserTokenAndItsExpiry) {
  ASSERT_EQ(Register("alice").status, 201);
  const ApiResponse response = Login("alice");
  ASSERT_EQ(response.status, 200);
  ASSERT_TRUE(response.json["token"].is_string());
  ASSERT_TRUE(response.json["expiresAt"].is_number_integer());
  const auto outcome =
      verifier_.Verify(response.json["token"].get<std::string>(), clock_.WallMillis());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.claims.sub, "alice");
  EXPECT_EQ(outcome.claims.role, common::Role::kUser);
  EXPECT_EQ(outcome.claims.iat_ms, clock_.WallMillis());
  EXPECT_EQ(outcome.claims.exp_ms, response.json["expiresAt"].get<std::int64_t>());
  EXPECT_EQ(outcome.claims.exp_ms, kStart + 3'600'000);
  EXPECT_FALSE(outcome.claims.jti.empty());
  EXPECT_EQ(response.json.size(), 2u);
}

TEST_F(ApiTest, LoginWithAWrongPasswordOrAnUnknownUserIs401AndCostsTheSameHash) {
  ASSERT_EQ(Register("alice").status, 201);
  auto hashes = hasher_->hashes_computed();
  const ApiResponse wrong = Login("alice", "wrong password");
  ExpectError(wrong, 401, "unauthorized");
  EXPECT_EQ(hasher_->hashes_computed(), hashes + 1);
  hashes = hasher_->hashes_computed();
  const ApiResponse unknown = Login("nobody", kPassword, "192.0.2.2");
  ExpectError(unknown, 401, "unauthorized");
  EXPECT_EQ(hasher_->hashes_computed(), hashes + 1);  // the dummy hash: same work
  EXPECT_EQ(wrong.json, unknown.json);                // and the same answer
}

TEST_F(ApiTest, LoginRefusesMalformedBodiesWith400) {
  for (const std::string body :
       {"", "[1]", R"({"userId":"alice"})", R"({"userId":1,"password":"x"})"}) {
    ExpectError(api_->Login(Body(body)), 400, "bad_request");
  }
}

TEST_F(ApiTest, LoginWithAnOversizedPasswordIs401WithoutHashing) {
  ASSERT_EQ(Register("alice").status, 201);
  const auto hashes = hasher_->hashes_computed();
  ExpectError(Login("alice", std::string(1025, 'x')), 401, "unauthorized");
  EXPECT_EQ(hasher_->hashes_computed(), hashes);
}

TEST_F(ApiTest, FailedLoginsAreThrottledPerAccountAndAddressWith429AndRetryAfter) {
  ASSERT_EQ(Register("alice").status, 201);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Login("alice", "wrong password").status, 401);
  const auto hashes = hasher_->hashes_computed();
  const ApiResponse throttled = Login("alice", "wrong password");
  ExpectError(throttled, 429, "rate_limited");
  ASSERT_EQ(throttled.headers.size(), 1u);
  EXPECT_EQ(throttled.headers[0].first, "Retry-After");
  EXPECT_EQ(throttled.headers[0].second, "60");
  // Refused before hashing, even with the right password.
  ExpectError(Login("alice"), 429, "rate_limited");
  EXPECT_EQ(hasher_->hashes_computed(), hashes);
  // The real user, from another address, is not locked out.
  EXPECT_EQ(Login("alice", kPassword, "198.51.100.7").status, 200);
  // And the attacker's address gets one more try per minute.
  clock_.Advance(std::chrono::seconds(60));
  EXPECT_EQ(Login("alice", "wrong password").status, 401);
  EXPECT_EQ(Login("alice", "wrong password").status, 429);
}

TEST_F(ApiTest, FailedLoginsAreThrottledPerAddressAcrossAccounts) {
  // 20 failures from one address, 4 per account over 5 accounts, then everything from it waits.
  for (int account = 0; account < 5; ++account) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(Login("user" + std::to_string(account), "wrong password").status, 401);
    }
  }
  ExpectError(Login("another"), 429, "rate_limited");
  EXPECT_EQ(Login("another", kPassword, "198.51.100.7").status, 401);  // other addresses go on
}

TEST_F(ApiTest, ADistributedAttackSlowsTheAccountButNotItsKnownAddress) {
  ASSERT_EQ(Register("alice").status, 201);
  ASSERT_EQ(Login("alice", kPassword, "198.51.100.7").status, 200);  // her usual address
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Login("alice", "guess", "203.0.113." + std::to_string(i)).status, 401);
  }
  // The account's bucket is empty: a new address waits...
  ExpectError(Login("alice", "guess", "203.0.113.99"), 429, "rate_limited");
  ExpectError(Login("alice", kPassword, "192.0.2.50"), 429, "rate_limited");
  // ...her known address does not...
  EXPECT_EQ(Login("alice", kPassword, "198.51.100.7").status, 200);
  // ...and the account refills slowly, never stops: one new-address attempt per 10 s.
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_EQ(Login("alice", kPassword, "192.0.2.50").status, 200);
}

TEST_F(ApiTest, ImpossibleUserIdsShareOneThrottleAndCostNoHash) {
  ASSERT_EQ(Register("alice").status, 201);
  const auto hashes = hasher_->hashes_computed();
  for (int i = 0; i < 10; ++i) {
    const std::string junk(60 * 1024 + i, static_cast<char>('A' + i));  // not ids: no hashing
    ExpectError(Login(junk, kPassword, "203.0.113." + std::to_string(i)), 401, "unauthorized");
  }
  EXPECT_EQ(hasher_->hashes_computed(), hashes);
  ExpectError(Login("Not An Id", kPassword, "203.0.113.50"), 429, "rate_limited");
  EXPECT_EQ(Login("alice", kPassword, "203.0.113.51").status, 200);  // real ids are unaffected
}

TEST_F(ApiTest, LoginUpgradesAHashMadeWithWeakerParameters) {
  char weak[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str(weak, kPassword, std::strlen(kPassword), 1, 8u << 20), 0);
  ASSERT_EQ(pool_->Acquire()->CreateUser("alice", weak), offline::CreateUserResult::kCreated);
  EXPECT_EQ(Login("alice").status, 200);
  const auto user = StoredUser("alice");
  EXPECT_EQ(user->password_hash.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u);
  EXPECT_EQ(Login("alice").status, 200);
}

// ---- tokens --------------------------------------------------------------------------------

TEST_F(ApiTest, EveryAuthenticatedCallIs401WithoutAValidToken) {
  const std::string alice = NewUser("alice");
  const std::string other_key_token =
      common::TokenSigner(common::GenerateSigningKey())
          .Issue("alice", common::Role::kUser, clock_.WallMillis(), 3'600'000);
  // alg "none": header {"alg":"none","typ":"JWT"}, the payload of a real token, no signature.
  const std::string real_payload =
      alice.substr(alice.find('.') + 1, alice.rfind('.') - alice.find('.') - 1);
  const std::string none_token =
      common::Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + real_payload + ".";
  const std::string ghost =
      signer_.Issue("ghost", common::Role::kUser, clock_.WallMillis(), 3'600'000);
  for (const std::string& token :
       {std::string(), std::string("garbage"), other_key_token, none_token, ghost, alice + "x"}) {
    ExpectError(api_->Logout(WithToken(token)), 401, "unauthorized");
    ExpectError(
        api_->ChangePassword(Body(R"({"oldPassword":"a","newPassword":"12345678"})", token)), 401,
        "unauthorized");
    ExpectError(RequestFriend(token, "bob"), 401, "unauthorized");
    ExpectError(api_->ListFriends(WithToken(token)), 401, "unauthorized");
    ExpectError(api_->AcceptFriend(WithUser(token, "bob")), 401, "unauthorized");
    ExpectError(api_->DeleteFriend(WithUser(token, "bob")), 401, "unauthorized");
    ExpectError(api_->ListRelations(WithToken(token)), 401, "unauthorized");
    ExpectError(Upload(token, "bob", "data"), 401, "unauthorized");
    ExpectError(Download(token, common::NewFileId()), 401, "unauthorized");
  }
  const ApiResponse response = api_->ListFriends(WithToken(""));
  ASSERT_FALSE(response.headers.empty());
  EXPECT_EQ(response.headers[0].first, "WWW-Authenticate");
}

TEST_F(ApiTest, AnExpiredTokenIs401AfterTheAllowedSkew) {
  const std::string alice = NewUser("alice");
  clock_.Advance(std::chrono::milliseconds(3'600'000 + 29'000));
  EXPECT_EQ(api_->ListFriends(WithToken(alice)).status, 200);  // within the 30 s skew
  clock_.Advance(std::chrono::seconds(2));
  ExpectError(api_->ListFriends(WithToken(alice)), 401, "unauthorized");
}

TEST_F(ApiTest, ServiceAndOperatorTokensAreRefusedOnUserCalls) {
  ASSERT_EQ(Register("alice").status, 201);
  for (auto role : {common::Role::kSvc, common::Role::kOps}) {
    const std::string token = signer_.Issue("alice", role, clock_.WallMillis(), 3'600'000);
    ExpectError(api_->ListFriends(WithToken(token)), 403, "forbidden");
  }
}

TEST_F(ApiTest, LogoutRevokesEveryEarlierTokenAndAnnouncesIt) {
  const std::string first = NewUser("alice");
  clock_.Advance(std::chrono::milliseconds(5));
  const std::string second = Login("alice").json["token"];
  clock_.Advance(std::chrono::milliseconds(5));
  const ApiResponse out = api_->Logout(WithToken(second));
  EXPECT_EQ(out.status, 204);
  EXPECT_TRUE(out.json.is_null());
  EXPECT_EQ(announcer_.Take(),
            (std::vector<Announcement>{{"im/sys/revoke/alice", R"({"before":1764430000010})"}}));
  EXPECT_EQ(StoredUser("alice")->token_epoch, kStart + 10);
  ExpectError(api_->ListFriends(WithToken(first)), 401, "unauthorized");
  ExpectError(api_->ListFriends(WithToken(second)), 401, "unauthorized");
  // A login after the logout works, even within the same millisecond.
  const std::string third = Login("alice").json["token"];
  EXPECT_EQ(api_->ListFriends(WithToken(third)).status, 200);
}

TEST_F(ApiTest, ChangePasswordRevokesTokensAndSwapsThePassword) {
  const std::string token = NewUser("alice");
  clock_.Advance(std::chrono::milliseconds(1));
  const auto change = [&](const std::string& old_password, const std::string& new_password) {
    return api_->ChangePassword(
        Body(json{{"oldPassword", old_password}, {"newPassword", new_password}}.dump(), token));
  };
  ExpectError(change("wrong password", "new password 1"), 403, "forbidden");
  ExpectError(change(kPassword, "short"), 400, "bad_request");
  ExpectError(change(kPassword, std::string(1025, 'x')), 400, "bad_request");
  ExpectError(api_->ChangePassword(Body(R"({"oldPassword":1,"newPassword":"12345678"})", token)),
              400, "bad_request");
  EXPECT_TRUE(announcer_.Take().empty());
  EXPECT_EQ(change(kPassword, "new password 1").status, 204);
  EXPECT_EQ(announcer_.Take(),
            (std::vector<Announcement>{{"im/sys/revoke/alice", R"({"before":1764430000001})"}}));
  ExpectError(api_->ListFriends(WithToken(token)), 401, "unauthorized");
  ExpectError(Login("alice"), 401, "unauthorized");
  EXPECT_EQ(Login("alice", "new password 1").status, 200);
}

// ---- friends -------------------------------------------------------------------------------

TEST_F(ApiTest, ARequestIs202UntilAcceptedThenBothAreFriends) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  EXPECT_EQ(RequestFriend(alice, "bob").status, 202);
  EXPECT_EQ(RequestFriend(alice, "bob").status, 202);  // repeated: still 202, one request
  EXPECT_TRUE(announcer_.Take().empty());
  EXPECT_EQ(api_->ListFriends(WithToken(alice)).json,
            (json{{"friends", json::array()},
                  {"incoming", json::array()},
                  {"outgoing", json::array({{{"userId", "bob"}}})}}));
  EXPECT_EQ(api_->ListFriends(WithToken(bob)).json,
            (json{{"friends", json::array()},
                  {"incoming", json::array({{{"userId", "alice"}}})},
                  {"outgoing", json::array()}}));

  const ApiResponse accepted = api_->AcceptFriend(WithUser(bob, "alice"));
  EXPECT_EQ(accepted.status, 200);
  EXPECT_EQ(accepted.json["userId"], "alice");
  EXPECT_EQ(announcer_.Take(),
            (std::vector<Announcement>{{"im/sys/relation/alice/bob", R"({"friends":true})"}}));
  const json friends_of_alice = {{"friends", json::array({{{"userId", "bob"}}})},
                                 {"incoming", json::array()},
                                 {"outgoing", json::array()}};
  EXPECT_EQ(api_->ListFriends(WithToken(alice)).json, friends_of_alice);
  EXPECT_EQ(api_->ListFriends(WithToken(bob)).json["friends"],
            json::array({{{"userId", "alice"}}}));
  // Accepting again: the request is gone.
  ExpectError(api_->AcceptFriend(WithUser(bob, "alice")), 404, "not_found");
}

TEST_F(ApiTest, MutualRequestsMakeFriendsAtOnceWith201) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  EXPECT_EQ(RequestFriend(alice, "bob").status, 202);
  const ApiResponse mutual = RequestFriend(bob, "alice");
  EXPECT_EQ(mutual.status, 201);
  EXPECT_EQ(announcer_.Take(),
            (std::vector<Announcement>{{"im/sys/relation/alice/bob", R"({"friends":true})"}}));
  EXPECT_EQ(api_->ListFriends(WithToken(bob)).json,
            (json{{"friends", json::array({{{"userId", "alice"}}})},
                  {"incoming", json::array()},
                  {"outgoing", json::array()}}));
  ExpectError(RequestFriend(alice, "bob"), 409, "conflict");
  ExpectError(RequestFriend(bob, "alice"), 409, "conflict");
}

TEST_F(ApiTest, FriendRequestErrors) {
  const std::string alice = NewUser("alice");
  ExpectError(RequestFriend(alice, "nobody"), 404, "not_found");
  ExpectError(RequestFriend(alice, "alice"), 400, "bad_request");
  ExpectError(RequestFriend(alice, "Bad Id"), 400, "bad_request");
  ExpectError(RequestFriend(alice, std::string(200, 'a')), 400, "bad_request");
  for (const std::string body : {"", "[]", "{}", R"({"userId":7})", R"({"userId":null})"}) {
    ExpectError(api_->RequestFriend(Body(body, alice)), 400, "bad_request");
  }
}

TEST_F(ApiTest, AcceptErrors) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  ExpectError(api_->AcceptFriend(WithUser(alice, "bob")), 404, "not_found");  // no request
  ASSERT_EQ(RequestFriend(alice, "bob").status, 202);
  // Alice cannot accept her own request.
  ExpectError(api_->AcceptFriend(WithUser(alice, "bob")), 404, "not_found");
  ExpectError(api_->AcceptFriend(WithUser(bob, "Not An Id")), 400, "bad_request");
  ExpectError(api_->AcceptFriend(WithUser(bob, "bob")), 400, "bad_request");
  ExpectError(api_->AcceptFriend(WithUser(bob, "nobody")), 404, "not_found");
}

TEST_F(ApiTest, DeleteEndsTheFriendshipAndAnnouncesIt) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  const std::string carol = NewUser("carol");
  Befriend(alice, "alice", bob, "bob");
  ExpectError(api_->DeleteFriend(WithUser(alice, "carol")), 404, "not_found");
  ExpectError(api_->DeleteFriend(WithUser(alice, "nobody")), 404, "not_found");
  ExpectError(api_->DeleteFriend(WithUser(alice, "NOPE")), 400, "bad_request");
  EXPECT_TRUE(announcer_.Take().empty());
  const ApiResponse deleted = api_->DeleteFriend(WithUser(bob, "alice"));
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.json.is_null());
  EXPECT_EQ(announcer_.Take(),
            (std::vector<Announcement>{{"im/sys/relation/alice/bob", R"({"friends":false})"}}));
  ExpectError(api_->DeleteFriend(WithUser(alice, "bob")), 404, "not_found");
  EXPECT_EQ(api_->ListFriends(WithToken(alice)).json["friends"], json::array());
  EXPECT_EQ(api_->ListRelations(WithToken(alice)).json, (json{{"relations", json::array()}}));
  (void)carol;
}

// ---- relation keys -------------------------------------------------------------------------

TEST_F(ApiTest, BothFriendsGetTheSameRandomKeyAndNoOneElseDoes) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  const std::string carol = NewUser("carol");
  Befriend(alice, "alice", bob, "bob");
  const ApiResponse of_alice = api_->ListRelations(WithToken(alice));
  const ApiResponse of_bob = api_->ListRelations(WithToken(bob));
  ASSERT_EQ(of_alice.status, 200);
  ASSERT_EQ(of_alice.json["relations"].size(), 1u);
  ASSERT_EQ(of_bob.json["relations"].size(), 1u);
  EXPECT_EQ(of_alice.json["relations"][0]["userId"], "bob");
  EXPECT_EQ(of_bob.json["relations"][0]["userId"], "alice");
  const std::string key = of_alice.json["relations"][0]["encryptKey"];
  EXPECT_EQ(of_bob.json["relations"][0]["encryptKey"], key);
  EXPECT_EQ(key.size(), 44u);  // 32 bytes, standard base64 with padding
  EXPECT_EQ(key.back(), '=');
  ASSERT_TRUE(common::Base64Decode(key));
  EXPECT_EQ(common::Base64Decode(key)->size(), 32u);
  EXPECT_EQ(api_->ListRelations(WithToken(carol)).json, (json{{"relations", json::array()}}));

  // At rest the key is sealed: the row holds neither the key nor its base64.
  const auto stored = pool_->Acquire()->Relations("alice");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_NE(stored[0].encrypt_key, key);
  EXPECT_EQ(stored[0].encrypt_key.find(key.substr(0, 20)), std::string::npos);
  EXPECT_EQ(sealer_.Unseal(stored[0].encrypt_key, RelationContext("bob", "alice")),
            common::Base64Decode(key));

  // A new friendship later gets a new key.
  ASSERT_EQ(api_->DeleteFriend(WithUser(alice, "bob")).status, 204);
  Befriend(bob, "bob", alice, "alice");
  EXPECT_NE(api_->ListRelations(WithToken(alice)).json["relations"][0]["encryptKey"], key);
}

TEST_F(ApiTest, ATamperedSealedKeyFailsInsteadOfReturningGarbage) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  const std::string carol = NewUser("carol");
  Befriend(alice, "alice", bob, "bob");
  Befriend(alice, "alice", carol, "carol");
  // Move alice/bob's sealed key into alice/carol's row: it does not open there.
  auto store = pool_->Acquire();
  const auto relations = store->Relations("alice");
  ASSERT_TRUE(store->DeleteRelation("alice", "carol"));
  ASSERT_EQ(store->CreateRelation("alice", "carol", relations[0].encrypt_key),
            offline::CreateRelationResult::kCreated);
  EXPECT_THROW(api_->ListRelations(WithToken(carol)), common::Error);
}

// ---- files ---------------------------------------------------------------------------------

class FilesApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (IsSkipped()) return;
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
    carol_ = NewUser("carol");
    Befriend(alice_, "alice", bob_, "bob");
  }
  std::string alice_, bob_, carol_;
};

TEST_F(FilesApiTest, UploaderAndRecipientDownloadTheFileAnyoneElseGets404) {
  std::string data(300 * 1024, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 1000);
  const ApiResponse uploaded = Upload(alice_, "bob", data);
  ASSERT_EQ(uploaded.status, 201) << uploaded.json.dump();
  const std::string file_id = uploaded.json["fileId"];
  EXPECT_TRUE(LooksLikeFileId(file_id));
  EXPECT_EQ(uploaded.json["size"], data.size());
  EXPECT_EQ(uploaded.json["sha256"], Sha256Hex(data));
  EXPECT_EQ(uploaded.json.size(), 3u);

  for (const std::string& token : {alice_, bob_}) {
    const ApiResponse download = Download(token, file_id);
    ASSERT_EQ(download.status, 200);
    ASSERT_TRUE(download.file);
    EXPECT_EQ(download.file->size, data.size());
    EXPECT_EQ(ReadAll(download.file->path), data);
  }
  const ApiResponse refused = Download(carol_, file_id);
  ExpectError(refused, 404, "not_found");
  EXPECT_FALSE(refused.file);
  // Exactly what an unknown or malformed id gets: existence does not leak.
  EXPECT_EQ(Download(carol_, common::NewFileId()).json, refused.json);
  EXPECT_EQ(Download(alice_, common::NewFileId()).json, refused.json);
  for (const std::string& bad :
       std::vector<std::string>{"", "../../etc/passwd", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                                std::string(33, 'a'), Sha256Hex(data)}) {
    EXPECT_EQ(Download(alice_, bad).json, refused.json) << bad;
  }
}

TEST_F(FilesApiTest, UploadsGoToFriendsOnly) {
  ExpectError(Upload(alice_, "carol", "hello"), 403, "forbidden");
  ExpectError(Upload(alice_, "nobody", "hello"), 403, "forbidden");
  ExpectError(Upload(alice_, "alice", "hello"), 403, "forbidden");
  ExpectError(Upload(alice_, "Not Valid", "hello"), 400, "bad_request");
  ApiRequest no_to = WithToken(alice_);
  auto start = api_->BeginUpload(no_to);
  ASSERT_TRUE(start.refusal);
  ExpectError(*start.refusal, 400, "bad_request");
}

TEST_F(FilesApiTest, AnUploadOverTheLimitIs413AndLeavesNothing) {
  MakeApi(ApiOptions{.max_file_bytes = 10'000});
  EXPECT_EQ(Upload(alice_, "bob", std::string(10'000, 'a')).status, 201);  // at the limit
  ExpectError(Upload(alice_, "bob", std::string(10'001, 'b'), 1000), 413, "too_large");
  ApiRequest declared = WithToken(alice_);
  declared.query["to"] = "bob";
  declared.content_length = 10'001;
  auto start = api_->BeginUpload(declared);
  ASSERT_TRUE(start.refusal);
  ExpectError(*start.refusal, 413, "too_large");
  std::size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(files_->root() / "tmp")) {
    ADD_FAILURE() << "left behind: " << entry.path();
    ++entries;
  }
  EXPECT_EQ(entries, 0u);
}

TEST_F(FilesApiTest, TheSameBytesAreStoredOnceUnderTwoUnrelatedIds) {
  const ApiResponse first = Upload(alice_, "bob", "same bytes");
  const ApiResponse second = Upload(bob_, "alice", "same bytes");
  ASSERT_EQ(first.status, 201);
  ASSERT_EQ(second.status, 201);
  EXPECT_NE(first.json["fileId"], second.json["fileId"]);
  EXPECT_EQ(first.json["sha256"], second.json["sha256"]);
  EXPECT_TRUE(std::filesystem::exists(files_->root() / first.json["sha256"].get<std::string>()));
  EXPECT_EQ(Download(bob_, first.json["fileId"]).status, 200);
}

TEST_F(FilesApiTest, AnEmptyFileIsAFile) {
  const ApiResponse uploaded = Upload(alice_, "bob", "");
  ASSERT_EQ(uploaded.status, 201);
  EXPECT_EQ(uploaded.json["size"], 0);
  EXPECT_EQ(uploaded.json["sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(FilesApiTest, UploadsAreNotHandledByTheGenericEntryPoint) {
  EXPECT_EQ(api_->Handle(RouteId::kUploadFile, WithToken(alice_)).status, 500);
}

// ---- health, metrics -----------------------------------------------------------------------

TEST_F(ApiTest, HealthAndMetricsNeedNoToken) {
  EXPECT_EQ(api_->Handle(RouteId::kHealth, {}).json, (json{{"status", "ok"}}));
  (void)Login("nobody", "wrong password");
  const ApiResponse metrics = api_->Handle(RouteId::kMetrics, {});
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4");
  EXPECT_NE(metrics.text.find("sparrow_authsvc_login_failures_total 1"), std::string::npos);
  EXPECT_NE(metrics.text.find("sparrow_authsvc_hashes_in_progress 0"), std::string::npos);
}

TEST_F(ApiTest, ErrorResponsesHaveTheCodeOfTheirStatus) {
  const std::pair<int, const char*> cases[] = {
      {400, "bad_request"},  {401, "unauthorized"}, {403, "forbidden"}, {404, "not_found"},
      {405, "bad_request"},  {409, "conflict"},     {413, "too_large"}, {414, "bad_request"},
      {429, "rate_limited"}, {500, "internal"},     {503, "internal"}};
  for (const auto& [status, code] : cases) ExpectError(ErrorResponse(status, "m"), status, code);
}

}  // namespace
}  // namespace sparrow::authsvc
