// The W3C traceparent parser (agent/labels/trace_parent.h), against the
// spec's examples and its rules for invalid headers
// (https://www.w3.org/TR/trace-context/#traceparent-header).
#include "agent/labels/trace_parent.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace inprof::internal {
namespace {

constexpr char kSpecExample[] =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::string TraceIdOf(const TraceParent& parsed) {
  return LowerHex(parsed.trace_id, sizeof(parsed.trace_id));
}
std::string SpanIdOf(const TraceParent& parsed) {
  return LowerHex(parsed.span_id, sizeof(parsed.span_id));
}

TEST(TraceParentTest, ParsesTheSpecExample) {
  std::optional<TraceParent> parsed = ParseTraceParent(kSpecExample);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(TraceIdOf(*parsed), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(SpanIdOf(*parsed), "00f067aa0ba902b7");
  EXPECT_EQ(parsed->flags, 1);
  EXPECT_EQ(parsed->trace_id[0], 0x4b);
  EXPECT_EQ(parsed->span_id[7], 0xb7);
}

TEST(TraceParentTest, IgnoresSurroundingWhitespace) {
  EXPECT_TRUE(ParseTraceParent(std::string(" \t") + kSpecExample + " "));
}

TEST(TraceParentTest, RejectsUppercaseHex) {
  EXPECT_FALSE(ParseTraceParent(
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(ParseTraceParent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"));
  EXPECT_FALSE(ParseTraceParent(
      "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

TEST(TraceParentTest, RejectsAllZeroIds) {
  EXPECT_FALSE(ParseTraceParent(
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(ParseTraceParent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
}

TEST(TraceParentTest, RejectsVersionFf) {
  EXPECT_FALSE(ParseTraceParent(
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

TEST(TraceParentTest, Version00IsExactly55Characters) {
  EXPECT_FALSE(ParseTraceParent(std::string(kSpecExample) + "-extra"));
  EXPECT_FALSE(ParseTraceParent(std::string(kSpecExample) + "0"));
  EXPECT_FALSE(ParseTraceParent(std::string(kSpecExample).substr(0, 54)));
  EXPECT_FALSE(ParseTraceParent(""));
}

TEST(TraceParentTest, LaterVersionsMayAppendFieldsAfterADash) {
  constexpr char kVersion1[] =
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  EXPECT_TRUE(ParseTraceParent(kVersion1));
  std::optional<TraceParent> parsed =
      ParseTraceParent(std::string(kVersion1) + "-whatever-comes");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(TraceIdOf(*parsed), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_FALSE(ParseTraceParent(std::string(kVersion1) + "x"));
}

TEST(TraceParentTest, RejectsMisplacedOrMissingDashes) {
  EXPECT_FALSE(ParseTraceParent(
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(ParseTraceParent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"));
  EXPECT_FALSE(ParseTraceParent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01"));
  // Right length, fields shifted by one.
  EXPECT_FALSE(ParseTraceParent(
      "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01"));
}

TEST(TraceParentTest, RejectsNonHexCharacters) {
  EXPECT_FALSE(ParseTraceParent(
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"));
  EXPECT_FALSE(ParseTraceParent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x"));
}

TEST(TraceParentTest, LowerHexWritesTwoDigitsPerByte) {
  const uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(LowerHex(bytes, 4), "000fa0ff");
  EXPECT_EQ(LowerHex(bytes, 0), "");
}

}  // namespace
}  // namespace inprof::internal
