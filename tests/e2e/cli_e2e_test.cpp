// The command-line client end to end (issue: "the client library and CLI"): the real `sparrow`
// binary, run as separate processes for two users with separate SPARROW_HOME folders, against
// the real stack (Mosquitto + auth plugin, sparrow-bridge, sparrow-offline, sparrow-authsvc,
// SQLite). Everything goes through the public contract: REST for accounts, MQTT for messages.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "client/crypto.hpp"
#include "testing/mqtt/child_process.hpp"
#include "testing/mqtt/wait.hpp"
#include "testing/stack/stack.hpp"
#include "testing/temp_dir.hpp"
#include "tests/e2e/cli_process.hpp"

namespace sparrow::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// One user of the tests: a name and a SPARROW_HOME of their own.
struct User {
  std::string name;
  std::filesystem::path home;
};

class CliEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new SparrowStack(StackOptions{.authsvc = true});
    stack_->Start();  // waits for the broker, the bridge and the sync service
    ASSERT_TRUE(WaitUntil([] { return Accepts(stack_->http_port()); }, 20s))
        << "the REST service does not listen\n"
        << stack_->Logs();
  }
  // True when something accepts TCP connections on 127.0.0.1:port.
  static bool Accepts(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }

  // A fresh user per call (tests share the stack, not users), registered through the CLI.
  User NewUser(const std::string& base) {
    const std::string name = base + std::to_string(counter_++);
    User user{name, dir_.path() / name};
    std::filesystem::create_directories(user.home);
    auto r = Run(user, {"register", user.name});
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text << stack_->Logs();
    return user;
  }

  CliOptions Options(const User& user, std::vector<std::string> args,
                     const std::string& device = "cli") {
    static std::atomic<int> runs{0};
    return CliOptions{
        .binary = SPARROW_CLI_BIN,
        .args = std::move(args),
        .env = {{"SPARROW_HOME", user.home.string()},
                {"HOME", user.home.string()},
                {"SPARROW_SERVER", "http://127.0.0.1:" + std::to_string(stack_->http_port())},
                {"SPARROW_MQTT", "127.0.0.1:" + std::to_string(stack_->broker().port())},
                {"SPARROW_USER", user.name},
                {"SPARROW_DEVICE", device},
                {"SPARROW_PASSWORD", "password-of-" + user.name}},
        .stderr_log = dir_.path() / (user.name + "-" + std::to_string(runs++) + ".stderr"),
    };
  }

  CliResult Run(const User& user, std::vector<std::string> args, const std::string& input = "",
                const std::string& device = "cli") {
    return RunCli(Options(user, std::move(args), device), input, 90s);
  }

  std::unique_ptr<CliProcess> Start(const User& user, std::vector<std::string> args,
                                    const std::string& device = "cli") {
    return std::make_unique<CliProcess>(Options(user, std::move(args), device));
  }

  // Starts `listen --json` on its own device and waits until it synced.
  std::unique_ptr<CliProcess> Listen(const User& user, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--json", "listen"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = Start(user, args, "listener");
    EXPECT_TRUE(WaitSynced(*p)) << p->Stderr() << stack_->Logs();
    return p;
  }

  static bool WaitSynced(const CliProcess& p, std::chrono::milliseconds timeout = 20s) {
    return p.WaitForEvents(
        [](const std::vector<json>& events) {
          for (const auto& e : events) {
            if (e["event"] == "connection" && e["state"] == "synced") return true;
          }
          return false;
        },
        timeout);
  }

  void Befriend(const User& a, const User& b) {
    auto r = Run(a, {"friend", "add", b.name});
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    r = Run(b, {"friend", "accept", a.name});
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  }

  // The texts of the message events of a process's output, from `from`.
  static std::vector<std::string> TextsFrom(const CliProcess& p, const std::string& from) {
    std::vector<std::string> texts;
    for (const auto& e : p.Events("message")) {
      if (e["from"] == from) texts.push_back(e["text"]);
    }
    return texts;
  }

  static SparrowStack* stack_;
  static inline int counter_ = 0;
  TempDir dir_;
};
SparrowStack* CliEndToEndTest::stack_ = nullptr;

