#include "agent/flight/autocapture_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;
using Params = std::vector<std::pair<std::string, std::string>>;

AutoCaptureSettings Apply(const AutoCaptureSettings& current,
                          const Params& params) {
  StatusOr<AutoCaptureSettings> next = ApplyAutoCaptureParams(current, params);
  EXPECT_TRUE(next.ok()) << next.status().ToString();
  return next.ok() ? *next : current;
}

std::string Error(const AutoCaptureSettings& current, const Params& params) {
  StatusOr<AutoCaptureSettings> next = ApplyAutoCaptureParams(current, params);
  EXPECT_FALSE(next.ok());
  if (next.ok()) return "";
  EXPECT_EQ(next.status().code(), StatusCode::kInvalidArgument);
  return next.status().message();
}

TEST(AutoCaptureSettingsTest, AThresholdTurnsItOnAndNoParametersChangeNothing) {
  AutoCaptureSettings off;
  EXPECT_EQ(Apply(off, {}), off);  // curl -X POST with nothing
  AutoCaptureSettings on = Apply(off, {{"threshold_ms", "100"}});
  EXPECT_TRUE(on.enabled);
  EXPECT_EQ(on.threshold_ms, 100);
  EXPECT_EQ(on.ThresholdNanos("GET /anything"), 100'000'000);
  EXPECT_EQ(Apply(on, {}), on);
}

TEST(AutoCaptureSettingsTest, EndpointsHaveThresholdsOfTheirOwn) {
  AutoCaptureSettings s = Apply({}, {{"threshold_ms", "100"}});
  s = Apply(s, {{"endpoint", "GET /search"}, {"threshold_ms", "500"}});
  EXPECT_EQ(s.ThresholdNanos("GET /search"), 500'000'000);
  EXPECT_EQ(s.ThresholdNanos("GET /users"), 100'000'000);
  // threshold_ms=0 for an endpoint removes its own threshold.
  s = Apply(s, {{"endpoint", "GET /search"}, {"threshold_ms", "0"}});
  EXPECT_EQ(s.ThresholdNanos("GET /search"), 100'000'000);
  EXPECT_TRUE(s.endpoint_threshold_ms.empty());
}

TEST(AutoCaptureSettingsTest, OnlySomeEndpointsCanBeWatched) {
  AutoCaptureSettings s =
      Apply({}, {{"endpoint", "GET /slow"}, {"threshold_ms", "50"}});
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.ThresholdNanos("GET /slow"), 50'000'000);
  EXPECT_EQ(s.ThresholdNanos("GET /other"), 0);  // never slow
}

TEST(AutoCaptureSettingsTest, EnabledTogglesAndTheLastThresholdTurnsItOff) {
  AutoCaptureSettings s = Apply({}, {{"threshold_ms", "100"}});
  AutoCaptureSettings off = Apply(s, {{"enabled", "0"}});
  EXPECT_FALSE(off.enabled);
  EXPECT_EQ(off.threshold_ms, 100);  // kept for when it comes back on
  EXPECT_TRUE(Apply(off, {{"enabled", "1"}}).enabled);
  AutoCaptureSettings none = Apply(s, {{"threshold_ms", "0"}});
  EXPECT_FALSE(none.enabled);
  EXPECT_THAT(Error(none, {{"enabled", "1"}}), HasSubstr("no threshold"));
}

TEST(AutoCaptureSettingsTest, BadChangesAreRefusedWhole) {
  AutoCaptureSettings s = Apply({}, {{"threshold_ms", "100"}});
  EXPECT_THAT(Error(s, {{"threshold_ms", "-1"}}), HasSubstr("threshold_ms=-1"));
  EXPECT_THAT(Error(s, {{"threshold_ms", "10ms"}}),
              HasSubstr("threshold_ms=10ms"));
  EXPECT_THAT(Error(s, {{"threshold_ms", "3600001"}}), HasSubstr("0..3600000"));
  EXPECT_THAT(Error(s, {{"enabled", "yes"}}), HasSubstr("enabled=yes"));
  EXPECT_THAT(Error(s, {{"treshold_ms", "100"}}), HasSubstr("treshold_ms"));
  EXPECT_THAT(Error(s, {{"endpoint", "GET /a"}}),
              HasSubstr("needs threshold_ms"));
  EXPECT_THAT(Error(s, {{"endpoint", ""}, {"threshold_ms", "5"}}),
              HasSubstr("empty"));
  EXPECT_THAT(Error(s, {{"threshold_ms", "5"}, {"threshold_ms", "6"}}),
              HasSubstr("twice"));
  // A valid part with an invalid one: nothing of it applies (the caller
  // keeps `s`).
  EXPECT_THAT(Error(s, {{"threshold_ms", "5"}, {"enabled", "2"}}),
              HasSubstr("enabled=2"));
}

