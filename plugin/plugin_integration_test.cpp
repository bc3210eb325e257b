// The plugin loaded into a real Mosquitto 2.0.11 (MosquittoProcess on a free port), driven by
// real MQTT clients: MqttProbe (libmosquitto, reports every reason code), the Transport
// adapters (Paho C++ and libmosquitto), and the `mosquitto_pub` / `mosquitto_sub` binaries,
// over MQTT 3.1.1 and 5. Every wait is a condition with a deadline; every broker and child
// process is stopped by its owner object.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/base64.hpp"
#include "common/token.hpp"
#include "plugin/testing/mqtt_probe.hpp"
#include "plugin/testing/tokens.hpp"
#include "protocol/identity.hpp"
#include "testing/mqtt/mosquitto_process.hpp"
#include "testing/mqtt/wait.hpp"
#include "testing/temp_dir.hpp"
#include "transport/transport.hpp"

extern char** environ;

namespace sparrow::plugin {
namespace {

using namespace std::chrono_literals;
using common::Role;
using sparrow::testing::MosquittoOptions;
using sparrow::testing::MosquittoProcess;
using sparrow::testing::WaitUntil;
using testing::MqttProbe;
using testing::ProbeMessage;
using testing::ProbeOptions;
using testing::ProbeWill;

constexpr std::int64_t kHour = std::int64_t{3600} * 1000;
constexpr int kRefusedV5 = 0x87;      // CONNACK / SUBACK / PUBACK "not authorized"
constexpr int kRefusedConnectV3 = 5;  // CONNACK "not authorized"
constexpr int kRefusedSubscribeV3 = 0x80;

// A PUBACK that accepted the message: 0, or 0x10 "no matching subscribers" over MQTT 5.
bool Accepted(int puback) { return puback == 0 || puback == 0x10; }

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A child process (mosquitto_pub, mosquitto_sub, sparrow-token) with stdout and stderr in one
// file. The destructor kills and reaps it if it still runs.
class Child {
 public:
  Child(std::vector<std::string> args, std::filesystem::path output) : output_(std::move(output)) {
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int rc = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot spawn " + args[0]);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Reap(true);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The exit code, or -1 if it did not exit in time (then it is killed).
  int Wait(std::chrono::milliseconds timeout = 10s) {
    if (!WaitUntil([this] { return Reap(false); }, timeout)) {
      ::kill(pid_, SIGKILL);
      Reap(true);
      return -1;
    }
    return exit_code_;
  }
  std::string Output() const { return ReadFile(output_); }

 private:
  bool Reap(bool block) {
    if (pid_ <= 0) return true;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r != pid_) return false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    return true;
  }

  std::filesystem::path output_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Options of a broker that loads the plugin built by this tree.
MosquittoOptions PluginBroker(const std::string& public_key_file,
                              std::vector<std::pair<std::string, std::string>> plugin_opts = {}) {
  MosquittoOptions options;
  options.plugin = SPARROW_AUTH_PLUGIN;
  options.public_key_file = public_key_file;
  options.broker_id = "b1";
  options.plugin_opts = std::move(plugin_opts);
  return options;
}

// A broker with the plugin, a key pair whose public half it trusts, and helpers to mint
// tokens and open probes.
class PluginBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = common::LoadOrCreateSigningKey(keys_.path().string());
    signer_ = std::make_unique<common::TokenSigner>(key_);
    broker_ = std::make_unique<MosquittoProcess>(PluginBroker(PublicKeyFile()));
    broker_->Start();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "broker log:\n" << broker_->ReadLog();
  }

  std::string PublicKeyFile() const { return (keys_.path() / "token_public.key").string(); }
  std::string Token(std::string_view sub, Role role = Role::kUser) const {
    return signer_->Issue(sub, role, NowMs(), kHour);
  }
  ProbeOptions Options(const std::string& client_id, const std::string& username,
                       const std::string& token, int version) const {
    return ProbeOptions{.port = broker_->port(),
                        .client_id = client_id,
                        .username = username,
                        .password = token,
                        .protocol_version = version};
  }
  // A connected probe for `client_id` = user:device with a valid token of `role`.
  std::unique_ptr<MqttProbe> Connected(const std::string& client_id, int version = 5,
                                       Role role = Role::kUser) {
    const auto address = protocol::ParseClientId(client_id);
    EXPECT_TRUE(address.has_value()) << client_id;
    auto probe = std::make_unique<MqttProbe>(
        Options(client_id, address->user, Token(address->user, role), version));
    EXPECT_EQ(probe->Connect(), 0) << client_id;
    return probe;
  }
  // A service connection that sees everything under im/.
  std::unique_ptr<MqttProbe> Monitor() {
    auto monitor = Connected("bridge:monitor", 5, Role::kSvc);
    EXPECT_EQ(monitor->Subscribe({"im/#"}), std::vector<int>{1});
    return monitor;
  }
  std::vector<std::string> Cli(const std::string& tool, int version, const std::string& client_id,
                               const std::string& username, const std::string& token) const {
    return {tool,
            "-h",
            "127.0.0.1",
            "-p",
            std::to_string(broker_->port()),
            "-V",
            version == 5 ? "mqttv5" : "mqttv311",
            "-i",
            client_id,
            "-u",
            username,
            "-P",
            token};
  }
  std::filesystem::path Out(const std::string& name) const { return keys_.path() / name; }

