#include "viewer/renumber.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/profile/debug_string.h"
#include "agent/profile/encode.h"
#include "tests/viewer/profile_builder.h"
#include "viewer/source.h"
#include "viewer/top.h"

namespace inprof::viewer {
namespace {

using ::testing::HasSubstr;

internal::Profile Example() {
  // Two mappings, four functions, five locations ("[lib]" has no function).
  return test::FoldedProfile({{"main;serve;parse", {30, 300000000}},
                              {"main;serve;render", {20, 200000000}},
                              {"main;[lib]", {5, 50000000}}});
}

internal::Profile Scrambled() {
  return test::WithIds(Example(), {7, 3}, {40, 2, 9, 1000}, {7, 3, 100, 12, 5});
}

// go tool pprof reads profiles whose ids are unique and nonzero in any order
// (tests/e2e/viewer_pprof_agreement_test.cc proves it with the real tool);
// inprof-view refused them with "ids must be 1..N in order".
TEST(RenumberTest, Issue12_ReadsIdsThatAreUniqueButNotOneToN) {
  ASSERT_EQ(Example().locations.size(), 5u);
  ASSERT_EQ(Example().functions.size(), 4u);
  StatusOr<LoadedProfile> loaded =
      ParseProfileBytes(internal::EncodeProfile(Scrambled()), {});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  // Renumbered in array order, the profile is the one before scrambling.
  EXPECT_EQ(internal::ProfileDebugString(loaded->profile),
            internal::ProfileDebugString(Example()));
}

TEST(RenumberTest, RewritesEveryReference) {
  internal::Profile p = Scrambled();
  ASSERT_TRUE(RenumberIds(&p).ok());
  EXPECT_EQ(internal::ProfileDebugString(p),
            internal::ProfileDebugString(Example()));
}

TEST(RenumberTest, ZeroDuplicateAndDanglingIdsAreNamed) {
  struct Case {
    internal::Profile profile;
    const char* message;
  };
  Case cases[] = {
      {test::WithIds(Example(), {7, 0}, {1, 2, 3, 4}, {1, 2, 3, 4, 5}),
       "mapping[1] has id 0"},
      {test::WithIds(Example(), {1, 2}, {1, 2, 3, 4}, {7, 3, 7, 4, 5}),
       "location id 7 is used by location[0] and location[2]"},
      {test::WithIds(Example(), {1, 2}, {1, 9, 3, 9}, {1, 2, 3, 4, 5}),
       "function id 9 is used by function[1] and function[3]"},
  };
  for (Case& c : cases) {
    EXPECT_THAT(RenumberIds(&c.profile).message(), HasSubstr(c.message));
  }
  internal::Profile dangling = Scrambled();
  dangling.samples[1].location_ids[0] = 8;
  EXPECT_THAT(RenumberIds(&dangling).message(),
              HasSubstr("sample[1]: location_id 8 does not exist"));
  internal::Profile no_mapping = Scrambled();
  no_mapping.locations[2].mapping_id = 1;
  EXPECT_THAT(RenumberIds(&no_mapping).message(),
              HasSubstr("location 100: mapping_id 1 does not exist"));
  internal::Profile no_function = Scrambled();
  no_function.locations[0].lines[0].function_id = 3;
  EXPECT_THAT(RenumberIds(&no_function).message(),
              HasSubstr("location 7: function_id 3 does not exist"));
}

TEST(RenumberTest, TheViewerSaysWhichIdIsWrong) {
  internal::Profile p =
      test::WithIds(Example(), {7, 3}, {40, 2, 9, 1000}, {7, 3, 7, 12, 5});
  StatusOr<LoadedProfile> loaded =
      ParseProfileBytes(internal::EncodeProfile(p), {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(),
            "invalid profile: location id 7 is used by location[0] and "
            "location[2]");
}

}  // namespace
}  // namespace inprof::viewer
