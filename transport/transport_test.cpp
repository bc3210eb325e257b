// Integration tests of both Transport adapters against a real Mosquitto broker, over MQTT 5
// and 3.1.1. Every wait is a condition with a deadline (WaitUntil); every broker is stopped
// by its MosquittoProcess.
#include "transport/transport.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/mqtt/mosquitto_process.hpp"
#include "testing/mqtt/wait.hpp"

namespace sparrow::transport {
namespace {

using namespace std::chrono_literals;
using sparrow::testing::MosquittoProcess;
using sparrow::testing::WaitUntil;

// Collects what a transport's handlers report. Thread-safe.
class Inbox {
 public:
  void Attach(Transport& t) {
    t.SetMessageHandler([this](Message&& m) {
      std::lock_guard<std::mutex> lock(mutex_);
      messages_.push_back(std::move(m));
    });
    t.SetConnectionHandler([this](bool connected, int /*reason*/) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(connected);
    });
  }
  std::size_t CountOn(const std::string& topic) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t n = 0;
    for (const auto& m : messages_) n += m.topic == topic ? 1 : 0;
    return n;
  }
  // Distinct payloads received on topics starting with `prefix`.
  std::set<std::string> PayloadsUnder(const std::string& prefix) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::set<std::string> out;
    for (const auto& m : messages_) {
      if (m.topic.rfind(prefix, 0) == 0) out.insert(m.payload);
    }
    return out;
  }
  std::vector<Message> Messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }
  std::vector<bool> Events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Message> messages_;
  std::vector<bool> events_;
};

struct Param {
  std::string library;
  int protocol_version;
};

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return info.param.library + (info.param.protocol_version == 5 ? "_mqtt5" : "_mqtt311");
}

class TransportTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override { broker_.Start(); }

  Options MakeOptions(const std::string& client_id) const {
    return Options{
        .port = broker_.port(),
        .client_id = client_id,
        .protocol_version = GetParam().protocol_version,
        .reconnect_min = 20ms,
        .reconnect_max = 300ms,
    };
  }

  std::unique_ptr<Transport> Make(const Options& options, Inbox* inbox = nullptr) {
    auto t = MakeTransport(GetParam().library, options);
    if (inbox != nullptr) inbox->Attach(*t);
    return t;
  }

  std::unique_ptr<Transport> StartConnected(const std::string& client_id, Inbox* inbox = nullptr) {
    auto t = Make(MakeOptions(client_id), inbox);
    t->Start();
    EXPECT_TRUE(t->WaitConnected(5s)) << client_id;
    return t;
  }

  // Publishes probes on `topic` until the subscriber's inbox has one: proves that the
  // subscription is active at the broker (SUBACK is not reported by Transport).
  static bool AwaitRoute(Transport& publisher, const Inbox& inbox, const std::string& topic) {
    return WaitUntil(
        [&] {
          (void)publisher.Publish(topic, "probe", 0);
          return inbox.CountOn(topic) > 0;
        },
        10s, 20ms);
  }

  // Publishes, retrying backpressure (and a connection being re-established) until queued.
  static bool PublishRetrying(Transport& t, const std::string& topic, const std::string& payload,
                              int qos) {
    return WaitUntil([&] { return t.Publish(topic, payload, qos) == PublishResult::kQueued; }, 20s,
                     1ms);
  }

  MosquittoProcess broker_;
};

TEST_P(TransportTest, ConnectsAndReportsTheConnection) {
  Inbox inbox;
  auto t = StartConnected("c1", &inbox);
  EXPECT_TRUE(t->IsConnected());
  ASSERT_TRUE(WaitUntil([&] { return !inbox.Events().empty(); }, 2s));
  EXPECT_EQ(inbox.Events(), std::vector<bool>{true});
  EXPECT_EQ(t->GetStats().connects, 1u);
  EXPECT_EQ(t->GetStats().reconnects, 0u);
}

TEST_P(TransportTest, DeliversQos0AndQos1Messages) {
  Inbox inbox;
  auto sub = StartConnected("sub", &inbox);
  auto pub = StartConnected("pub");
  sub->Subscribe("chat/#", 1);
  ASSERT_TRUE(AwaitRoute(*pub, inbox, "chat/probe"));

  EXPECT_EQ(pub->Publish("chat/a", "zero", 0), PublishResult::kQueued);
  EXPECT_EQ(pub->Publish("chat/b", std::string("one\0binary", 10), 1), PublishResult::kQueued);
  ASSERT_TRUE(
      WaitUntil([&] { return inbox.CountOn("chat/a") + inbox.CountOn("chat/b") == 2; }, 5s));
  for (const auto& m : inbox.Messages()) {
    if (m.topic == "chat/a") {
      EXPECT_EQ(m.payload, "zero");
      EXPECT_EQ(m.qos, 0);
    } else if (m.topic == "chat/b") {
      EXPECT_EQ(m.payload, std::string("one\0binary", 10));
      EXPECT_EQ(m.qos, 1);
      EXPECT_FALSE(m.retain);
    }
  }
  EXPECT_GE(sub->GetStats().messages_in, 3u);
  EXPECT_GE(pub->GetStats().messages_out, 3u);
}

