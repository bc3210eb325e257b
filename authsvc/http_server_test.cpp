// The real HTTP server on a free loopback port, driven with httplib::Client: every call and
// error path of the REST table (authsvc/README.md), malformed input, size limits, the
// concurrency bound on hashing, metrics, and that no answer echoes a password or a token.
#include "authsvc/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "authsvc/api.hpp"
#include "authsvc/metrics.hpp"
#include "authsvc/passwords.hpp"
#include "authsvc/rate_limiter.hpp"
#include "authsvc/recording_announcer.hpp"
#include "authsvc/sealed_keys.hpp"
#include "authsvc/store_pool.hpp"
#include "common/base64.hpp"
#include "common/clock.hpp"
#include "common/ids.hpp"
#include "common/token.hpp"
#include "offline/account_store.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::authsvc {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPassword = "Tr0ub4dor&3-distinctive";

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return common::HexEncode(std::string_view(reinterpret_cast<char*>(digest), length));
}

httplib::Headers Bearer(const std::string& token) {
  if (token.empty()) return {};
  return {{"Authorization", "Bearer " + token}};
}

// The service, in process, on a free port.
class Service {
 public:
  explicit Service(HasherOptions hasher_options = {}, ApiOptions api_options = {},
                   HttpServerOptions http_options = {})
      : registry_(std::make_shared<prometheus::Registry>()),
        metrics_(registry_),
        key_(common::GenerateSigningKey()),
        signer_(key_),
        verifier_({key_.public_key}),
        sealer_(LoadOrCreateKeySealer((dir_.path() / "keys").string())),
        files_(dir_.path() / "files"),
        hasher_(hasher_options, &metrics_.hashes_in_progress()),
        pool_(
            [this] {
              return std::make_unique<offline::AccountStore>(
                  offline::DbOptions{.url = "sqlite:" + (dir_.path() / "sparrow.db").string()},
                  common::SystemClock::Instance());
            },
            16),
        api_(ApiDeps{.accounts = pool_,
                     .hasher = hasher_,
                     .limiter = limiter_,
                     .sealer = sealer_,
                     .files = files_,
                     .signer = signer_,
                     .verifier = verifier_,
                     .announcer = announcer_,
                     .clock = common::SystemClock::Instance(),
                     .metrics = &metrics_},
             api_options),
        server_(api_, metrics_, http_options) {
    server_.Start();
  }

  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", server_.port());
    client.set_read_timeout(60, 0);
    client.set_write_timeout(60, 0);
    return client;
  }
  int port() const { return server_.port(); }
  PasswordHasher& hasher() { return hasher_; }
  RecordingAnnouncer& announcer() { return announcer_; }
  const common::TokenSigner& signer() const { return signer_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  testing::TempDir dir_;
  std::shared_ptr<prometheus::Registry> registry_;
  AuthsvcMetrics metrics_;
  common::SigningKey key_;
  common::TokenSigner signer_;
  common::TokenVerifier verifier_;
  KeySealer sealer_;
  FileStore files_;
  PasswordHasher hasher_;
  LoginRateLimiter limiter_{common::SystemClock::Instance()};
  AccountStorePool pool_;
  RecordingAnnouncer announcer_;
  Api api_;
  HttpServer server_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : client_(service_.Client()) {}

  httplib::Result Post(const std::string& path, const std::string& body,
                       const std::string& token = "") {
    return client_.Post(path, Bearer(token), body, "application/json");
  }
  httplib::Result Get(const std::string& path, const std::string& token = "") {
    return client_.Get(path, Bearer(token));
  }
  httplib::Result Delete(const std::string& path, const std::string& token = "") {
    return client_.Delete(path, Bearer(token));
  }
  static std::string Credentials(const std::string& user, const std::string& password = kPassword) {
    return json{{"userId", user}, {"password", password}}.dump();
  }
  std::string NewUser(const std::string& user) {
    auto registered = Post("/api/v1/register", Credentials(user));
    EXPECT_EQ(registered->status, 201);
    auto login = Post("/api/v1/login", Credentials(user));
    EXPECT_EQ(login->status, 200);
    return json::parse(login->body).value("token", "");
  }
  void Befriend(const std::string& token_a, const std::string& a, const std::string& token_b,
                const std::string& b) {
    ASSERT_EQ(Post("/api/v1/friends", json{{"userId", b}}.dump(), token_a)->status, 202);
    ASSERT_EQ(Post("/api/v1/friends/" + a + "/accept", "", token_b)->status, 200);
  }
  httplib::Result Upload(const std::string& token, const std::string& to, const std::string& data) {
    return client_.Post("/api/v1/files?to=" + to, Bearer(token), data, "application/octet-stream");
  }

  Service service_;
  httplib::Client client_;
};

