#include "agent/profile/encode.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "agent/profile/debug_string.h"
#include "agent/profile/decode.h"
#include "agent/profile/gzip.h"
#include "tests/agent/profile/test_profiles.h"

namespace inprof::internal {
namespace {

TEST(EncodeTest, RoundTripsEveryFieldOfARichProfile) {
  Profile p = MakeRichProfile();
  StatusOr<Profile> back = DecodeProfile(EncodeProfile(p));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ProfileDebugString(*back), ProfileDebugString(p));
}

TEST(EncodeTest, RoundTripsThroughGzip) {
  Profile p = MakeRichProfile();
  std::string body = SerializeProfile(p);
  ASSERT_TRUE(IsGzip(body));
  StatusOr<std::string> raw = Gunzip(body);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, EncodeProfile(p));
  StatusOr<Profile> back = DecodeProfile(body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ProfileDebugString(*back), ProfileDebugString(p));
}

TEST(EncodeTest, StringTableStartsWithEmptyStringAndHasNoDuplicates) {
  StatusOr<DecodedProfile> d =
      DecodeProfileWithStringTable(EncodeProfile(MakeRichProfile()));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const std::vector<std::string>& table = d->string_table;
  ASSERT_FALSE(table.empty());
  EXPECT_EQ(table[0], "");
  std::set<std::string> unique(table.begin(), table.end());
  EXPECT_EQ(unique.size(), table.size());
  // "cpu" is both a sample type, the period type and the default: once.
  EXPECT_EQ(std::count(table.begin(), table.end(), "cpu"), 1);
}

TEST(EncodeTest, EmptyProfileIsJustTheStringTable) {
  EXPECT_EQ(EncodeProfile(Profile{}), std::string("\x32\x00", 2));
}

TEST(EncodeTest, OmitsZeroScalarsAndWritesTimeNanos) {
  Profile p;
  p.time_nanos = 1;
  // time_nanos (9, varint) = 1, then string_table[0] = "".
  EXPECT_EQ(EncodeProfile(p), std::string("\x48\x01\x32\x00", 4));
}

TEST(EncodeTest, IsDeterministic) {
  EXPECT_EQ(EncodeProfile(MakeRichProfile()), EncodeProfile(MakeRichProfile()));
}

TEST(EncodeTest, HandlesTenThousandsOfSamples) {
  Profile p = MakeCpuProfile();
  p.samples.clear();
  for (int i = 0; i < 20000; ++i) {
    p.samples.push_back({{static_cast<uint64_t>(i % 3 + 1), 1},
                         {i, int64_t{i} * 10000000},
                         {{"request", "r" + std::to_string(i), 0, ""}}});
  }
  StatusOr<DecodedProfile> d =
      DecodeProfileWithStringTable(SerializeProfile(p));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->profile.samples.size(), 20000u);
  EXPECT_EQ(d->profile.samples[19999].labels[0].str, "r19999");
  EXPECT_EQ(d->profile.samples[12345].values[1], 123450000000);
  EXPECT_GT(d->string_table.size(), 20000u);
}

}  // namespace
}  // namespace inprof::internal
