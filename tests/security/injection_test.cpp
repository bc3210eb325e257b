// SQL injection strings in every field a client controls, against the whole stack on SQLite:
// each REST field (JSON bodies, path segments, the query, the Bearer header) and each field of a
// stored frame (msgBody, destId, kind, mid, after). Expected: a 4xx (never 2xx for a junk id,
// never 500), message bodies stored and replayed byte for byte, and afterwards the accounts,
// friendships and keys exactly as before. Unit counterparts: ApiTest (bad ids and bodies),
// SociMessageStoreTest (bodies as bytes), offline/sql_test.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "testing/stack/stack.hpp"
#include "testing/stack/test_device.hpp"
#include "tests/security/rest_probe.hpp"
#include "tests/security/security_support.hpp"

namespace sparrow::security {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::SparrowStack;
using testing::TestDevice;

std::vector<std::string> Injections() {
  return {
      "' OR '1'='1",
      "alice' --",
      "alice'; DROP TABLE im_user; --",
      "\" OR \"\"=\"",
      "1; DELETE FROM im_relation",
      "bob' UNION SELECT password_hash, token_epoch FROM im_user --",
      "%' OR 1=1 --",
      "alice\\'); UPDATE im_user SET password_hash='' WHERE ('1'='1",
      std::string("alice\0' OR 1=1 --", 17),
      "\xe2\x80\x8b"
      "alice\xef\xbc\x87 OR 1=1",  // zero-width space, fullwidth quote
      std::string(4000, '\''),
  };
}

// A status a junk value may get: a refusal, never success or a server error.
void ExpectRefused(const HttpReply& reply, const std::set<int>& allowed, const std::string& what,
                   std::size_t index) {
  EXPECT_TRUE(allowed.count(reply.status) == 1)
      << what << " #" << index << ": " << reply.status << " " << reply.body.substr(0, 200);
}

TEST(SecurityInjectionTest, SqlInEveryRestFieldIsRefusedAndChangesNothing) {
  SparrowStack stack(BrokerOnly(/*authsvc=*/true));
  StartStack(stack, true);
  const RestProbe home(stack.http_port());
  ASSERT_EQ(home.Register("alice", "alice-password-1"), 201);
  ASSERT_EQ(home.Register("bob", "bob-password-1"), 201);
  const auto alice = home.Login("alice", "alice-password-1");
  const auto bob = home.Login("bob", "bob-password-1");
  ASSERT_TRUE(alice && bob);
  ASSERT_TRUE(home.Befriend(*alice, "alice", *bob, "bob"));
  const json friends_before = home.Get("/api/v1/friends", *alice).Json();
  const json relations_before = home.Get("/api/v1/relations", *alice).Json();
  ASSERT_EQ(relations_before["relations"].size(), 1u);

  const std::vector<std::string> injections = Injections();
  for (std::size_t i = 0; i < injections.size(); ++i) {
    const std::string& s = injections[i];
    const std::string e = PercentEncode(s);
    const int too_long = 414;  // the 4000-quote string makes a URI over cpp-httplib's 8 KiB
    // Failed logins and old-password guesses come from their own addresses (rate limits).
    const RestProbe side(stack.http_port(), "127.0.3." + std::to_string(i + 1));
    ExpectRefused(home.Post("/api/v1/register", {{"userId", s}, {"password", "password-123"}}),
                  {400}, "register userId", i);
    ExpectRefused(side.Post("/api/v1/login", {{"userId", s}, {"password", s}}), {401, 429},
                  "login userId", i);
    ExpectRefused(side.Post("/api/v1/login", {{"userId", "alice"}, {"password", s}}), {401, 429},
                  "login password", i);
    ExpectRefused(home.Post("/api/v1/friends", {{"userId", s}}, *alice), {400, 404},
                  "friends userId", i);
    ExpectRefused(home.Post("/api/v1/friends/" + e + "/accept", json::object(), *alice),
                  {400, 404, too_long}, "accept path", i);
    ExpectRefused(home.Delete("/api/v1/friends/" + e, *alice), {400, 404, too_long}, "delete path",
                  i);
    ExpectRefused(
        home.PostBytes("/api/v1/files?to=" + e, "file-bytes", "application/octet-stream", *alice),
        {400, 403, too_long}, "files to", i);
    ExpectRefused(home.Get("/api/v1/files/" + e, *alice), {400, 404, too_long}, "files id", i);
    ExpectRefused(side.Post("/api/v1/password",
                            {{"oldPassword", s}, {"newPassword", "new-password-1"}}, *alice),
                  {400, 403, 429}, "password old", i);
    if (s.find('\0') == std::string::npos) {  // a header cannot carry a NUL
      ExpectRefused(home.Get("/api/v1/friends", s), {401}, "bearer", i);
    }
    // A junk password is just a password: stored as a hash, never as SQL.
    if (s.size() >= 8 && s.size() <= 1024) {
      const std::string user = "inj" + std::to_string(i);
      EXPECT_EQ(home.Register(user, s), 201) << i;
      EXPECT_TRUE(home.Login(user, s).has_value()) << i;
      EXPECT_FALSE(side.Login(user, "' OR 1=1 --").has_value()) << i;
    }
  }

  // Nothing changed: the same friends, the same key, the passwords still work.
  EXPECT_EQ(home.Get("/api/v1/friends", *alice).Json(), friends_before);
  EXPECT_EQ(home.Get("/api/v1/relations", *alice).Json(), relations_before);
  EXPECT_TRUE(home.Login("alice", "alice-password-1").has_value());
  EXPECT_TRUE(home.Login("bob", "bob-password-1").has_value());
  // (Ids with a NUL are left out: SOCI binds strings up to their first NUL, so the store is only
  // ever given validated ids; ApiTest covers that the REST layer validates them.)
  for (std::size_t i = 0; i < injections.size(); ++i) {
    if (injections[i].find('\0') != std::string::npos) continue;
    EXPECT_FALSE(stack.accounts().GetUser(injections[i]).has_value()) << i;
  }

  // Finally an injection string as alice's new password: stored and checked verbatim.
  const std::string odd = injections[2];
  ASSERT_EQ(home.Post("/api/v1/password",
                      {{"oldPassword", "alice-password-1"}, {"newPassword", odd}}, *alice)
                .status,
            204);
  EXPECT_TRUE(home.Login("alice", odd).has_value());
  EXPECT_FALSE(home.Login("alice", "alice-password-1").has_value());
  EXPECT_TRUE(home.Login("bob", "bob-password-1").has_value());
}

TEST(SecurityInjectionTest, SqlInEveryFrameFieldIsStoredVerbatimOrRefused) {
  SparrowStack stack;
  stack.Start();
  stack.Befriend("alice", "bob");
  TestDevice alice(stack, "alice", "phone");
  TestDevice bob(stack, "bob", "phone");
  ASSERT_TRUE(alice.Connect());
  ASSERT_TRUE(bob.Connect());

  // Bodies: stored as bytes and delivered unchanged, live and from the store.
  const std::vector<std::string> injections = Injections();
  std::int64_t id = 0;
  for (const std::string& s : injections) ASSERT_TRUE(alice.SendChat(++id, "bob", s));
  ASSERT_TRUE(alice.WaitFor([&](const TestDevice& d) {
    return d.Acks("SENT").size() == injections.size();
  })) << stack.Logs();

  // Every other field: refused, never stored.
  const std::int64_t next = id + 1;
  for (const std::string& s : injections) {
    ASSERT_TRUE(alice.SendChat(next, s, "to-a-junk-dest"));
    ASSERT_TRUE(alice.SendChat(next, "bob", "junk-kind", s));
    ASSERT_TRUE(alice.SendAck("READ", s));
    ASSERT_TRUE(alice.SendRaw(json{{"type", "sync"}, {"after", s}}.dump()));
    ASSERT_TRUE(alice.SendRaw(json{{"type", s}, {"id", next}}.dump()));
  }
  const std::size_t refusals = 5 * injections.size();
  ASSERT_TRUE(
      alice.WaitFor([&](const TestDevice& d) { return d.Errors().size() >= refusals; }, 20s))
      << alice.Errors().size() << "\n"
      << stack.Logs();
  for (const json& error : alice.Errors()) {
    const std::string code = error.value("code", "");
    EXPECT_TRUE(code == "bad_frame" || code == "unknown_message" || code == "not_friends")
        << error.dump();
  }
  // The chain of ids was not used up by the refusals: the next chat is accepted.
  ASSERT_TRUE(alice.SendChat(next, "bob", "last"));

  ASSERT_TRUE(bob.WaitFor(
      [&](const TestDevice& d) { return d.IncomingChats().size() == injections.size() + 1; }));
  std::vector<std::string> live;
  for (const json& chat : bob.IncomingChats()) live.push_back(chat.value("msgBody", ""));
  std::vector<std::string> expected = injections;
  expected.push_back("last");
  EXPECT_EQ(live, expected);

  // A replay from the store: the same bodies, nothing else.
  bob.Clear();
  ASSERT_TRUE(bob.SendSync(0));
  ASSERT_TRUE(bob.WaitFor([](const TestDevice& d) { return !d.Synced().empty(); }));
  std::vector<std::string> replayed;
  for (const auto& r : bob.Received()) {
    if (r.frame.value("type", "") == "chat") replayed.push_back(r.frame.value("msgBody", ""));
  }
  EXPECT_EQ(replayed, expected);
}

}  // namespace
}  // namespace sparrow::security
