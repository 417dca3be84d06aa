#include "agent/profile/check_valid.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "agent/profile/encode.h"
#include "agent/profile/gzip.h"
#include "agent/profile/proto_writer.h"
#include "tests/agent/profile/test_profiles.h"

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;

// Applies `edit` to a valid profile and expects CheckValid to name `what`.
void ExpectInvalid(const std::function<void(Profile&)>& edit,
                   std::string_view what) {
  Profile p = MakeRichProfile();
  edit(p);
  Status s = CheckValid(p);
  ASSERT_FALSE(s.ok()) << "expected: " << what;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(std::string(what)));
}

TEST(CheckValidTest, AcceptsWellFormedProfiles) {
  EXPECT_TRUE(CheckValid(MakeRichProfile()).ok());
  EXPECT_TRUE(CheckValid(MakeCpuProfile()).ok());
  EXPECT_TRUE(CheckValid(Profile{}).ok());
}

TEST(CheckValidTest, RejectsSamplesWithoutSampleTypes) {
  ExpectInvalid([](Profile& p) { p.sample_types.clear(); },
                "profile has 4 samples but no sample_type");
}

TEST(CheckValidTest, RejectsDashInSampleTypeName) {
  ExpectInvalid([](Profile& p) { p.sample_types[1].type = "cpu-time"; },
                "sample_type[1] type \"cpu-time\" contains '-'");
}

TEST(CheckValidTest, RejectsMappingIdsNotOneToN) {
  ExpectInvalid([](Profile& p) { p.mappings[1].id = 7; },
                "mapping[1] has id 7, want 2");
}

TEST(CheckValidTest, RejectsLocationIdsNotOneToN) {
  ExpectInvalid([](Profile& p) { std::swap(p.locations[0], p.locations[1]); },
                "location[0] has id 2, want 1");
}

TEST(CheckValidTest, RejectsZeroFunctionId) {
  ExpectInvalid([](Profile& p) { p.functions[0].id = 0; },
                "function[0] has id 0, want 1");
}

TEST(CheckValidTest, RejectsLocationWithUnknownMapping) {
  ExpectInvalid([](Profile& p) { p.locations[2].mapping_id = 3; },
                "location 3: mapping_id 3 does not exist (profile has 2 "
                "mappings)");
}

TEST(CheckValidTest, RejectsLineWithZeroFunctionId) {
  ExpectInvalid([](Profile& p) { p.locations[1].lines[1].function_id = 0; },
                "location 2: line[1] has function_id 0");
}

TEST(CheckValidTest, RejectsLineWithUnknownFunction) {
  ExpectInvalid([](Profile& p) { p.locations[0].lines[0].function_id = 9; },
                "location 1: line[0]: function_id 9 does not exist");
}

TEST(CheckValidTest, RejectsWrongNumberOfValues) {
  ExpectInvalid([](Profile& p) { p.samples[2].values.push_back(1); },
                "sample[2] has 3 values, want 2 (one per sample_type)");
}

TEST(CheckValidTest, RejectsZeroSampleLocationId) {
  ExpectInvalid([](Profile& p) { p.samples[1].location_ids[2] = 0; },
                "sample[1]: location_id[2] = 0 does not exist");
}

TEST(CheckValidTest, RejectsUnknownSampleLocationId) {
  ExpectInvalid([](Profile& p) { p.samples[0].location_ids[0] = 5; },
                "sample[0]: location_id[0] = 5 does not exist (profile has 4 "
                "locations)");
}

TEST(CheckValidTest, RejectsEmptyLabelKey) {
  ExpectInvalid([](Profile& p) { p.samples[1].labels[1].key = ""; },
                "sample[1]: label[1] has an empty key");
}

TEST(ValidateEncodedTest, AcceptsSerializedProfiles) {
  Status s = ValidateEncoded(SerializeProfile(MakeRichProfile()));
  EXPECT_TRUE(s.ok()) << s.ToString();
  s = ValidateEncoded(SerializeProfile(MakeCpuProfile()));
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(ValidateEncodedTest, RequiresGzip) {
  Status s = ValidateEncoded(EncodeProfile(MakeRichProfile()));
  EXPECT_THAT(s.message(), HasSubstr("not gzip-compressed"));
}

TEST(ValidateEncodedTest, ReportsDecodeErrors) {
  std::string raw = EncodeProfile(MakeCpuProfile());
  Status s = ValidateEncoded(Gzip(raw + raw));
  EXPECT_THAT(s.message(), HasSubstr("concatenated profiles detected"));
  std::string z = SerializeProfile(MakeCpuProfile());
  EXPECT_FALSE(ValidateEncoded(z.substr(0, z.size() - 1)).ok());
}

TEST(ValidateEncodedTest, RejectsInvalidUtf8InStringTable) {
  Profile p = MakeCpuProfile();
  p.functions[1].name = "fo\xffo";
  Status s = ValidateEncoded(SerializeProfile(p));
  EXPECT_THAT(s.message(),
              HasSubstr("is not valid UTF-8 (byte 0xff at position 2)"));
}

TEST(ValidateEncodedTest, RejectsMissingStringTable) {
  ProtoWriter w;
  w.Int64(9, 1);  // time_nanos only
  Status s = ValidateEncoded(Gzip(w.data()));
  EXPECT_THAT(s.message(), HasSubstr("string_table is empty"));
}

TEST(ValidateEncodedTest, RequiresTimeNanos) {
  Profile p = MakeCpuProfile();
  p.time_nanos = 0;
  Status s = ValidateEncoded(SerializeProfile(p));
  EXPECT_THAT(s.message(), HasSubstr("time_nanos is not set"));
}

TEST(ValidateEncodedTest, RunsCheckValid) {
  Profile p = MakeCpuProfile();
  p.locations[0].lines[0].function_id = 0;
  Status s = ValidateEncoded(SerializeProfile(p));
  EXPECT_THAT(s.message(), HasSubstr("location 1: line[0] has function_id 0"));
}

}  // namespace
}  // namespace inprof::internal