TEST(AutoCaptureSettingsTest, EndpointsAreBounded) {
  AutoCaptureSettings s;
  for (size_t i = 0; i < AutoCaptureSettings::kMaxEndpoints; ++i) {
    s = Apply(s, {{"endpoint", "GET /e" + std::to_string(i)},
                  {"threshold_ms", "10"}});
  }
  EXPECT_THAT(Error(s, {{"endpoint", "GET /one-more"}, {"threshold_ms", "10"}}),
              HasSubstr("already 256"));
  // Changing one already there is fine.
  EXPECT_EQ(Apply(s, {{"endpoint", "GET /e7"}, {"threshold_ms", "20"}})
                .ThresholdNanos("GET /e7"),
            20'000'000);
}

TEST(AutoCaptureSettingsTest, FromOptionsAndAsJson) {
  StatusOr<AutoCaptureSettings> s =
      AutoCaptureSettingsFrom(100, {{"GET /search", 500}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->enabled);
  EXPECT_EQ(s->ToJson(),
            "{\"enabled\":true,\"threshold_ms\":100,\"endpoints\":{\"GET "
            "/search\":{\"threshold_ms\":500}},\"limits\":{\"max_captures\":"
            "16,\"max_bytes\":33554432,\"captures_per_second\":2,\"hang_"
            "multiple\":10,\"process_profile_ms\":0,\"max_threshold_ms\":"
            "3600000,\"max_endpoints\":256}}\n");
  EXPECT_FALSE(AutoCaptureSettingsFrom(0, {}).value().enabled);
  StatusOr<AutoCaptureSettings> bad = AutoCaptureSettingsFrom(-5, {});
  EXPECT_THAT(bad.status().message(),
              HasSubstr("auto-capture: threshold_ms=-5"));
}

TEST(AutoCaptureSettingsTest, LimitsAreSetAndValidatedWithTheRest) {
  AutoCaptureSettings on = Apply({}, {{"threshold_ms", "100"}});
  AutoCaptureSettings limited = Apply(on, {{"max_captures", "4"},
                                           {"max_bytes", "2097152"},
                                           {"captures_per_second", "0.5"},
                                           {"hang_multiple", "0"}});
  EXPECT_EQ(limited.max_captures, 4);
  EXPECT_EQ(limited.max_bytes, 2097152);
  EXPECT_DOUBLE_EQ(limited.captures_per_second, 0.5);
  EXPECT_DOUBLE_EQ(limited.Burst(), 1);
  EXPECT_EQ(limited.hang_multiple, 0);
  EXPECT_TRUE(limited.enabled);
  EXPECT_THAT(limited.ToJson(),
              HasSubstr("\"captures_per_second\":0.5,\"hang_multiple\":0"));

  // One bad value: nothing of the POST applies.
  EXPECT_THAT(Error(on, {{"max_captures", "4"}, {"hang_multiple", "1"}}),
              HasSubstr("hang_multiple=1: not 0 (never) or a whole number"));
  EXPECT_THAT(Error(on, {{"max_captures", "0"}}),
              HasSubstr("max_captures=0: not a whole number in 1..1000"));
  EXPECT_THAT(Error(on, {{"max_bytes", "1000"}}), HasSubstr("max_bytes=1000"));
  EXPECT_THAT(Error(on, {{"captures_per_second", "fast"}}),
              HasSubstr("captures_per_second=fast: not a number in 0.01..100"));
  EXPECT_THAT(Error(on, {{"max_captures", "4"}, {"max_captures", "5"}}),
              HasSubstr("max_captures given twice"));
  // The process profile after each capture: off unless asked, bounded.
  EXPECT_EQ(on.process_profile_ms, 0);
  EXPECT_EQ(Apply(on, {{"process_profile_ms", "500"}}).process_profile_ms, 500);
  EXPECT_THAT(Apply(on, {{"process_profile_ms", "500"}}).ToJson(),
              HasSubstr("\"hang_multiple\":10,\"process_profile_ms\":500"));
  EXPECT_THAT(Error(on, {{"process_profile_ms", "-1"}}),
              HasSubstr("process_profile_ms=-1: not a whole number of "
                        "milliseconds in 0..60000"));

  // From Options, as the limits' own parameters.
  StatusOr<AutoCaptureSettings> from =
      AutoCaptureSettingsFrom(100, {}, {{"max_captures", "3"}});
  ASSERT_TRUE(from.ok()) << from.status().ToString();
  EXPECT_EQ(from->max_captures, 3);
}

}  // namespace
}  // namespace inprof::internal
