#include "protocol/json_writer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace sparrow::protocol {
namespace {

std::string Quote(std::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

TEST(JsonWriterTest, EscapesQuoteBackslashAndEveryControlCharacter) {
  EXPECT_EQ(Quote(""), "\"\"");
  EXPECT_EQ(Quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quote("\n\r\t"), R"("\u000a\u000d\u0009")");
  EXPECT_EQ(Quote(std::string("\0", 1)), R"("\u0000")");
  EXPECT_EQ(Quote("\x1f"), R"("\u001f")");
  EXPECT_EQ(Quote("/"), "\"/\"");        // no need to escape the solidus
  EXPECT_EQ(Quote("\x7f"), "\"\x7f\"");  // DEL is not a JSON control character
}

TEST(JsonWriterTest, PassesUtf8Through) {
  EXPECT_EQ(Quote("h\xc3\xa9 \xf0\x9f\x90\xa6 \xe2\x80\xa8"),
            "\"h\xc3\xa9 \xf0\x9f\x90\xa6 \xe2\x80\xa8\"");
}

TEST(JsonWriterTest, EveryByteValueRoundTripsThroughAJsonParser) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
  all += "\xc3\xa9\xf4\x8f\xbf\xbf";
  const std::string quoted = Quote(all);
  EXPECT_EQ(nlohmann::json::parse(quoted).get<std::string>(), all);
}

TEST(JsonWriterTest, AppendsIntegersInDecimal) {
  std::string out;
  AppendJsonInt(out, 0);
  out += ' ';
  AppendJsonInt(out, -42);
  out += ' ';
  AppendJsonInt(out, std::numeric_limits<std::int64_t>::min());
  out += ' ';
  AppendJsonUint(out, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(out, "0 -42 -9223372036854775808 18446744073709551615");
}

}  // namespace
}  // namespace sparrow::protocol
