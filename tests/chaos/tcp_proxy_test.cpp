// TcpProxy against a real (anonymous) Mosquitto: traffic passes, CutAll resets every connection,
// clients come back through it.
#include "tests/chaos/tcp_proxy.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "testing/mqtt/mosquitto_process.hpp"
#include "testing/mqtt/wait.hpp"
#include "transport/transport.hpp"

namespace sparrow::chaos {
namespace {

using namespace std::chrono_literals;

TEST(TcpProxyTest, RelaysTrafficAndCutsEveryConnection) {
  testing::MosquittoProcess broker;
  broker.Start();
  TcpProxy proxy(broker.port());
  std::atomic<int> received{0};
  std::atomic<int> disconnects{0};
  auto sub = transport::MakeTransport("mosquitto",
                                      transport::Options{.port = proxy.port(), .client_id = "sub"});
  sub->SetMessageHandler([&](transport::Message&&) { ++received; });
  sub->SetConnectionHandler([&](bool up, int) {
    if (!up) ++disconnects;
  });
  sub->Subscribe("t", 1);
  sub->Start();
  auto pub = transport::MakeTransport("mosquitto",
                                      transport::Options{.port = proxy.port(), .client_id = "pub"});
  pub->Start();
  ASSERT_TRUE(sub->WaitConnected(5s));
  ASSERT_TRUE(pub->WaitConnected(5s));
  ASSERT_TRUE(testing::WaitUntil([&] { return proxy.connections() == 2; }, 5s));
  // The subscription may still be on its way: publish until one arrives.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        (void)pub->Publish("t", std::string(100000, 'x'), 1);  // bigger than one read
        return received.load() > 0;
      },
      5s, 50ms));

  EXPECT_EQ(proxy.CutAll(), 2);
  ASSERT_TRUE(testing::WaitUntil([&] { return disconnects.load() > 0; }, 5s));
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return proxy.connections() == 2 && sub->IsConnected() && pub->IsConnected(); }, 10s));
  const int before = received.load();
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        (void)pub->Publish("t", "after", 1);
        return received.load() > before;
      },
      5s, 50ms));
  EXPECT_GE(proxy.accepted(), 4u);
  sub->Stop();
  pub->Stop();
}

}  // namespace
}  // namespace sparrow::chaos
