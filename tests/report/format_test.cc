#include "report/format.h"

#include <gtest/gtest.h>

namespace inprof::report {
namespace {

TEST(FormatTest, ScaledValueMatchesPprofLabels) {
  EXPECT_EQ(ScaledValue(180000000, "nanoseconds", "ms"), "180ms");
  EXPECT_EQ(ScaledValue(-20000000, "nanoseconds", "ms"), "-20ms");
  EXPECT_EQ(ScaledValue(1500000000, "nanoseconds", "s"), "1.50s");
  EXPECT_EQ(ScaledValue(0, "nanoseconds", "ms"), "0");
  EXPECT_EQ(ScaledValue(5346976, "bytes", "kB"), "5221.66kB");
  EXPECT_EQ(ScaledValue(10485760, "bytes", "MB"), "10MB");
  EXPECT_EQ(ScaledValue(42, "count", ""), "42");
  EXPECT_EQ(ScaledValue(3, "milliseconds", "ns"), "3000000ns");
}

TEST(FormatTest, DisplayUnitFollowsTheSmallestValueUnlessFarApart) {
  EXPECT_EQ(SelectDisplayUnit("nanoseconds", 20000000, 180000000), "ms");
  EXPECT_EQ(SelectDisplayUnit("nanoseconds", 1500000000, 9000000000), "s");
  // 10us next to 30s: more than 100x apart, so shown at 100x the minimum.
  EXPECT_EQ(SelectDisplayUnit("nanoseconds", 10000, 30000000000), "ms");
  EXPECT_EQ(SelectDisplayUnit("bytes", 4096, 5346976), "kB");
  EXPECT_EQ(SelectDisplayUnit("count", 1, 100), "");
}

TEST(FormatTest, UnitsAreMatchedAsPprofMatchesThem) {
  EXPECT_EQ(FamilyOf("nanoseconds"), UnitFamily::kTime);
  EXPECT_EQ(FamilyOf("ms"), UnitFamily::kTime);
  EXPECT_EQ(FamilyOf("Seconds"), UnitFamily::kTime);
  EXPECT_EQ(FamilyOf("bytes"), UnitFamily::kBytes);
  EXPECT_EQ(FamilyOf("kB"), UnitFamily::kBytes);
  EXPECT_EQ(FamilyOf("count"), UnitFamily::kNone);
  EXPECT_EQ(UnitFactor("milliseconds"), 1e6);
  EXPECT_EQ(UnitFactor("kilobytes"), 1024.0);
  EXPECT_FALSE(UnitFactor("count").has_value());
}

TEST(FormatTest, PercentagesLookLikePprofs) {
  EXPECT_EQ(Percentage(100, 180), "55.56%");
  EXPECT_EQ(Percentage(180, 180), "  100%");
  EXPECT_EQ(Percentage(220, 180), "122.22%");
  EXPECT_EQ(Percentage(-20, 90), "22.22%");
  EXPECT_EQ(Percentage(9, 1000), "  0.9%");
  EXPECT_EQ(Percentage(0, 90), "    0%");
  EXPECT_EQ(Percentage(5, 0), "    0%");
}

TEST(FormatTest, RelativeChangeIsSignedAndSaysNew) {
  EXPECT_EQ(RelativeChange(80, 20), "+400%");
  EXPECT_EQ(RelativeChange(-20, 20), "-100%");
  EXPECT_EQ(RelativeChange(1, 20), "+5.0%");
  EXPECT_EQ(RelativeChange(30, 0), "new");
  EXPECT_EQ(RelativeChange(0, 0), "0%");
}

}  // namespace
}  // namespace inprof::report
