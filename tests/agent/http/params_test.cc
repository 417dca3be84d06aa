#include "agent/http/params.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdint>
#include <string>

#include "agent/http/pprof_handlers.h"
#include "agent/http/responses.h"

namespace inprof::internal {
namespace {

TEST(ParamsTest, ParsesSecondsInRange) {
  for (const auto& [text, want] :
       {std::pair{"1", 1}, {"30", 30}, {"300", 300}, {"0010", 10}}) {
    StatusOr<int> seconds = ParseSecondsValue(text, 300);
    ASSERT_TRUE(seconds.ok()) << text << ": " << seconds.status().ToString();
    EXPECT_EQ(*seconds, want) << text;
  }
}

TEST(ParamsTest, RejectsBadSecondsNamingTheValue) {
  const struct {
    const char* value;
    const char* message;
  } kCases[] = {
      {"abc", "seconds=abc: not an integer"},
      {"1.5", "seconds=1.5: not an integer"},
      {"", "seconds=: not an integer"},
      {"-", "seconds=-: not an integer"},
      {"+5", "seconds=+5: not an integer"},
      {"0x10", "seconds=0x10: not an integer"},
      {" 5", "seconds= 5: not an integer"},
      {"5\n", "seconds=5\\x0a: not an integer"},
      {"-1", "seconds=-1: must be between 1 and 300"},
      {"0", "seconds=0: must be between 1 and 300"},
      {"301", "seconds=301: must be between 1 and 300"},
      {"99999999999999999999999",
       "seconds=99999999999999999999999: must be "
       "between 1 and 300"},
  };
  for (const auto& c : kCases) {
    StatusOr<int> seconds = ParseSecondsValue(c.value, 300);
    ASSERT_FALSE(seconds.ok()) << c.value;
    EXPECT_EQ(seconds.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(seconds.status().message(), c.message);
  }
}

TEST(ParamsTest, MissingSecondsGivesDefault) {
  httplib::Request req;
  StatusOr<int> seconds = ParseProfileSeconds(req, 30, 300);
  ASSERT_TRUE(seconds.ok());
  EXPECT_EQ(*seconds, 30);
  req.params.emplace("seconds", "7");
  seconds = ParseProfileSeconds(req, 30, 300);
  ASSERT_TRUE(seconds.ok());
  EXPECT_EQ(*seconds, 7);
}

TEST(ParamsTest, ParsesSymbolAddressesWithCStylePrefixes) {
  EXPECT_EQ(ParseSymbolAddress("0x1234"), 0x1234u);
  EXPECT_EQ(ParseSymbolAddress("0X1234"), 0x1234u);
  EXPECT_EQ(ParseSymbolAddress("4660"), 0x1234u);
  EXPECT_EQ(ParseSymbolAddress("011064"), 0x1234u);  // octal
  EXPECT_EQ(ParseSymbolAddress("0"), 0u);
  EXPECT_EQ(ParseSymbolAddress("0xffffffffffffffff"), UINT64_MAX);
}

TEST(ParamsTest, RejectsMalformedSymbolAddresses) {
  for (const char* token : {"", "x", "0x", "0xg", "12ab", " 1", "-1", "+1",
                            "08", "0x10000000000000000", "0x12 "}) {
    EXPECT_FALSE(ParseSymbolAddress(token).has_value()) << '"' << token << '"';
  }
}

TEST(ParamsTest, RawQueryIsUndecoded) {
  httplib::Request req;
  req.target = "/debug/pprof/symbol?0x1+0x2%2B";
  EXPECT_EQ(RawQuery(req), "0x1+0x2%2B");
  req.target = "/debug/pprof/symbol";
  EXPECT_EQ(RawQuery(req), "");
}

TEST(ResponsesTest, MapsStatusCodesToHttp) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kFailedPrecondition), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFor(StatusCode::kOk), 500);
}

TEST(ResponsesTest, OneLineEscapesControlCharactersAndTruncates) {
  EXPECT_EQ(OneLine("a\nb\r\x7f"), "a\\x0ab\\x0d\\x7f");
  EXPECT_EQ(OneLine("abcdef", 3), "abc...");
}

TEST(SymbolAnswerTest, ListsKnownAddressesInOrderAndSkipsTheRest) {
  auto name = [](uint64_t address) -> std::string {
    return address == 0x1234 ? "app::foo" : "";
  };
  EXPECT_EQ(AnswerSymbolRequest("", name), "num_symbols: 1\n");
  EXPECT_EQ(AnswerSymbolRequest("0x1234+0x9999+junk++0+4660+0X1234", name),
            "num_symbols: 1\n0x1234 app::foo\n0x1234 app::foo\n"
            "0x1234 app::foo\n");
  EXPECT_EQ(AnswerSymbolRequest("0x1234", nullptr), "num_symbols: 1\n");
}

}  // namespace
}  // namespace inprof::internal
