#include "transport/service_flags.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace sparrow::transport {
namespace {

TEST(ParseBrokersTest, ReadsIdsHostsAndPorts) {
  auto brokers = ParseBrokers("b1=127.0.0.1:1883,b2=mq.example:2883");
  ASSERT_EQ(brokers.size(), 2u);
  EXPECT_EQ(brokers[0], (BrokerEndpoint{"b1", "127.0.0.1", 1883}));
  EXPECT_EQ(brokers[1], (BrokerEndpoint{"b2", "mq.example", 2883}));
}

TEST(ParseBrokersTest, RefusesMalformedListsNamingTheFlag) {
  for (const char* bad : {"", "b1", "b1=host", "b1=host:0", "b1=host:x", "=host:1", "b1=:1883",
                          "b 1=h:1", "b1=h:1,b1=h:2", "b1=h:1,"}) {
    try {
      ParseBrokers(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const common::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--brokers"), std::string::npos) << e.what();
    }
  }
}

TEST(ServiceFlagsTest, WithoutBrokersTheSingleBrokerIsHostAndPort) {
  ServiceFlags flags;
  flags.host = "10.0.0.1";
  flags.port = 1999;
  auto endpoints = flags.Endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0], (BrokerEndpoint{"b1", "10.0.0.1", 1999}));
}

}  // namespace
}  // namespace sparrow::transport
