#include "agent/symbolize/utf8.h"

#include "gtest/gtest.h"

namespace inprof::internal {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

TEST(Utf8Test, KeepsValidText) {
  EXPECT_EQ(SanitizeUtf8("/src/app.cc"), "/src/app.cc");
  EXPECT_EQ(SanitizeUtf8("/src/caf\xC3\xA9/\xE2\x82\xAC/\xF0\x9F\x98\x80.cc"),
            "/src/caf\xC3\xA9/\xE2\x82\xAC/\xF0\x9F\x98\x80.cc");
  EXPECT_EQ(SanitizeUtf8(""), "");
}

TEST(Utf8Test, ReplacesEachBadByte) {
  EXPECT_EQ(SanitizeUtf8("a\xFF"
                         "b"),
            std::string("a") + kReplacement + "b");
  // Latin-1 file name.
  EXPECT_EQ(SanitizeUtf8("caf\xE9.cc"),
            std::string("caf") + kReplacement + ".cc");
  // Truncated sequence at the end.
  EXPECT_EQ(SanitizeUtf8("x\xE2\x82"),
            std::string("x") + kReplacement + kReplacement);
}

TEST(Utf8Test, RejectsOverlongsSurrogatesAndOutOfRange) {
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), std::string(kReplacement) + kReplacement);
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"),
            std::string(kReplacement) + kReplacement + kReplacement);
  EXPECT_EQ(
      SanitizeUtf8("\xF4\x90\x80\x80"),
      std::string(kReplacement) + kReplacement + kReplacement + kReplacement);
}

}  // namespace
}  // namespace inprof::internal