// A JSON error with the status, the code and a message, and nothing else.
void ExpectError(const httplib::Result& result, int status, const std::string& code) {
  ASSERT_TRUE(result) << "no answer: " << httplib::to_string(result.error());
  EXPECT_EQ(result->status, status) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  const json body = json::parse(result->body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << result->body;
  EXPECT_EQ(body.value("error", ""), code) << result->body;
  EXPECT_TRUE(body.contains("message") && body["message"].is_string()) << result->body;
  EXPECT_EQ(body.size(), 2u) << result->body;
}

TEST_F(HttpServerTest, RegisterLoginFriendsRelationsAndAFileRoundTrip) {
  auto registered = Post("/api/v1/register", Credentials("alice"));
  ASSERT_TRUE(registered);
  EXPECT_EQ(registered->status, 201);
  EXPECT_EQ(registered->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(registered->body), (json{{"userId", "alice"}}));

  auto login = Post("/api/v1/login", Credentials("alice"));
  ASSERT_EQ(login->status, 200);
  const json session = json::parse(login->body);
  const std::string alice = session["token"];
  const std::int64_t expires_at = session["expiresAt"];
  const std::int64_t now = common::SystemClock::Instance().WallMillis();
  EXPECT_GT(expires_at, now + 3'590'000);
  EXPECT_LE(expires_at, now + 3'600'000);
  EXPECT_EQ(login->get_header_value("Cache-Control"), "no-store");

  const std::string bob = NewUser("bob");
  const std::string carol = NewUser("carol");

  auto requested = Post("/api/v1/friends", R"({"userId":"bob"})", alice);
  EXPECT_EQ(requested->status, 202);
  EXPECT_EQ(Post("/api/v1/friends", R"({"userId":"bob"})", alice)->status, 202);
  auto listed = Get("/api/v1/friends", bob);
  ASSERT_EQ(listed->status, 200);
  EXPECT_EQ(json::parse(listed->body), (json{{"friends", json::array()},
                                             {"incoming", json::array({{{"userId", "alice"}}})},
                                             {"outgoing", json::array()}}));
  auto accepted = Post("/api/v1/friends/alice/accept", "", bob);
  EXPECT_EQ(accepted->status, 200);
  EXPECT_EQ(json::parse(Get("/api/v1/friends", alice)->body),
            (json{{"friends", json::array({{{"userId", "bob"}}})},
                  {"incoming", json::array()},
                  {"outgoing", json::array()}}));

  const json of_alice = json::parse(Get("/api/v1/relations", alice)->body);
  const json of_bob = json::parse(Get("/api/v1/relations", bob)->body);
  ASSERT_EQ(of_alice["relations"].size(), 1u);
  EXPECT_EQ(of_alice["relations"][0]["userId"], "bob");
  EXPECT_EQ(of_bob["relations"][0]["userId"], "alice");
  EXPECT_EQ(of_alice["relations"][0]["encryptKey"], of_bob["relations"][0]["encryptKey"]);
  EXPECT_EQ(common::Base64Decode(of_alice["relations"][0]["encryptKey"].get<std::string>())->size(),
            32u);
  EXPECT_EQ(json::parse(Get("/api/v1/relations", carol)->body),
            (json{{"relations", json::array()}}));

  // A 300 KB file from alice to bob: both read it back, byte for byte; carol gets 404.
  std::string data(300 * 1000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 9));
  auto uploaded = Upload(alice, "bob", data);
  ASSERT_EQ(uploaded->status, 201) << uploaded->body;
  const json file = json::parse(uploaded->body);
  EXPECT_EQ(file["size"], data.size());
  EXPECT_EQ(file["sha256"], Sha256Hex(data));
  const std::string file_id = file["fileId"];
  for (const std::string& token : {alice, bob}) {
    auto downloaded = Get("/api/v1/files/" + file_id, token);
    ASSERT_EQ(downloaded->status, 200);
    EXPECT_EQ(downloaded->get_header_value("Content-Type"), "application/octet-stream");
    EXPECT_EQ(downloaded->body.size(), data.size());
    EXPECT_EQ(Sha256Hex(downloaded->body), Sha256Hex(data));
  }
  ExpectError(Get("/api/v1/files/" + file_id, carol), 404, "not_found");
  ExpectError(Get("/api/v1/files/" + common::NewFileId(), alice), 404, "not_found");

  EXPECT_EQ(Delete("/api/v1/friends/alice", bob)->status, 204);
  EXPECT_EQ(json::parse(Get("/api/v1/relations", alice)->body),
            (json{{"relations", json::array()}}));
  ExpectError(Upload(alice, "bob", "after"), 403, "forbidden");

  EXPECT_EQ(Post("/api/v1/logout", "", alice)->status, 204);
  ExpectError(Get("/api/v1/friends", alice), 401, "unauthorized");
}