  sparrow::testing::TempDir keys_;
  common::SigningKey key_;
  std::unique_ptr<common::TokenSigner> signer_;
  std::unique_ptr<MosquittoProcess> broker_;
};

class PluginBrokerVersionTest : public PluginBrokerTest, public ::testing::WithParamInterface<int> {
 protected:
  int Version() const { return GetParam(); }
  int RefusedConnect() const { return Version() == 5 ? kRefusedV5 : kRefusedConnectV3; }
  int RefusedSubscribe() const { return Version() == 5 ? kRefusedV5 : kRefusedSubscribeV3; }
};

std::string VersionName(const ::testing::TestParamInfo<int>& version) {
  return version.param == 5 ? "V5" : "V311";
}
INSTANTIATE_TEST_SUITE_P(Mqtt, PluginBrokerVersionTest, ::testing::Values(4, 5), VersionName);

// ---------------------------------------------------------------------------------------------
// CONNECT

TEST_P(PluginBrokerVersionTest, ValidDeviceConnectsAndExchangesMessages) {
  auto monitor = Monitor();
  auto alice = Connected("alice:phone", Version());
  ASSERT_EQ(alice->Subscribe({"im/in/alice", "im/in/alice/phone"}), (std::vector<int>{1, 1}));
  EXPECT_TRUE(Accepted(alice->Publish("im/up/alice/phone", R"({"type":"sync","after":0})")));
  EXPECT_TRUE(monitor->WaitForPayload(R"({"type":"sync","after":0})"));
  // A service answers on the user's inbox and device topic.
  EXPECT_TRUE(Accepted(monitor->Publish("im/in/alice", "live")));
  EXPECT_TRUE(Accepted(monitor->Publish("im/in/alice/phone", "answer")));
  EXPECT_TRUE(alice->WaitForPayload("live"));
  EXPECT_TRUE(alice->WaitForPayload("answer"));
}

TEST_P(PluginBrokerVersionTest, ValidDeviceConnectsThroughBothTransportAdapters) {
  auto monitor = Connected("bridge:sender", 5, Role::kSvc);
  for (const char* library : {"paho", "mosquitto"}) {
    SCOPED_TRACE(library);
    auto transport =
        transport::MakeTransport(library, {.port = broker_->port(),
                                           .client_id = "alice:" + std::string(library),
                                           .username = "alice",
                                           .password = Token("alice"),
                                           .protocol_version = Version()});
    std::vector<std::string> received;
    std::mutex mutex;
    transport->SetMessageHandler([&](transport::Message&& m) {
      std::lock_guard<std::mutex> lock(mutex);
      received.push_back(m.payload);
    });
    transport->SetConnectionHandler([](bool, int) {});
    transport->Subscribe("im/in/alice/" + std::string(library), 1);
    transport->Start();
    ASSERT_TRUE(transport->WaitConnected(5s));
    // The subscription is re-sent on connect; publish until it has taken effect.
    ASSERT_TRUE(WaitUntil(
        [&] {
          (void)monitor->Publish("im/in/alice/" + std::string(library), "hello");
          std::lock_guard<std::mutex> lock(mutex);
          return !received.empty();
        },
        5s, 50ms));
    EXPECT_EQ(transport->Publish("im/up/alice/" + std::string(library), "{}", 1),
              transport::PublishResult::kQueued);
    transport->Stop();

    // The same adapter with someone else's token never gets connected (it keeps retrying
    // with backoff; every attempt is refused).
    auto refused = transport::MakeTransport(library, {.port = broker_->port(),
                                                      .client_id = "alice:" + std::string(library),
                                                      .username = "alice",
                                                      .password = Token("mallory"),
                                                      .protocol_version = Version()});
    refused->SetMessageHandler([](transport::Message&&) {});
    refused->SetConnectionHandler([](bool, int) {});
    refused->Start();
    EXPECT_FALSE(refused->WaitConnected(1s));
    refused->Stop();
  }
}

TEST_P(PluginBrokerVersionTest, RefusesEveryBadCredentialAtConnect) {
  const std::int64_t now = NowMs();
  const common::SigningKey other_key = common::GenerateSigningKey();
  struct Case {
    const char* what;
    std::string client_id;
    std::string username;
    std::string password;
  };
  const std::vector<Case> cases = {
      {"garbage token", "alice:phone", "alice", "not-a-token"},
      {"expired token", "alice:phone", "alice",
       signer_->Issue("alice", Role::kUser, now - 3 * kHour, kHour)},
      {"token from the future", "alice:phone", "alice",
       signer_->Issue("alice", Role::kUser, now + kHour, kHour)},
      {"tampered token", "alice:phone", "alice", testing::TamperedToken(Token("bob"), "alice")},
      {"alg none", "alice:phone", "alice", testing::AlgNoneToken("alice", now)},
      {"unknown key", "alice:phone", "alice",
       common::TokenSigner(other_key).Issue("alice", Role::kUser, now, kHour)},
      {"our kid, another key", "alice:phone", "alice",
       testing::SignedByAnotherKeyUnderKid(signer_->key_id(), other_key, "alice", now)},
      {"someone else's token", "alice:phone", "alice", Token("mallory")},
      {"no password", "alice:phone", "alice", ""},
      {"no username", "alice:phone", "", ""},
      {"client id of another user", "alice:phone", "mallory", Token("mallory")},
      {"client id without device", "alice", "alice", Token("alice")},
      {"client id with two colons", "alice:phone:x", "alice", Token("alice")},
      {"device id with a space", "alice:my phone", "alice", Token("alice")},
  };
  for (const Case& c : cases) {
    MqttProbe probe(Options(c.client_id, c.username, c.password, Version()));
    EXPECT_EQ(probe.Connect(), RefusedConnect()) << c.what;
    EXPECT_FALSE(probe.connected()) << c.what;
  }
  // The broker is still fine.
  auto alice = Connected("alice:phone", Version());
  EXPECT_TRUE(alice->connected());
}

TEST_P(PluginBrokerVersionTest, MosquittoCommandLineClientsConnectOnlyWithAValidToken) {
  auto monitor = Monitor();
  const std::string token = Token("alice");
  auto pub_args = Cli("mosquitto_pub", Version(), "alice:cli", "alice", token);
  pub_args.insert(pub_args.end(), {"-q", "1", "-t", "im/up/alice/cli", "-m", "from-cli"});
  Child pub(pub_args, Out("pub.out"));
  EXPECT_EQ(pub.Wait(), 0) << pub.Output();
  EXPECT_TRUE(monitor->WaitForPayload("from-cli"));

  // mosquitto_sub: wait until it reports its SUBACK, then send it one message.
  auto sub_args = Cli("mosquitto_sub", Version(), "alice:cli", "alice", token);
  sub_args.insert(sub_args.begin(), {"stdbuf", "-oL"});  // its stdout is a file: flush lines
  sub_args.insert(sub_args.end(), {"-d", "-q", "1", "-t", "im/in/alice", "-C", "1", "-W", "10"});
  Child sub(sub_args, Out("sub.out"));
  ASSERT_TRUE(WaitUntil(
      [&] { return sub.Output().find("Subscribed (mid: 1): 1") != std::string::npos; }, 5s))
      << sub.Output();
  EXPECT_TRUE(Accepted(monitor->Publish("im/in/alice", "to-cli")));
  EXPECT_EQ(sub.Wait(), 0) << sub.Output();
  EXPECT_NE(sub.Output().find("to-cli"), std::string::npos) << sub.Output();

  // Refused CONNECTs: mosquitto_pub exits with the CONNACK code.
  const std::int64_t now = NowMs();
  for (const std::string& bad :
       {std::string("not-a-token"), signer_->Issue("alice", Role::kUser, now - 3 * kHour, kHour),
        Token("bob")}) {
    auto args = Cli("mosquitto_pub", Version(), "alice:cli", "alice", bad);
    args.insert(args.end(), {"-q", "1", "-t", "im/up/alice/cli", "-m", "x"});
    Child refused(args, Out("refused.out"));
    EXPECT_EQ(refused.Wait(), RefusedConnect()) << refused.Output();
  }
}

TEST_P(PluginBrokerVersionTest, ClientIdOfAnotherUserIsRefusedAndTheVictimStaysConnected) {
  auto monitor = Connected("bridge:sender", 5, Role::kSvc);
  auto alice = Connected("alice:phone", Version());
  ASSERT_EQ(alice->Subscribe({"im/in/alice"}), std::vector<int>{1});

  // Mallory, with her own valid token, under her name or Alice's.
  for (const std::string& username : {std::string("mallory"), std::string("alice")}) {
    MqttProbe mallory(Options("alice:phone", username, Token("mallory"), Version()));
    EXPECT_EQ(mallory.Connect(), RefusedConnect()) << username;
  }
  // Alice was not kicked: she still receives.
  EXPECT_TRUE(Accepted(monitor->Publish("im/in/alice", "still-here")));
  EXPECT_TRUE(alice->WaitForPayload("still-here"));
  EXPECT_TRUE(alice->connected());
}

TEST_F(PluginBrokerTest, TakeoverByAnotherRoleIsRefusedAndBySameRoleReplacesTheConnection) {
  auto sender = Connected("bridge:sender", 5, Role::kSvc);
  auto bridge = Connected("bridge:w1", 5, Role::kSvc);
  ASSERT_EQ(bridge->Subscribe({"im/up/+/+"}), std::vector<int>{1});

  // A user who registered the userId "bridge" reuses the service's client id: refused, and
  // so is an operator token.
  for (Role role : {Role::kUser, Role::kOps}) {
    MqttProbe impostor(Options("bridge:w1", "bridge", Token("bridge", role), 5));
    EXPECT_EQ(impostor.Connect(), kRefusedV5) << common::ToString(role);
  }
  auto alice = Connected("alice:phone");
  EXPECT_TRUE(Accepted(alice->Publish("im/up/alice/phone", "to-bridge")));
  EXPECT_TRUE(bridge->WaitForPayload("to-bridge"));
  EXPECT_TRUE(bridge->connected());

  // The same service reconnecting (same role) is a normal takeover.
  auto bridge2 = Connected("bridge:w1", 5, Role::kSvc);
  EXPECT_TRUE(bridge->WaitDisconnected());
  EXPECT_TRUE(bridge2->connected());
  // ... and the old connection's disconnect did not free the id for another role.
  MqttProbe impostor(Options("bridge:w1", "bridge", Token("bridge", Role::kUser), 5));
  EXPECT_EQ(impostor.Connect(), kRefusedV5);
  EXPECT_TRUE(bridge2->connected());
}

// ---------------------------------------------------------------------------------------------
// ACL

struct AclCase {
  const char* topic;
  bool allowed;
};

// For alice:phone. Subscriptions: PROTOCOL.md's list and everything around it.
constexpr AclCase kUserSubscriptions[] = {
    {"im/in/alice", true},
    {"im/in/alice/phone", true},
    {"im/in/alice/laptop", true},
    {"im/in/alice/+", true},
    {"im/in/alice/#", true},
    {"im/in/bob", false},
    {"im/in/bob/phone", false},
    {"im/in/bob/#", false},
    {"im/in/alicex", false},
    {"im/in/+", false},
    {"im/in/#", false},
    {"im/up/alice/phone", false},
    {"im/up/alice/laptop", false},
    {"im/up/bob/phone", false},
    {"im/up/+/+", false},
    {"im/#", false},
    {"#", false},
    {"+/in/alice", false},
    {"im/+/alice", false},
    {"$SYS/#", false},
    {"$SYS/broker/uptime", false},
    {"$share/g/im/in/alice", false},
    {"im/sys/#", false},
    {"im/sys/sync/alice/phone", false},
    {"other/topic", false},
};

// Publishes by alice:phone.
constexpr AclCase kUserPublishes[] = {
    {"im/up/alice/phone", true},
    {"im/up/alice/laptop", false},
    {"im/up/bob/phone", false},
    {"im/in/alice", false},
    {"im/in/alice/phone", false},
    {"im/in/bob", false},
    {"im/sys/sync/alice/phone", false},
    {"im/sys/presence/b1/alice/phone", false},
    {"im/up/alice/phone/x", false},
    {"$SYS/x", false},
    {"other/topic", false},
};

TEST_P(PluginBrokerVersionTest, AclMatrixForSubscriptionsOfAUser) {
  auto alice = Connected("alice:phone", Version());
  std::vector<std::string> filters;
  std::vector<int> expected;
  for (const AclCase& c : kUserSubscriptions) {
    filters.emplace_back(c.topic);
    expected.push_back(c.allowed ? 1 : RefusedSubscribe());
  }
  const std::vector<int> codes = alice->Subscribe(filters);
  ASSERT_EQ(codes.size(), filters.size());
  for (std::size_t i = 0; i < filters.size(); ++i) {
    EXPECT_EQ(codes[i], expected[i]) << filters[i];
  }
  // A refused subscription delivers nothing: of two messages sent in order by one service,
  // only the one on her own inbox arrives.
  auto sender = Connected("bridge:sender", 5, Role::kSvc);
  EXPECT_TRUE(Accepted(sender->Publish("im/in/bob", "for-bob")));
  EXPECT_TRUE(Accepted(sender->Publish("im/up/bob/phone", "bob-up")));
  EXPECT_TRUE(Accepted(sender->Publish("im/in/alice", "for-alice")));
  ASSERT_TRUE(alice->WaitForPayload("for-alice"));
  for (const ProbeMessage& m : alice->Messages()) {
    EXPECT_EQ(m.topic.rfind("im/in/alice", 0), 0u) << m.topic;
  }
  EXPECT_TRUE(alice->connected());
}

TEST_P(PluginBrokerVersionTest, AclMatrixForPublishesOfAUser) {
  auto monitor = Monitor();
  auto alice = Connected("alice:phone", Version());
  int n = 0;
  for (const AclCase& c : kUserPublishes) {
    const std::string payload = std::string(c.allowed ? "allowed:" : "refused:") + c.topic;
    const int puback = alice->Publish(c.topic, payload);
    if (Version() == 5) {
      if (c.allowed) {
        EXPECT_TRUE(Accepted(puback)) << c.topic << " " << puback;
      } else {
        EXPECT_EQ(puback, kRefusedV5) << c.topic;
      }
    } else {
      EXPECT_EQ(puback, 0) << c.topic;  // 3.1.1 has no way to say no: dropped silently
    }
    ++n;
  }
  // Retained, even on her own topic: refused.
  const int retained = alice->Publish("im/up/alice/phone", "refused:retained", /*retain=*/true);
  EXPECT_EQ(retained, Version() == 5 ? kRefusedV5 : 0);
  // QoS 0 on a forbidden topic: dropped silently under both versions.
  EXPECT_TRUE(alice->PublishQos0("im/in/bob", "refused:qos0"));

  // A marker sent last on the same connection: once it arrives, everything before it has
  // been routed, and nothing refused may have reached the service watching im/#.
  EXPECT_GE(alice->Publish("im/up/alice/phone", "marker"), 0);
  ASSERT_TRUE(monitor->WaitForPayload("marker"));
  int allowed_seen = 0;
  for (const ProbeMessage& m : monitor->Messages()) {
    EXPECT_NE(m.payload.rfind("refused:", 0), 0u) << m.topic << " " << m.payload;
    // The plugin's own presence reports are retained by design; nothing a user sent is.
    if (m.topic.rfind("im/sys/presence/", 0) != 0) {
      EXPECT_FALSE(m.retain) << m.topic;
    }
    allowed_seen += m.payload.rfind("allowed:", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(allowed_seen, 1);
  EXPECT_TRUE(alice->connected());
  // Nothing was retained: a new subscriber to her up topic gets no retained message.
  auto late = Connected("bridge:late", 5, Role::kSvc);
  ASSERT_EQ(late->Subscribe({"im/up/alice/phone"}), std::vector<int>{1});
  EXPECT_TRUE(Accepted(alice->Publish("im/up/alice/phone", "after")));
  ASSERT_TRUE(late->WaitForPayload("after"));
  EXPECT_EQ(late->Messages().size(), 1u);
}

TEST_P(PluginBrokerVersionTest, ServiceAndOperatorRolesOverTheBroker) {
  auto alice = Connected("alice:phone", Version());
  ASSERT_EQ(alice->Subscribe({"im/in/alice/#"}), std::vector<int>{1});

  auto svc = Connected("offline:w1", Version(), Role::kSvc);
  EXPECT_EQ(svc->Subscribe({"$share/offline/im/sys/sync/+/+", "im/up/+/+", "#", "$SYS/#",
                            "$share/g/#", "+/in/alice"}),
            (std::vector<int>{1, 1, RefusedSubscribe(), RefusedSubscribe(), RefusedSubscribe(),
                              RefusedSubscribe()}));
  EXPECT_TRUE(Accepted(svc->Publish("im/in/alice/phone", "from-svc")));
  EXPECT_TRUE(alice->WaitForPayload("from-svc"));
  EXPECT_EQ(svc->Publish("outside/im", "x"), Version() == 5 ? kRefusedV5 : 0);
  EXPECT_EQ(svc->Publish("im/in/alice", "retained", /*retain=*/true),
            Version() == 5 ? kRefusedV5 : 0);

  auto ops = Connected("oscar:cli", Version(), Role::kOps);
  EXPECT_EQ(ops->Subscribe({"im/#", "#", "$share/g/im/#", "$SYS/#"}),
            (std::vector<int>{1, RefusedSubscribe(), RefusedSubscribe(), RefusedSubscribe()}));
  EXPECT_EQ(ops->Publish("im/in/alice/phone", "from-ops"), Version() == 5 ? kRefusedV5 : 0);
  EXPECT_TRUE(Accepted(svc->Publish("im/in/alice", "watched")));
  EXPECT_TRUE(ops->WaitForPayload("watched"));  // ops reads everything under im/
  ASSERT_TRUE(alice->WaitForPayload("watched"));
  for (const ProbeMessage& m : alice->Messages()) EXPECT_NE(m.payload, "from-ops");
}

TEST_P(PluginBrokerVersionTest, MosquittoCommandLineClientsSeeTheRefusals) {
  const std::string token = Token("alice");
  // One SUBSCRIBE with a refused and an allowed filter: `-d` prints the SUBACK codes.
  auto sub_args = Cli("mosquitto_sub", Version(), "alice:cli", "alice", token);
  sub_args.insert(sub_args.begin(), {"stdbuf", "-oL"});
  sub_args.insert(sub_args.end(), {"-d", "-q", "1", "-t", "im/in/bob", "-t", "#", "-t",
                                   "im/in/alice", "-C", "1", "-W", "5"});
  Child sub(sub_args, Out("sub.out"));
  const std::string want = "Subscribed (mid: 1): " + std::to_string(RefusedSubscribe()) + ", " +
                           std::to_string(RefusedSubscribe()) + ", 1";
  EXPECT_TRUE(WaitUntil([&] { return sub.Output().find(want) != std::string::npos; }, 5s))
      << sub.Output();

  // A refused QoS 1 publish: PUBACK 0x87 over MQTT 5 (shown with -d), nothing over 3.1.1.
  auto pub_args = Cli("mosquitto_pub", Version(), "alice:cli2", "alice", token);
  pub_args.insert(pub_args.end(), {"-d", "-q", "1", "-t", "im/in/bob", "-m", "x"});
  Child pub(pub_args, Out("pub.out"));
  EXPECT_EQ(pub.Wait(), 0) << pub.Output();
  if (Version() == 5) {
    EXPECT_NE(pub.Output().find("PUBACK (Mid: 1, RC:135)"), std::string::npos) << pub.Output();
  } else {
    EXPECT_NE(pub.Output().find("received PUBACK (Mid: 1"), std::string::npos) << pub.Output();
  }
}

// ---------------------------------------------------------------------------------------------
// Wills (Mosquitto 2.0.11 checks a will with an ACL write check when it is about to publish
// it, at an unexpected disconnect; the CONNECT itself is not refused).

TEST_P(PluginBrokerVersionTest, WillOnlyOnTheOwnUpTopicAndNeverRetained) {
  auto monitor = Monitor();
  struct Case {
    const char* device;
    ProbeWill will;
    bool published;
  };
  const Case cases[] = {
      {"w1", {"im/up/alice/w1", "will:own", 1, false}, true},
      {"w2", {"im/in/bob", "will:bob-inbox", 1, false}, false},
      {"w3", {"im/up/alice/other", "will:other-device", 1, false}, false},
      {"w4", {"im/up/alice/w4", "will:retained", 1, true}, false},
      {"w5", {"$SYS/x", "will:sys", 0, false}, false},
  };
  for (const Case& c : cases) {
    ProbeOptions options =
        Options("alice:" + std::string(c.device), "alice", Token("alice"), Version());
    options.will = c.will;
    MqttProbe device(options);
    ASSERT_EQ(device.Connect(), 0) << c.will.payload;  // a forbidden will does not refuse
    EXPECT_EQ(device.Subscribe({"im/in/alice"}), std::vector<int>{1}) << c.will.payload;
    device.DropConnection();
  }
  // A refused CONNECT's will is never published either.
  {
    ProbeOptions options = Options("alice:w6", "alice", "bad-token", Version());
    options.will = ProbeWill{"im/up/alice/w6", "will:refused-connect", 1, false};
    MqttProbe device(options);
    EXPECT_EQ(device.Connect(), RefusedConnect());
  }
  auto marker = Connected("alice:marker", Version());
  EXPECT_GE(marker->Publish("im/up/alice/marker", "marker"), 0);
  ASSERT_TRUE(monitor->WaitForPayload("marker"));
  ASSERT_TRUE(monitor->WaitForPayload("will:own"));
  for (const Case& c : cases) {
    const bool seen = monitor->WaitForPayload(c.will.payload, 0ms);
    EXPECT_EQ(seen, c.published) << c.will.payload;
  }
  EXPECT_FALSE(monitor->WaitForPayload("will:refused-connect", 0ms));
}

TEST_F(PluginBrokerTest, DelayedWillIsNeverPublished) {
  // MQTT 5 Will Delay Interval: Mosquitto checks such a will only after the delay, when the
  // plugin has already forgotten the connection, so it is refused (fail closed).
  auto monitor = Monitor();
  ProbeOptions options = Options("alice:w1", "alice", Token("alice"), 5);
  options.will = ProbeWill{"im/up/alice/w1", "will:delayed", 1, false, /*delay_s=*/1};
  MqttProbe device(options);
  ASSERT_EQ(device.Connect(), 0);
  device.DropConnection();
  EXPECT_FALSE(monitor->WaitForPayload("will:delayed", 2500ms));  // delay 1 s, then routing
}

// ---------------------------------------------------------------------------------------------
// Operations

TEST_F(PluginBrokerTest, SighupReloadsKeysAndKeepsLiveConnections) {
  auto monitor = Monitor();
  auto alice = Connected("alice:phone");
  const common::SigningKey rotated = common::GenerateSigningKey();
  const std::string bob_token =
      common::TokenSigner(rotated).Issue("bob", Role::kUser, NowMs(), kHour);
  {
    MqttProbe bob(Options("bob:phone", "bob", bob_token, 5));
    EXPECT_EQ(bob.Connect(), kRefusedV5);  // not trusted yet
  }
  std::ofstream(PublicKeyFile(), std::ios::app) << common::Base64Encode(rotated.public_key) << "\n";
  ASSERT_EQ(::kill(broker_->pid(), SIGHUP), 0);
  std::unique_ptr<MqttProbe> bob;
  ASSERT_TRUE(WaitUntil(
      [&] {
        bob = std::make_unique<MqttProbe>(Options("bob:phone", "bob", bob_token, 5));
        return bob->Connect() == 0;
      },
      5s, 50ms));
  // Alice's connection kept its state through the reload.
  EXPECT_TRUE(Accepted(alice->Publish("im/up/alice/phone", "after-reload")));
  EXPECT_TRUE(monitor->WaitForPayload("after-reload"));
  EXPECT_EQ(alice->Publish("im/in/bob", "x"), kRefusedV5);

  // A bad key file at reload keeps the old keys.
  std::ofstream(PublicKeyFile(), std::ios::trunc) << "garbage\n";
  ASSERT_EQ(::kill(broker_->pid(), SIGHUP), 0);
  auto carol = std::make_unique<MqttProbe>(Options("carol:phone", "carol", Token("carol"), 5));
  EXPECT_EQ(carol->Connect(), 0);
}

TEST(PluginStartupTest, BrokerRefusesToStartWithABadOption) {
  sparrow::testing::TempDir keys;
  (void)common::LoadOrCreateSigningKey(keys.path().string());
  const std::string key_file = (keys.path() / "token_public.key").string();
  const std::vector<MosquittoOptions> bad = {
      PluginBroker(key_file, {{"no_such_option", "1"}}),
      PluginBroker(key_file, {{"skew_ms", "soon"}}),
      PluginBroker((keys.path() / "missing.key").string()),
      PluginBroker(""),  // no key file at all
  };
  for (const MosquittoOptions& options : bad) {
    MosquittoProcess broker(options);
    EXPECT_THROW(broker.Start(), std::runtime_error);
    EXPECT_FALSE(broker.running());
  }
}

TEST_F(PluginBrokerTest, SparrowTokenToolMintsTokensTheBrokerAccepts) {
  Child tool({SPARROW_TOKEN_BIN, "--key-dir", keys_.path().string(), "--sub", "bridge", "--role",
              "svc", "--ttl", "600"},
             Out("token.out"));
  ASSERT_EQ(tool.Wait(), 0) << tool.Output();
  std::string token = tool.Output();
  while (!token.empty() && token.back() == '\n') token.pop_back();
  MqttProbe svc(Options("bridge:cli", "bridge", token, 5));
  ASSERT_EQ(svc.Connect(), 0);
  EXPECT_EQ(svc.Subscribe({"im/#"}), std::vector<int>{1});

  Child bad_sub({SPARROW_TOKEN_BIN, "--key-dir", keys_.path().string(), "--sub", "Not Valid"},
                Out("bad.out"));
  EXPECT_EQ(bad_sub.Wait(), 1);
  Child bad_role(
      {SPARROW_TOKEN_BIN, "--key-dir", keys_.path().string(), "--sub", "bridge", "--role", "root"},
      Out("bad-role.out"));
  EXPECT_NE(bad_role.Wait(), 0);
}

}  // namespace
}  // namespace sparrow::plugin

namespace sparrow::plugin {
namespace {

TEST_F(PluginBrokerTest, PresenceIsRetainedWhileADeviceIsConnected) {
  auto alice = Connected("alice:phone");
  // A service subscribing later still learns who is online: the report is retained.
  auto bridge = Connected("bridge:presence", 5, Role::kSvc);
  ASSERT_EQ(bridge->Subscribe({"im/sys/presence/#"}), std::vector<int>{1});
  ASSERT_TRUE(bridge->WaitForMessage([](const ProbeMessage& m) {
    return m.topic == "im/sys/presence/b1/alice/phone" &&
           m.payload.find("\"online\":true") != std::string::npos;
  }));
  // The report carries this broker run's epoch, announced (retained) on im/sys/presence/b1.
  ASSERT_TRUE(bridge->WaitForMessage(
      [](const ProbeMessage& m) { return m.topic == "im/sys/presence/b1" && m.retain; }));
  std::string epoch_payload, report_payload;
  for (const auto& m : bridge->Messages()) {
    if (m.topic == "im/sys/presence/b1") epoch_payload = m.payload;
    if (m.topic == "im/sys/presence/b1/alice/phone") report_payload = m.payload;
  }
  const std::string epoch = epoch_payload.substr(epoch_payload.find(':') + 1);
  EXPECT_NE(report_payload.find("\"epoch\":" + epoch.substr(0, epoch.size() - 1)),
            std::string::npos)
      << epoch_payload << " vs " << report_payload;
  alice->Disconnect();
  ASSERT_TRUE(bridge->WaitForMessage([](const ProbeMessage& m) {
    return m.topic == "im/sys/presence/b1/alice/phone" && m.payload.empty();
  }));
  // ... and nothing is retained once the device left.
  auto late = Connected("bridge:late", 5, Role::kSvc);
  ASSERT_EQ(late->Subscribe({"im/sys/presence/#", "im/sys/marker"}), (std::vector<int>{1, 1}));
  ASSERT_EQ(bridge->Publish("im/sys/marker", "m"), 0);
  ASSERT_TRUE(late->WaitForPayload("m"));
  for (const auto& m : late->Messages()) {
    EXPECT_NE(m.topic, "im/sys/presence/b1/alice/phone");
  }
}

TEST_F(PluginBrokerTest, RevocationKicksLiveSessionsAndRefusesOlderTokens) {
  const std::string old_token = Token("alice");
  auto alice = std::make_unique<MqttProbe>(Options("alice:phone", "alice", old_token, 5));
  ASSERT_EQ(alice->Connect(), 0);
  auto authsvc = Connected("authsvc:w1", 5, Role::kSvc);
  // A user cannot revoke anyone (the ACL refuses the publish; the plugin ignores it anyway).
  auto mallory = Connected("mallory:phone");
  EXPECT_NE(mallory->Publish("im/sys/revoke/alice", R"({"before":99999999999999})"), 0);
  EXPECT_FALSE(alice->WaitDisconnected(300ms));

  const std::int64_t before = NowMs() + 1;
  const int puback =
      authsvc->Publish("im/sys/revoke/alice", "{\"before\":" + std::to_string(before) + "}");
  EXPECT_TRUE(puback == 0 || puback == 0x10) << puback;  // 0x10: no matching subscribers
  EXPECT_TRUE(alice->WaitDisconnected(5s));
  MqttProbe again(Options("alice:phone", "alice", old_token, 5));
  EXPECT_EQ(again.Connect(), kRefusedV5);
  ASSERT_TRUE(WaitUntil([&] { return NowMs() > before; }, 1s));  // a token issued after it
  auto fresh = std::make_unique<MqttProbe>(Options("alice:phone", "alice", Token("alice"), 5));
  EXPECT_EQ(fresh->Connect(), 0);
}

}  // namespace
}  // namespace sparrow::plugin