TEST_P(TransportTest, Qos1BurstOf2000ArrivesCompleteDespiteBackpressure) {
  Inbox inbox;
  auto sub = StartConnected("burst-sub", &inbox);
  Options options = MakeOptions("burst-pub");
  options.max_pending = 128;  // small, so that the burst meets backpressure
  auto pub = Make(options);
  pub->Start();
  ASSERT_TRUE(pub->WaitConnected(5s));
  sub->Subscribe("burst/#", 1);
  ASSERT_TRUE(AwaitRoute(*pub, inbox, "burst/probe"));

  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(PublishRetrying(*pub, "burst/x", std::to_string(i), 1)) << i;
  }
  ASSERT_TRUE(WaitUntil([&] { return inbox.PayloadsUnder("burst/x").size() == kCount; }, 30s))
      << "received " << inbox.PayloadsUnder("burst/x").size();
  EXPECT_TRUE(WaitUntil([&] { return pub->GetStats().pending == 0; }, 5s));
}

TEST_P(TransportTest, PublishesFromFourThreadsAtOnce) {
  Inbox inbox;
  auto sub = StartConnected("mt-sub", &inbox);
  auto pub = StartConnected("mt-pub");
  sub->Subscribe("mt/#", 1);
  ASSERT_TRUE(AwaitRoute(*pub, inbox, "mt/probe"));

  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string topic = "mt/" + std::to_string(t);
        if (!PublishRetrying(*pub, topic, std::to_string(t) + ":" + std::to_string(i), i % 2)) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  // QoS 0 over loopback with a healthy broker is not lost either.
  ASSERT_TRUE(
      WaitUntil([&] { return inbox.PayloadsUnder("mt/").size() == kThreads * kEach + 1; }, 30s))
      << "received " << inbox.PayloadsUnder("mt/").size();
}