TEST_F(HttpServerTest, RegisterAndLoginErrorPaths) {
  ASSERT_EQ(Post("/api/v1/register", Credentials("alice"))->status, 201);
  ExpectError(Post("/api/v1/register", Credentials("alice")), 409, "conflict");
  ExpectError(Post("/api/v1/register", Credentials("Alice")), 400, "bad_request");
  ExpectError(Post("/api/v1/register", Credentials("bridge")), 400, "bad_request");
  ExpectError(Post("/api/v1/register", Credentials("dave", "short")), 400, "bad_request");
  ExpectError(Post("/api/v1/register", Credentials("dave", std::string(1025, 'p'))), 400,
              "bad_request");
  ExpectError(Post("/api/v1/login", Credentials("alice", "wrong password")), 401, "unauthorized");
  ExpectError(Post("/api/v1/login", Credentials("nobody")), 401, "unauthorized");
  for (int i = 0; i < 4; ++i) (void)Post("/api/v1/login", Credentials("alice", "wrong password"));
  auto throttled = Post("/api/v1/login", Credentials("alice"));
  ExpectError(throttled, 429, "rate_limited");
  EXPECT_FALSE(throttled->get_header_value("Retry-After").empty());
}

TEST_F(HttpServerTest, EveryCallButRegisterLoginHealthAndMetricsNeedsAToken) {
  const std::string alice = NewUser("alice");
  const std::string svc = service_.signer().Issue(
      "bridge", common::Role::kSvc, common::SystemClock::Instance().WallMillis(), 60'000);
  struct Call {
    const char* method;
    std::string path;
    std::string body;
  };
  const std::vector<Call> calls = {
      {"POST", "/api/v1/logout", ""},
      {"POST", "/api/v1/password", R"({"oldPassword":"x","newPassword":"12345678"})"},
      {"POST", "/api/v1/friends", R"({"userId":"alice"})"},
      {"GET", "/api/v1/friends", ""},
      {"POST", "/api/v1/friends/alice/accept", ""},
      {"DELETE", "/api/v1/friends/alice", ""},
      {"GET", "/api/v1/relations", ""},
      {"POST", "/api/v1/files?to=alice", "bytes"},
      {"GET", "/api/v1/files/" + common::NewFileId(), ""},
  };
  for (const Call& call : calls) {
    for (const httplib::Headers& headers :
         {httplib::Headers{}, Bearer("not-a-token"), Bearer(alice + "x"),
          httplib::Headers{{"Authorization", "Basic " + alice}}}) {
      httplib::Result result =
          std::string(call.method) == "GET" ? client_.Get(call.path, headers)
          : std::string(call.method) == "DELETE"
              ? client_.Delete(call.path, headers)
              : client_.Post(call.path, headers, call.body, "application/json");
      SCOPED_TRACE(std::string(call.method) + " " + call.path);
      ExpectError(result, 401, "unauthorized");
      EXPECT_EQ(result->get_header_value("WWW-Authenticate"), "Bearer realm=\"sparrow\"");
    }
  }
  ExpectError(Get("/api/v1/friends", svc), 403, "forbidden");
  EXPECT_EQ(Get("/healthz")->status, 200);
  EXPECT_EQ(json::parse(Get("/healthz")->body), (json{{"status", "ok"}}));
  EXPECT_EQ(Get("/metrics")->status, 200);
  // The scheme is case-insensitive.
  EXPECT_EQ(client_.Get("/api/v1/friends", {{"Authorization", "bearer " + alice}})->status, 200);
}

TEST_F(HttpServerTest, FriendErrorPaths) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  ExpectError(Post("/api/v1/friends", R"({"userId":"nobody"})", alice), 404, "not_found");
  ExpectError(Post("/api/v1/friends", R"({"userId":"alice"})", alice), 400, "bad_request");
  ExpectError(Post("/api/v1/friends/bob/accept", "", alice), 404, "not_found");
  ExpectError(Delete("/api/v1/friends/bob", alice), 404, "not_found");
  ASSERT_EQ(Post("/api/v1/friends", R"({"userId":"bob"})", alice)->status, 202);
  auto mutual = Post("/api/v1/friends", R"({"userId":"alice"})", bob);
  EXPECT_EQ(mutual->status, 201);
  ExpectError(Post("/api/v1/friends", R"({"userId":"bob"})", alice), 409, "conflict");
  EXPECT_EQ(Delete("/api/v1/friends/bob", alice)->status, 204);
  ExpectError(Delete("/api/v1/friends/bob", alice), 404, "not_found");
}