TEST_F(CliEndToEndTest, TwoUsersBecomeFriendsAndChatBothWays) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");

  auto r = Run(alice, {"friend", "add", bob.name});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  r = Run(bob, {"--json", "friend", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(json::parse(r.lines[0])["incoming"], json::array({alice.name}));
  r = Run(bob, {"friend", "accept", alice.name});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  r = Run(alice, {"--json", "friend", "list"});
  EXPECT_EQ(json::parse(r.lines.at(0))["friends"], json::array({bob.name}));

  auto bob_listen = Listen(bob);
  auto alice_listen = Listen(alice);
  r = Run(alice, {"send", bob.name, "hello bob"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  r = Run(bob, {"send", alice.name, "hello alice, nice to meet you"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;

  ASSERT_TRUE(bob_listen->WaitForEvents(
      [&](const auto&) { return TextsFrom(*bob_listen, alice.name).size() == 1; }, 20s))
      << bob_listen->Stderr() << stack_->Logs();
  EXPECT_EQ(TextsFrom(*bob_listen, alice.name)[0], "hello bob");
  ASSERT_TRUE(alice_listen->WaitForEvents(
      [&](const auto&) { return TextsFrom(*alice_listen, bob.name).size() == 1; }, 20s))
      << alice_listen->Stderr();
  EXPECT_EQ(TextsFrom(*alice_listen, bob.name)[0], "hello alice, nice to meet you");

  // Each side's other device shows its own message as outgoing (the user's copy).
  ASSERT_TRUE(alice_listen->WaitForEvents(
      [&](const auto& events) {
        for (const auto& e : events) {
          if (e["event"] == "message" && e["outgoing"] == true && e["text"] == "hello bob") {
            return true;
          }
        }
        return false;
      },
      20s));
  bob_listen->Terminate();
  alice_listen->Terminate();
  EXPECT_FALSE(bob_listen->running());

  r = Run(alice, {"--json", "history", bob.name});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(json::parse(r.lines[0])["text"], "hello bob");
  EXPECT_EQ(json::parse(r.lines[1])["text"], "hello alice, nice to meet you");
}

TEST_F(CliEndToEndTest, ReceiptsArriveInOrderSentDeliveredRead) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Befriend(alice, bob);

  auto alice_chat = Start(alice, {"--json", "chat", bob.name});
  auto bob_chat = Start(bob, {"--json", "chat", alice.name});
  ASSERT_TRUE(WaitSynced(*alice_chat)) << alice_chat->Stderr() << stack_->Logs();
  ASSERT_TRUE(WaitSynced(*bob_chat)) << bob_chat->Stderr();

  ASSERT_TRUE(alice_chat->WriteLine("are you there?"));
  // bob's chat shows the message, which marks it read.
  ASSERT_TRUE(bob_chat->WaitForEvents(
      [&](const auto&) { return TextsFrom(*bob_chat, alice.name).size() == 1; }, 20s))
      << bob_chat->Stderr() << stack_->Logs();
  EXPECT_EQ(TextsFrom(*bob_chat, alice.name)[0], "are you there?");

  auto statuses = [&]() {
    std::vector<std::string> out;
    for (const auto& e : alice_chat->Events("status")) out.push_back(e["status"]);
    return out;
  };
  ASSERT_TRUE(alice_chat->WaitForEvents([&](const auto&) { return statuses().size() >= 3; }, 20s))
      << alice_chat->Stderr();
  EXPECT_EQ(statuses(), (std::vector<std::string>{"sent", "delivered", "read"}));
  auto sending = alice_chat->Events("sending");
  ASSERT_EQ(sending.size(), 1u);
  for (const auto& e : alice_chat->Events("status")) {
    EXPECT_EQ(e["localId"], sending[0]["localId"]);
    EXPECT_EQ(e["peer"], bob.name);
  }

  // And back: bob answers, alice sees it, bob gets its receipts.
  ASSERT_TRUE(bob_chat->WriteLine("yes, here"));
  ASSERT_TRUE(alice_chat->WaitForEvents(
      [&](const auto&) { return TextsFrom(*alice_chat, bob.name).size() == 1; }, 20s));
  ASSERT_TRUE(bob_chat->WaitForEvents(
      [&](const auto& events) {
        std::vector<std::string> s;
        for (const auto& e : events) {
          if (e["event"] == "status") s.push_back(e["status"]);
        }
        return s == std::vector<std::string>{"sent", "delivered", "read"};
      },
      20s))
      << bob_chat->Stderr();

  alice_chat->CloseStdin();
  bob_chat->CloseStdin();
  EXPECT_EQ(alice_chat->Wait(30s), 0) << alice_chat->Stderr();
  EXPECT_EQ(bob_chat->Wait(30s), 0) << bob_chat->Stderr();
}

TEST_F(CliEndToEndTest, AFiveMegabyteFileRoundTripsWithItsSha256Checked) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Befriend(alice, bob);

  const auto path = dir_.path() / "holiday.bin";
  std::string contents(5 * 1024 * 1024, '\0');
  std::mt19937_64 random(42);
  for (auto& c : contents) c = static_cast<char>(random());
  std::ofstream(path, std::ios::binary)
      .write(contents.data(), static_cast<std::streamsize>(contents.size()));
  const std::string sha = client::Sha256Hex(contents);

  const auto downloads = dir_.path() / "bob-downloads";
  auto bob_listen = Listen(bob, {"--download-dir", downloads.string()});
  auto r = Run(alice, {"sendfile", bob.name, path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text << stack_->Logs();

  ASSERT_TRUE(bob_listen->WaitForEvents(
      [&](const auto&) { return !bob_listen->Events("file").empty(); }, 60s))
      << bob_listen->Stderr() << stack_->Logs();
  auto messages = bob_listen->Events("message");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["kind"], "file");
  EXPECT_EQ(messages[0]["file"]["name"], "holiday.bin");
  EXPECT_EQ(messages[0]["file"]["size"], contents.size());
  EXPECT_EQ(messages[0]["file"]["sha256"], sha);
  auto file = bob_listen->Events("file")[0];
  EXPECT_EQ(file["verified"], true) << file.dump();
  EXPECT_EQ(file["sha256"], sha);
  const std::string received = ReadTextFile(file["path"].get<std::string>());
  EXPECT_EQ(received.size(), contents.size());
  EXPECT_TRUE(received == contents);
  EXPECT_EQ(client::Sha256Hex(received), sha);
}

TEST_F(CliEndToEndTest, AReceiverOfflineDuringSendingGetsEverythingOnceInOrderOnItsNextStart) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Befriend(alice, bob);

  std::string input;
  std::vector<std::string> sent;
  for (int i = 1; i <= 40; ++i) {
    sent.push_back("offline message " + std::to_string(i));
    input += sent.back() + "\n";
  }
  auto r = Run(alice, {"send", bob.name, "-"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text << stack_->Logs();

  auto first = Listen(bob);
  ASSERT_TRUE(first->WaitForEvents(
      [&](const auto&) { return TextsFrom(*first, alice.name).size() >= 40; }, 30s))
      << first->Stderr();
  first->Terminate();
  EXPECT_EQ(TextsFrom(*first, alice.name), sent);  // all, in order, once

  // The next start has nothing old to show: only what is new.
  auto second = Listen(bob);
  r = Run(alice, {"send", bob.name, "one more"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  ASSERT_TRUE(second->WaitForEvents(
      [&](const auto&) { return !TextsFrom(*second, alice.name).empty(); }, 20s));
  second->Terminate();
  EXPECT_EQ(TextsFrom(*second, alice.name), std::vector<std::string>{"one more"});
}

TEST_F(CliEndToEndTest, KillingTheSenderMidStreamLosesAndDuplicatesNothing) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Befriend(alice, bob);
  auto bob_listen = Listen(bob);

  constexpr int kCount = 300;
  std::vector<std::string> lines;
  for (int i = 1; i <= kCount; ++i) lines.push_back("stream " + std::to_string(i));

  auto sender = Start(alice, {"send", bob.name, "-"});
  for (const auto& line : lines) ASSERT_TRUE(sender->WriteLine(line));
  ASSERT_TRUE(bob_listen->WaitForEvents(
      [&](const auto&) { return TextsFrom(*bob_listen, alice.name).size() >= 20; }, 30s))
      << sender->Stderr() << stack_->Logs();
  sender->Kill();  // kill -9 mid-stream

  // Restarted with nothing new to send, it sends what its state still holds, then exits.
  auto r = Run(alice, {"send", bob.name, "-"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text << stack_->Logs();

  // What alice's device recorded as queued is a prefix of the lines, each once, all sent.
  r = Run(alice, {"--json", "history", "--offline", bob.name});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  std::vector<std::string> recorded;
  for (const auto& line : r.lines) {
    const json e = json::parse(line);
    EXPECT_TRUE(e["outgoing"].get<bool>());
    EXPECT_NE(e["status"], "pending") << e.dump();
    EXPECT_NE(e["status"], "failed") << e.dump();
    recorded.push_back(e["text"]);
  }
  ASSERT_GE(recorded.size(), 20u);
  ASSERT_LE(recorded.size(), lines.size());
  EXPECT_EQ(recorded, std::vector<std::string>(lines.begin(), lines.begin() + recorded.size()));
  const json state =
      json::parse(ReadTextFile(alice.home / "state" / alice.name / "cli" / "state.json"));
  EXPECT_TRUE(state["outbox"].empty()) << state.dump();

  // bob got exactly those, in order, none twice.
  ASSERT_TRUE(bob_listen->WaitForEvents(
      [&](const auto&) { return TextsFrom(*bob_listen, alice.name).size() >= recorded.size(); },
      30s));
  EXPECT_EQ(TextsFrom(*bob_listen, alice.name), recorded);

  // The rest goes out after the restart: bob ends with every line exactly once, in order.
  std::string rest;
  for (std::size_t i = recorded.size(); i < lines.size(); ++i) rest += lines[i] + "\n";
  if (!rest.empty()) {
    r = Run(alice, {"send", bob.name, "-"}, rest);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  }
  ASSERT_TRUE(bob_listen->WaitForEvents(
      [&](const auto&) { return TextsFrom(*bob_listen, alice.name).size() >= lines.size(); }, 30s));
  EXPECT_EQ(TextsFrom(*bob_listen, alice.name), lines);
  EXPECT_EQ(state["lastId"].get<std::int64_t>(), static_cast<std::int64_t>(recorded.size()));
}

TEST_F(CliEndToEndTest, ErrorsAreOneClearLineWithANonZeroExitCode) {
  User alice = NewUser("alice");
  User carol = NewUser("carol");

  auto one_line = [](const std::string& text) {
    return !text.empty() && text.find('\n') == text.size() - 1 &&
           text.rfind("sparrow: error: ", 0) == 0;
  };
  auto r = Run(alice, {"send", carol.name, "we are not friends"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(one_line(r.stderr_text)) << r.stderr_text;

  r = Run(alice, {"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(one_line(r.stderr_text)) << r.stderr_text;
  r = Run(alice, {"send", carol.name});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(one_line(r.stderr_text)) << r.stderr_text;

  r = Run(alice, {"friend", "add", "nosuchuser"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(one_line(r.stderr_text)) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("no user nosuchuser"), std::string::npos) << r.stderr_text;

  User eve = NewUser("eve");
  CliOptions wrong = Options(eve, {"login"});
  for (auto& [key, value] : wrong.env) {
    if (key == "SPARROW_PASSWORD") value = "not-the-password";
  }
  r = RunCli(wrong);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(one_line(r.stderr_text)) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("wrong user id or password"), std::string::npos) << r.stderr_text;
}

}  // namespace
}  // namespace sparrow::testing