// Each thread publishes one message and waits for it before the next, so that the network
// thread often goes idle between publishes: in MosquittoTransport a lost wake-up would leave
// a message waiting for the 1 s poll timeout and miss the 700 ms round deadline. Paho (Nagle
// on, its own threads, slow under sanitizers) only has to keep the messages flowing.
TEST_P(TransportTest, DeliversPromptlyWhenPublishesComeOneByOneFromSeveralThreads) {
  Inbox inbox;
  auto sub = StartConnected("pp-sub", &inbox);
  auto pub = StartConnected("pp-pub");
  sub->Subscribe("pp/#", 1);
  ASSERT_TRUE(AwaitRoute(*pub, inbox, "pp/probe"));

  constexpr int kThreads = 4;
  constexpr int kRounds = 150;
  const auto round_deadline = GetParam().library == "mosquitto" ? 700ms : 5000ms;
  std::atomic<int> late{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string topic = "pp/" + std::to_string(t);
      for (int i = 0; i < kRounds; ++i) {
        if (!PublishRetrying(*pub, topic, std::to_string(i), 1) ||
            !WaitUntil([&] { return inbox.CountOn(topic) == static_cast<std::size_t>(i + 1); },
                       round_deadline, 1ms)) {
          ++late;
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(late.load(), 0);
}

TEST_P(TransportTest, ResubscribesAndFlowsAgainAfterBrokerRestart) {
  Inbox inbox;
  auto sub = StartConnected("rs-sub", &inbox);
  auto pub = StartConnected("rs-pub");
  sub->Subscribe("rs/#", 1);
  ASSERT_TRUE(AwaitRoute(*pub, inbox, "rs/probe"));

  broker_.Restart();
  ASSERT_TRUE(
      WaitUntil([&] { return sub->GetStats().reconnects >= 1 && sub->IsConnected(); }, 10s));
  ASSERT_TRUE(WaitUntil([&] { return pub->IsConnected(); }, 10s));
  ASSERT_TRUE(AwaitRoute(*pub, inbox, "rs/after"));
  ASSERT_TRUE(PublishRetrying(*pub, "rs/data", "payload", 1));
  EXPECT_TRUE(WaitUntil([&] { return inbox.CountOn("rs/data") == 1; }, 5s));
  const auto events = inbox.Events();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0], true);
  EXPECT_EQ(events[1], false);
  EXPECT_EQ(events[2], true);
}

TEST_P(TransportTest, ReconnectsAfterBrokerIsKilled) {
  Inbox inbox;
  auto sub = StartConnected("kill-sub", &inbox);
  auto pub = StartConnected("kill-pub");
  sub->Subscribe("kill/#", 1);
  ASSERT_TRUE(AwaitRoute(*pub, inbox, "kill/probe"));

  broker_.Kill();
  ASSERT_TRUE(WaitUntil([&] { return !sub->IsConnected() && !pub->IsConnected(); }, 10s));
  EXPECT_EQ(pub->Publish("kill/x", "lost", 1), PublishResult::kNotConnected);
  broker_.Restart();
  ASSERT_TRUE(WaitUntil([&] { return sub->IsConnected() && pub->IsConnected(); }, 10s));
  ASSERT_TRUE(AwaitRoute(*pub, inbox, "kill/after"));
}

TEST_P(TransportTest, PublishWhileDisconnectedReturnsNotConnected) {
  auto t = Make(MakeOptions("nc"));
  EXPECT_EQ(t->Publish("x/y", "p", 1), PublishResult::kNotConnected);  // not started
  EXPECT_FALSE(t->IsConnected());
  t->Start();
  ASSERT_TRUE(t->WaitConnected(5s));
  EXPECT_EQ(t->Publish("x/y", "p", 1), PublishResult::kQueued);
  t->Stop();
  EXPECT_EQ(t->Publish("x/y", "p", 1), PublishResult::kNotConnected);
}

TEST_P(TransportTest, InvalidPublishIsRejectedNotRetried) {
  auto t = StartConnected("inv");
  EXPECT_EQ(t->Publish("a/+/b", "p", 1), PublishResult::kInvalid);
  EXPECT_EQ(t->Publish("a/b", "p", 3), PublishResult::kInvalid);
}

TEST_P(TransportTest, StopIsIdempotentAndPrompt) {
  Inbox inbox;
  auto t = StartConnected("stop", &inbox);
  auto begin = std::chrono::steady_clock::now();
  t->Stop();
  t->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  EXPECT_FALSE(t->IsConnected());
  EXPECT_FALSE(t->WaitConnected(10ms));
  const auto events = inbox.Events();
  ASSERT_EQ(events.size(), 2u);  // connected, then our own clean disconnect
  EXPECT_FALSE(events[1]);

  // While the broker is down and the transport backs off for seconds, Stop is still prompt.
  broker_.Stop();
  Options options = MakeOptions("stop-down");
  options.reconnect_min = 5s;
  options.reconnect_max = 30s;
  auto down = Make(options);
  down->Start();
  EXPECT_FALSE(down->WaitConnected(200ms));
  begin = std::chrono::steady_clock::now();
  down->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);

  auto never_started = Make(MakeOptions("never"));
  never_started->Stop();
  never_started->Stop();
}

TEST_P(TransportTest, PersistentSessionQueuesMessagesWhileAway) {
  Inbox first_inbox;
  Options options = MakeOptions("persist-sub");
  options.clean_start = false;
  if (GetParam().protocol_version == 5) options.session_expiry_s = 300;
  auto pub = StartConnected("persist-pub");
  {
    auto sub = Make(options, &first_inbox);
    sub->Subscribe("away/#", 1);
    sub->Start();
    ASSERT_TRUE(sub->WaitConnected(5s));
    ASSERT_TRUE(AwaitRoute(*pub, first_inbox, "away/probe"));
    sub->Stop();
  }
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(PublishRetrying(*pub, "away/x", std::to_string(i), 1));
  ASSERT_TRUE(WaitUntil([&] { return pub->GetStats().pending == 0; }, 5s));

  Inbox second_inbox;
  auto back = Make(options, &second_inbox);  // no Subscribe: the session has it
  back->Start();
  ASSERT_TRUE(back->WaitConnected(5s));
  EXPECT_TRUE(WaitUntil([&] { return second_inbox.PayloadsUnder("away/x").size() == 10; }, 5s))
      << second_inbox.PayloadsUnder("away/x").size();
}

INSTANTIATE_TEST_SUITE_P(Libraries, TransportTest,
                         ::testing::Values(Param{"mosquitto", 5}, Param{"mosquitto", 4},
                                           Param{"paho", 5}, Param{"paho", 4}),
                         ParamName);

// libmosquitto only: the source address option.
TEST(MosquittoTransportTest, ConnectsFromTheGivenSourceAddress) {
  MosquittoProcess broker;
  broker.Start();
  auto t = MakeTransport(
      "mosquitto",
      Options{.port = broker.port(), .client_id = "bound", .bind_address = "127.0.0.2"});
  t->Start();
  EXPECT_TRUE(t->WaitConnected(5s));
}

}  // namespace
}  // namespace sparrow::transport