TEST_F(HttpServerTest, MalformedJsonAndWrongTypesAre400) {
  const std::string alice = NewUser("alice");
  for (const std::string body :
       {"", "{", "nope", "[1,2]", "\"s\"", "17", R"({"userId":1,"password":"12345678"})",
        R"({"userId":"bob","password":["12345678"]})", R"({"userId":"bob"})",
        "{\"userId\":\"bob\",\"password\":\"\xff\xfe\"}"}) {
    SCOPED_TRACE(body);
    ExpectError(Post("/api/v1/register", body), 400, "bad_request");
    ExpectError(Post("/api/v1/login", body), 400, "bad_request");
  }
  for (const std::string body : {"", "[]", R"({"userId":false})", R"({"user":"bob"})"}) {
    ExpectError(Post("/api/v1/friends", body, alice), 400, "bad_request");
  }
  ExpectError(Post("/api/v1/password", R"({"oldPassword":null})", alice), 400, "bad_request");
}

TEST_F(HttpServerTest, BadIdsGetAJsonError) {
  const std::string alice = NewUser("alice");
  ExpectError(Post("/api/v1/friends", R"({"userId":"BOB"})", alice), 400, "bad_request");
  ExpectError(Post("/api/v1/friends", json{{"userId", std::string(5000, 'b')}}.dump(), alice), 400,
              "bad_request");
  ExpectError(Post("/api/v1/friends/Not%20Valid/accept", "", alice), 400, "bad_request");
  ExpectError(Delete("/api/v1/friends/%2e%2e", alice), 400, "bad_request");
  ExpectError(Upload(alice, "B%21", "x"), 400, "bad_request");
  ExpectError(client_.Post("/api/v1/files", Bearer(alice), "x", "application/octet-stream"), 400,
              "bad_request");
  ExpectError(Get("/api/v1/files/not-a-file-id", alice), 404, "not_found");
  ExpectError(Get("/api/v1/files/%2e%2e%2f%2e%2e%2fkeys%2fmaster.key", alice), 404, "not_found");
  ExpectError(Get("/api/v1/files/" + std::string(64, 'a'), alice), 404, "not_found");
}

TEST_F(HttpServerTest, UnknownRoutesAre404AndWrongMethods405InJson) {
  ExpectError(Get("/"), 404, "not_found");
  ExpectError(Get("/api/v1/nothing"), 404, "not_found");
  ExpectError(Post("/api/v1/register/extra", "{}"), 404, "not_found");
  ExpectError(client_.Put("/api/v1/nothing", "x", "text/plain"), 404, "not_found");
  auto wrong = Get("/api/v1/login");
  ExpectError(wrong, 405, "bad_request");
  EXPECT_EQ(wrong->get_header_value("Allow"), "POST");
  auto put = client_.Put("/api/v1/friends", "{}", "application/json");
  ExpectError(put, 405, "bad_request");
  EXPECT_EQ(put->get_header_value("Allow"), "POST, GET");
  ExpectError(client_.Patch("/api/v1/relations", "{}", "application/json"), 405, "bad_request");
  ExpectError(Delete("/healthz"), 405, "bad_request");
}

