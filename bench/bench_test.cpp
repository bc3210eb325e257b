// Unit tests of the benchmark's own arithmetic: the histogram and the frame helpers the load
// generator uses instead of a JSON parser.
#include <gtest/gtest.h>

#include "bench/histogram.hpp"
#include "bench/loadgen.hpp"
#include "bench/report.hpp"

namespace sparrow::bench {
namespace {

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  for (std::int64_t v = 0; v < LatencyHistogram::kExactBelow; ++v) {
    EXPECT_EQ(LatencyHistogram::UpperBoundOf(LatencyHistogram::BucketOf(v)), v);
  }
}

TEST(LatencyHistogramTest, EveryValueFallsInABucketWithinOneSixtyFourth) {
  for (std::int64_t v = 1; v < (std::int64_t{1} << 40); v = v * 3 / 2 + 1) {
    const int bucket = LatencyHistogram::BucketOf(v);
    const std::int64_t upper = LatencyHistogram::UpperBoundOf(bucket);
    EXPECT_GE(upper, v);
    EXPECT_LE(static_cast<double>(upper - v), static_cast<double>(v) / 64.0 + 1) << v;
    if (bucket > 0) {
      EXPECT_LT(LatencyHistogram::UpperBoundOf(bucket - 1), v) << v;
    }
  }
}

TEST(LatencyHistogramTest, PercentilesOfAUniformRange) {
  LatencyHistogram h;
  for (int v = 1; v <= 100000; ++v) h.Record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.5)), 50e6, 50e6 / 60);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.99)), 99e6, 99e6 / 60);
  EXPECT_EQ(h.Percentile(1.0), 100'000'000);
  EXPECT_EQ(h.max(), 100'000'000);
  EXPECT_EQ(h.min(), 1000);
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a;
  LatencyHistogram b;
  for (int i = 0; i < 90; ++i) a.Record(100);
  for (int i = 0; i < 10; ++i) b.Record(1'000'000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.Percentile(0.5), 100);
  EXPECT_GE(a.Percentile(0.95), 1'000'000);
}

TEST(LatencyHistogramTest, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(0.99), 0);
  EXPECT_EQ(h.mean(), 0);
}

TEST(ChatFrameTest, IsPaddedToThePayloadSize) {
  const std::string frame = MakeChatFrame(42, "bob000001", 123456789012345, 200);
  EXPECT_EQ(frame.size(), 200u);
  EXPECT_TRUE(frame.starts_with(R"({"type":"chat","id":42,"destId":"bob000001")"));
  EXPECT_TRUE(frame.ends_with(R"(xx"})"));
}

TEST(ChatFrameTest, NeverShorterThanItsFields) {
  const std::string frame = MakeChatFrame(1, "bob", 5, 10);
  EXPECT_GT(frame.size(), 10u);
  EXPECT_TRUE(frame.ends_with(R"(;"})"));
}

TEST(ParseFrameTest, ReadsTheTimestampAndIdOfARelayedChat) {
  const std::string frame = MakeChatFrame(7, "bob", 987654321, 200);
  const FrameView v = ParseFrame(frame);
  EXPECT_EQ(v.type, "chat");
  EXPECT_EQ(v.send_ns, 987654321);
  EXPECT_EQ(v.body_id, 7);
}

TEST(ParseFrameTest, ReadsAServerChat) {
  const std::string frame =
      R"({"seq":18,"type":"chat","mid":"01JDXABC","id":42,"fromId":"alice","fromDevice":"d",)"
      R"("destId":"bob","kind":"text","msgBody":"t1000s42;xxxx","ts":1764430000000})";
  const FrameView v = ParseFrame(frame);
  EXPECT_EQ(v.type, "chat");
  EXPECT_EQ(v.seq, 18);
  EXPECT_EQ(v.mid, "01JDXABC");
  EXPECT_EQ(v.from_id, "alice");
  EXPECT_EQ(v.send_ns, 1000);
  EXPECT_EQ(v.body_id, 42);
}

TEST(ParseFrameTest, ReadsAcksSyncedAndErrors) {
  const FrameView sent =
      ParseFrame(R"({"type":"ack","msgType":"SENT","fromId":"alice","destId":"bob","ackMsgId":42,)"
                 R"("ackDevice":"d","mid":"01JDX"})");
  EXPECT_EQ(sent.type, "ack");
  EXPECT_EQ(sent.msg_type, "SENT");
  EXPECT_EQ(sent.ack_msg_id, 42);
  EXPECT_EQ(sent.seq, 0);
  const FrameView delivered =
      ParseFrame(R"({"seq":9,"type":"ack","msgType":"DELIVERED","fromId":"bob","destId":"alice",)"
                 R"("ackMsgId":41,"ackDevice":"d","mid":"01JDX"})");
  EXPECT_EQ(delivered.msg_type, "DELIVERED");
  EXPECT_EQ(delivered.seq, 9);
  EXPECT_EQ(delivered.ack_msg_id, 41);
  EXPECT_EQ(ParseFrame(R"({"type":"synced","upto":100000,"lastId":0})").upto, 100000);
  EXPECT_EQ(ParseFrame(R"({"type":"error","id":4,"code":"not_friends","message":"x"})").code,
            "not_friends");
}

TEST(NumberedUserTest, IsAValidUserIdOfFixedWidth) {
  EXPECT_EQ(NumberedUser("h", 42), "h000042");
  EXPECT_EQ(NumberedUser("t100p", 199), "t100p000199");
}

TEST(ReportTest, FormatsNumbers) {
  EXPECT_EQ(Thousands(1234567), "1,234,567");
  EXPECT_EQ(Thousands(999), "999");
  EXPECT_EQ(Percent(0.333), "33%");
  EXPECT_EQ(Millis(42'000), "0.042 ms");
  EXPECT_EQ(Millis(12'340'000), "12.3 ms");
}

TEST(ReportTest, TableEscapesPipes) {
  Report r;
  r.Add(Row{.scenario = "a|b", .sparrow = "1"});
  EXPECT_NE(r.Table().find("a\\|b"), std::string::npos);
}

}  // namespace
}  // namespace sparrow::bench
