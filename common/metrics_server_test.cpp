#include "common/metrics_server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/counter.h>

namespace sparrow::common {
namespace {

TEST(MetricsServerTest, ServesRegisteredCountersInTextFormat) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& frames = prometheus::BuildCounter()
                     .Name("sparrow_test_frames_total")
                     .Help("Frames seen by the test")
                     .Register(*registry);
  frames.Add({{"type", "chat"}}).Increment(3);

  MetricsServer server(registry, "127.0.0.1", 0);
  server.Start();
  ASSERT_GT(server.port(), 0);
  httplib::Client client("127.0.0.1", server.port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("sparrow_test_frames_total{type=\"chat\"} 3"), std::string::npos)
      << res->body;
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  server.Stop();
  server.Stop();  // idempotent
}

}  // namespace
}  // namespace sparrow::common