TEST_F(HttpServerTest, HugeJsonBodiesAre413AndTheConnectionGoesOn) {
  const std::string huge =
      json{{"userId", "alice"}, {"password", std::string(1 << 20, 'x')}}.dump();
  ExpectError(Post("/api/v1/register", huge), 413, "too_large");
  ExpectError(Post("/api/v1/login", huge), 413, "too_large");
  // Chunked, without a length.
  std::size_t sent = 0;
  auto chunked = client_.Post(
      "/api/v1/login",
      [&](std::size_t, httplib::DataSink& sink) {
        if (sent >= (2u << 20)) {
          sink.done();
          return true;
        }
        static const std::string chunk(64 * 1024, ' ');
        sent += chunk.size();
        return sink.write(chunk.data(), chunk.size());
      },
      "application/json");
  ExpectError(chunked, 413, "too_large");
  // A GET with a body over the JSON limit.
  ExpectError(client_.Get("/healthz", {{"Content-Length", "100000"}}), 413, "too_large");
  EXPECT_EQ(Post("/api/v1/register", Credentials("alice"))->status, 201);
}

TEST_F(HttpServerTest, AnUploadOver100MiBIs413WithAndWithoutADeclaredLength) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  Befriend(alice, "alice", bob, "bob");
  const std::size_t total = (101u << 20);
  static const std::string chunk(256 * 1024, 'z');  // streamed: never 101 MiB in memory
  auto declared = client_.Post(
      "/api/v1/files?to=bob", Bearer(alice), total,
      [&](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        (void)offset;
        return sink.write(chunk.data(), std::min(length, chunk.size()));
      },
      "application/octet-stream");
  ExpectError(declared, 413, "too_large");

  std::size_t sent = 0;
  auto chunked = client_.Post(
      "/api/v1/files?to=bob", Bearer(alice),
      [&](std::size_t, httplib::DataSink& sink) {
        if (sent >= total) {
          sink.done();
          return true;
        }
        sent += chunk.size();
        return sink.write(chunk.data(), chunk.size());
      },
      "application/octet-stream");
  ExpectError(chunked, 413, "too_large");
  EXPECT_GE(sent, total);

  std::size_t left = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(service_.dir() / "files")) {
    ++left;
  }
  EXPECT_EQ(left, 1u);  // tmp/ only
  EXPECT_TRUE(std::filesystem::is_empty(service_.dir() / "files" / "tmp"));
  // The service goes on.
  EXPECT_EQ(Upload(alice, "bob", "small")->status, 201);
}

TEST_F(HttpServerTest, ARefusedUploadIsAnsweredCleanly) {
  const std::string alice = NewUser("alice");
  (void)NewUser("bob");
  const std::string body(300 * 1000, 'q');
  ExpectError(Upload(alice, "bob", body), 403, "forbidden");  // not friends
  ExpectError(Upload("", "bob", body), 401, "unauthorized");
  EXPECT_EQ(Get("/healthz")->status, 200);
}

TEST_F(HttpServerTest, SuccessfulRegistrationsAndLoginsFromOneAddressAreNotThrottled) {
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 25; ++i) {
    const std::string user = "user" + std::to_string(i);
    ASSERT_EQ(Post("/api/v1/register", Credentials(user))->status, 201);
    ASSERT_EQ(Post("/api/v1/login", Credentials(user))->status, 200);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  RecordProperty("register_login_pairs_per_second", std::to_string(25 / seconds));
}

