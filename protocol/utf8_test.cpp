#include "protocol/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sparrow::protocol {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, long enough for the 8-byte fast path"));
  EXPECT_TRUE(IsValidUtf8(std::string("nul\0inside", 10)));
  EXPECT_TRUE(IsValidUtf8("\xc2\x80"));          // U+0080, smallest 2-byte
  EXPECT_TRUE(IsValidUtf8("\xdf\xbf"));          // U+07FF
  EXPECT_TRUE(IsValidUtf8("\xe0\xa0\x80"));      // U+0800, smallest 3-byte
  EXPECT_TRUE(IsValidUtf8("\xed\x9f\xbf"));      // U+D7FF, just below the surrogates
  EXPECT_TRUE(IsValidUtf8("\xee\x80\x80"));      // U+E000, just above them
  EXPECT_TRUE(IsValidUtf8("\xef\xbf\xbf"));      // U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xf0\x90\x80\x80"));  // U+10000, smallest 4-byte
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF, the largest code point
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x90\xa6 12345678"));
}

TEST(Utf8Test, RejectsMalformedSequences) {
  EXPECT_FALSE(IsValidUtf8("\x80"));  // lone continuation byte
  EXPECT_FALSE(IsValidUtf8("\xbf"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xc1\xbf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong 3-byte
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\xaf"));  // overlong 4-byte
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // U+D800, a surrogate
  EXPECT_FALSE(IsValidUtf8("\xed\xbf\xbf"));      // U+DFFF
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xfe"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));  // truncated at the end
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f\x90"));
  EXPECT_FALSE(IsValidUtf8("\xc3("));  // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xe2\x28\xa1"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f\x90\x28"));
}

TEST(Utf8Test, FindsAnInvalidByteAfterALongAsciiRun) {
  std::string text(1000, 'a');
  EXPECT_TRUE(IsValidUtf8(text));
  text[997] = '\xff';
  EXPECT_FALSE(IsValidUtf8(text));
  text[997] = 'a';
  text.back() = '\xc3';
  EXPECT_FALSE(IsValidUtf8(text));
}

}  // namespace
}  // namespace sparrow::protocol
