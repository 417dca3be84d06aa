#include "agent/profile/utf8_validate.h"

#include <gtest/gtest.h>

#include <string>

namespace inprof::internal {
namespace {

TEST(Utf8ValidateTest, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii /usr/bin/demo"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo"));          // U+00E9
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));          // U+20AC
  EXPECT_TRUE(IsValidUtf8("\xef\xbf\xbd"));          // U+FFFD
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x94\xa5"));      // U+1F525
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));  // NUL is valid
}

TEST(Utf8ValidateTest, RejectsOverlongForms) {
  EXPECT_FALSE(IsValidUtf8("\xc0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc1\xbf"));
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xe0\x9f\xbf"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x8f\xbf\xbf"));
}

TEST(Utf8ValidateTest, RejectsSurrogatesAndValuesAboveMax) {
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // U+D800
  EXPECT_FALSE(IsValidUtf8("\xed\xbf\xbf"));      // U+DFFF
  EXPECT_TRUE(IsValidUtf8("\xed\x9f\xbf"));       // U+D7FF
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(Utf8ValidateTest, RejectsTruncatedAndStraySequences) {
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f\x94"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));
  EXPECT_FALSE(IsValidUtf8("\xe2\x28\xa1"));
}

TEST(Utf8ValidateTest, ReportsPositionOfFirstInvalidSequence) {
  EXPECT_EQ(FindInvalidUtf8("ok"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("ab\xc3\xa9\xff"), 4u);
  EXPECT_EQ(FindInvalidUtf8("abc\xe2\x82"), 3u);
}

}  // namespace
}  // namespace inprof::internal