TEST(HttpServerConcurrencyTest, ConcurrentLoginsNeverRunMoreHashesThanTheBound) {
  Service service(HasherOptions{.max_concurrent = 2, .max_waiting = 64});
  {
    auto client = service.Client();
    ASSERT_EQ(
        client
            .Post("/api/v1/register", json{{"userId", "alice"}, {"password", kPassword}}.dump(),
                  "application/json")
            ->status,
        201);
  }
  constexpr int kThreads = 12;
  constexpr int kLoginsPerThread = 4;
  std::atomic<int> ok{0};
  std::atomic<int> other{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  const auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto client = service.Client();
      for (int i = 0; i < kLoginsPerThread; ++i) {
        auto result =
            client.Post("/api/v1/login", json{{"userId", "alice"}, {"password", kPassword}}.dump(),
                        "application/json");
        if (result && result->status == 200) {
          ++ok;
        } else {
          ++other;
          std::lock_guard<std::mutex> lock(mutex);
          failures.push_back(result ? std::to_string(result->status) + " " + result->body
                                    : httplib::to_string(result.error()));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(ok.load(), kThreads * kLoginsPerThread);
  EXPECT_EQ(other.load(), 0) << (failures.empty() ? "" : failures.front());
  EXPECT_LE(service.hasher().peak_concurrent(), 2);
  EXPECT_EQ(service.hasher().peak_concurrent(), 2);
  RecordProperty("logins_per_second", std::to_string(ok.load() / seconds));
  std::printf("concurrent logins: %d in %.2f s = %.0f/s, peak hashes %d\n", ok.load(), seconds,
              ok.load() / seconds, service.hasher().peak_concurrent());
}

TEST(HttpServerConcurrencyTest, AFloodBeyondTheWaitingRoomIsRefusedWith429) {
  Service service(HasherOptions{.max_concurrent = 1, .max_waiting = 1});
  constexpr int kThreads = 12;
  std::atomic<int> ok{0};
  std::atomic<int> busy{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = service.Client();
      for (int i = 0; i < 3; ++i) {
        auto result =
            client.Post("/api/v1/register",
                        json{{"userId", "u" + std::to_string(t) + "x" + std::to_string(i)},
                             {"password", kPassword}}
                            .dump(),
                        "application/json");
        if (result && result->status == 201) {
          ++ok;
        } else if (result && result->status == 429) {
          ++busy;
        } else {
          std::lock_guard<std::mutex> lock(mutex);
          failures.push_back(result ? std::to_string(result->status) + " " + result->body
                                    : httplib::to_string(result.error()));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load() + busy.load(), kThreads * 3) << (failures.empty() ? "" : failures.front());
  EXPECT_GT(ok.load(), 0);
  EXPECT_LE(service.hasher().peak_concurrent(), 1);
}

TEST_F(HttpServerTest, MetricsCountRequestsByRoutePatternAndStatus) {
  const std::string alice = NewUser("alice");
  (void)Post("/api/v1/login", Credentials("alice", "wrong password"));
  (void)Post("/api/v1/friends/bob/accept", "", alice);
  (void)Get("/nowhere");
  auto metrics = Get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  const std::string& text = metrics->body;
  for (const char* expected :
       {R"(sparrow_authsvc_requests_total{route="/api/v1/register",status="201"} 1)",
        R"(sparrow_authsvc_requests_total{route="/api/v1/login",status="200"} 1)",
        R"(sparrow_authsvc_requests_total{route="/api/v1/login",status="401"} 1)",
        R"(sparrow_authsvc_requests_total{route="/api/v1/friends/{userId}/accept",status="404"} 1)",
        R"(sparrow_authsvc_requests_total{route="unmatched",status="404"} 1)",
        R"(sparrow_authsvc_request_seconds_count{route="/api/v1/login"} 2)",
        "sparrow_authsvc_hashes_in_progress 0", "sparrow_authsvc_login_failures_total 1"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  EXPECT_EQ(text.find("alice"), std::string::npos);  // never an id in a label
  EXPECT_EQ(text.find("bob"), std::string::npos);
}

TEST_F(HttpServerTest, NoAnswerEchoesAPasswordOrAToken) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  std::vector<httplib::Result> results;
  const std::string secret = "S3cret-Passw0rd-Canary";
  results.push_back(Post("/api/v1/register", Credentials("carol", secret)));
  results.push_back(Post("/api/v1/register", Credentials("carol", secret)));
  results.push_back(Post("/api/v1/register", Credentials(secret, secret)));
  results.push_back(Post("/api/v1/register", Credentials(alice, secret)));  // a token as userId
  results.push_back(Post("/api/v1/login", Credentials("carol", secret + "x")));
  results.push_back(Post("/api/v1/login", Credentials(alice, secret)));
  results.push_back(Post("/api/v1/register", "{\"userId\":\"" + secret));  // broken JSON
  results.push_back(Post("/api/v1/friends", json{{"userId", alice}}.dump(), bob));
  results.push_back(Post("/api/v1/friends", json{{"userId", secret}}.dump(), alice));
  results.push_back(Post("/api/v1/friends/" + secret + "/accept", "", alice));
  results.push_back(Get("/api/v1/friends", alice + "tampered"));
  results.push_back(Get("/api/v1/files/" + alice, alice));
  results.push_back(Post("/api/v1/password",
                         json{{"oldPassword", secret}, {"newPassword", secret + "2"}}.dump(),
                         alice));
  results.push_back(
      Post("/api/v1/password", json{{"oldPassword", secret}, {"newPassword", 1}}.dump(), alice));
  results.push_back(Get("/api/v1/relations", alice));
  results.push_back(Get("/api/v1/friends", bob));
  for (const auto& result : results) {
    ASSERT_TRUE(result);
    EXPECT_EQ(result->body.find(secret), std::string::npos) << result->body;
    EXPECT_EQ(result->body.find(alice), std::string::npos) << result->body;
    EXPECT_EQ(result->body.find(bob), std::string::npos) << result->body;
    EXPECT_EQ(result->body.find(kPassword), std::string::npos) << result->body;
    for (const auto& [name, value] : result->headers) {
      EXPECT_EQ(value.find(secret), std::string::npos) << name;
      EXPECT_EQ(value.find(alice), std::string::npos) << name;
    }
  }
}

TEST_F(HttpServerTest, AnUnknownUserTakesAsLongAsAWrongPassword) {
  ASSERT_EQ(Post("/api/v1/register", Credentials("alice"))->status, 201);
  const auto timed = [&](const std::string& user) {
    const auto started = std::chrono::steady_clock::now();
    auto result = Post("/api/v1/login", Credentials(user, "wrong password"));
    EXPECT_EQ(result->status, 401);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
        .count();
  };
  double known = 0;
  double unknown = 0;
  for (int i = 0; i < 4; ++i) {  // under the per-pair limit of 5
    known += timed("alice");
    unknown += timed("nobody");
  }
  std::printf("wrong password %.1f ms, unknown user %.1f ms (mean of 4)\n", known / 4, unknown / 4);
  // Both do one argon2id verification (~15-20 ms); a lookup alone would take well under 1 ms.
  EXPECT_GT(unknown, known * 0.5);
  EXPECT_LT(unknown, known * 2.0);
}

// Sends `request` as is on a fresh connection; returns what came back up to the end of the
// first JSON body or `until`, whichever comes first ("" on a timeout of 3 s).
std::string RawExchange(int port, const std::string& request, const std::string& until = "}") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t n;
         answer.find(until) == std::string::npos && (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
      answer.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

TEST_F(HttpServerTest, AMalformedHttpRequestGetsAJson400) {
  const std::string answer = RawExchange(service_.port(), "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find(R"({"error":"bad_request")"), std::string::npos) << answer;
}

TEST_F(HttpServerTest, APostWithoutContentLengthHasAnEmptyBody) {
  // What `curl -X POST` sends: no Content-Length, no Transfer-Encoding. The answer must come at
  // once, not after a read timeout.
  const std::string alice = NewUser("alice");
  const auto started = std::chrono::steady_clock::now();
  const std::string answer =
      RawExchange(service_.port(),
                  "POST /api/v1/friends/bob/accept HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                      alice + "\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 404", 0), 0u) << answer;
  const std::string logout = RawExchange(
      service_.port(),
      "POST /api/v1/logout HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice + "\r\n\r\n",
      "\r\n\r\n");
  EXPECT_EQ(logout.rfind("HTTP/1.1 204", 0), 0u) << logout;
  const std::string login =
      RawExchange(service_.port(), "POST /api/v1/login HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(login.rfind("HTTP/1.1 400", 0), 0u) << login;  // an empty body is not JSON
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST_F(HttpServerTest, DownloadsAreServedAsOpaqueBytesNotCached) {
  const std::string alice = NewUser("alice");
  const std::string bob = NewUser("bob");
  Befriend(alice, "alice", bob, "bob");
  const std::string html = "<script>alert(1)</script>";
  const std::string file_id = json::parse(Upload(alice, "bob", html)->body)["fileId"];
  auto downloaded = Get("/api/v1/files/" + file_id, bob);
  ASSERT_EQ(downloaded->status, 200);
  EXPECT_EQ(downloaded->body, html);
  EXPECT_EQ(downloaded->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_EQ(downloaded->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(downloaded->get_header_value("Cache-Control"), "no-store");
}

}  // namespace
}  // namespace sparrow::authsvc
