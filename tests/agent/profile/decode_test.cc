#include "agent/profile/decode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "agent/profile/check_valid.h"
#include "agent/profile/debug_string.h"
#include "agent/profile/encode.h"
#include "agent/profile/gzip.h"
#include "agent/profile/profile_fields.h"
#include "agent/profile/proto_writer.h"
#include "tests/agent/profile/test_profiles.h"

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;

// Decodes `data` and expects an error containing `what`.
void ExpectError(std::string_view data, std::string_view what) {
  StatusOr<Profile> p = DecodeProfile(data);
  ASSERT_FALSE(p.ok()) << "decoded: " << ProfileDebugString(*p);
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr(std::string(what)));
}

// A string table "", "samples", "count" on `w`.
void WriteStrings(ProtoWriter& w) {
  w.String(ProfileField::kStringTable, "");
  w.String(ProfileField::kStringTable, "samples");
  w.String(ProfileField::kStringTable, "count");
}

TEST(DecodeTest, AcceptsPackedAndUnpackedRepeatedScalars) {
  ProtoWriter w;
  size_t vt = w.StartMessage();
  w.Int64(ValueTypeField::kType, 1);
  w.Int64(ValueTypeField::kUnit, 2);
  w.EndMessage(ProfileField::kSampleType, vt);
  size_t s = w.StartMessage();
  w.Uint64(SampleField::kLocationId, 3);  // unpacked ...
  std::vector<uint64_t> more = {4, 5, 6};
  w.Uint64s(SampleField::kLocationId, more);  // ... then packed
  std::vector<int64_t> values = {-1, 2, 3};
  w.Int64s(SampleField::kValue, values);
  w.Int64(SampleField::kValue, 4);
  w.EndMessage(ProfileField::kSample, s);
  WriteStrings(w);
  StatusOr<Profile> p = DecodeProfile(w.data());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->samples.size(), 1u);
  EXPECT_EQ(p->samples[0].location_ids, (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(p->samples[0].values, (std::vector<int64_t>{-1, 2, 3, 4}));
  EXPECT_EQ(p->sample_types[0].type, "samples");
  EXPECT_EQ(p->sample_types[0].unit, "count");
}

TEST(DecodeTest, SkipsUnknownFieldsOfEveryWireType) {
  ProtoWriter w;
  w.Uint64(100, 7);
  w.String(101, "opaque");
  w.Varint((102 << 3) | 1);  // fixed64
  w.Varint(0);
  for (int i = 0; i < 7; ++i) w.Varint(0);
  w.Varint((103 << 3) | 5);  // fixed32
  for (int i = 0; i < 4; ++i) w.Varint(0x7f);
  size_t m = w.StartMessage();
  w.Uint64(MappingField::kId, 1);
  w.String(99, "unknown nested");
  w.EndMessage(ProfileField::kMapping, m);
  w.Int64(ProfileField::kTimeNanos, 42);
  WriteStrings(w);
  StatusOr<Profile> p = DecodeProfile(w.data());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->time_nanos, 42);
  ASSERT_EQ(p->mappings.size(), 1u);
  EXPECT_EQ(p->mappings[0].id, 1u);
}

TEST(DecodeTest, ReportsStringIndexOutOfRange) {
  ProtoWriter w;
  size_t f = w.StartMessage();
  w.Uint64(FunctionField::kId, 1);
  w.Int64(FunctionField::kName, 7);
  w.EndMessage(ProfileField::kFunction, f);
  for (const char* s : {"", "a", "b", "c", "d"}) {
    w.String(ProfileField::kStringTable, s);
  }
  ExpectError(w.data(),
              "Function.name: string index 7 out of range (table has 5)");
}

TEST(DecodeTest, ReportsNegativeStringIndex) {
  ProtoWriter w;
  w.Int64(ProfileField::kDropFrames, -1);
  WriteStrings(w);
  ExpectError(w.data(), "string index -1 out of range (table has 3)");
}

TEST(DecodeTest, RejectsConcatenatedProfiles) {
  std::string one = EncodeProfile(MakeCpuProfile());
  ExpectError(one + one, "concatenated profiles detected");
}

TEST(DecodeTest, RejectsWireTypeMismatch) {
  ProtoWriter w;
  w.String(ProfileField::kTimeNanos, "x");
  WriteStrings(w);
  ExpectError(w.data(),
              "wire-type mismatch for Profile.time_nanos (field 9): got 2, "
              "want 0 at offset 2");
}

TEST(DecodeTest, RejectsNestedWireTypeMismatch) {
  ProtoWriter w;
  w.Uint64(ProfileField::kSample, 3);  // a message sent as a varint
  ExpectError(w.data(), "wire-type mismatch for Sample (field 2)");
}

TEST(DecodeTest, RejectsNonEmptyFirstString) {
  ProtoWriter w;
  w.String(ProfileField::kStringTable, "oops");
  ExpectError(w.data(), "string_table[0] must be ''");
}

TEST(DecodeTest, ReportsTruncatedVarintWithOffset) {
  ExpectError(std::string("\x48\x80", 2), "truncated varint at offset 1");
  ExpectError(std::string("\x48\x01\x48", 3), "truncated varint at offset 3");
}

TEST(DecodeTest, ReportsOverlongVarint) {
  ExpectError(std::string("\x48") + std::string(10, '\xff') + "\x01",
              "varint longer than 10 bytes at offset 1");
}

TEST(DecodeTest, ReportsTruncatedLengthDelimitedField) {
  ExpectError(std::string("\x32\x05"
                          "ab",
                          4),
              "truncated field 6 (length 5) at offset 0");
}

TEST(DecodeTest, ReportsOffsetsInsideNestedMessages) {
  // Sample { location_id: <truncated varint> } at offset 2 + 1.
  ExpectError(std::string("\x12\x02\x08\x80", 4),
              "truncated varint at offset 3");
}

TEST(DecodeTest, RejectsGroupWireTypesAndFieldZero) {
  ExpectError(std::string("\x0b", 1), "unsupported wire type 3 for field 1");
  ExpectError(std::string("\x00\x01", 2), "invalid field number 0");
}

TEST(DecodeTest, RejectsEmptyInput) { ExpectError("", "empty profile"); }

TEST(DecodeTest, ReportsGzipErrors) {
  std::string z = SerializeProfile(MakeCpuProfile());
  ExpectError(z.substr(0, z.size() / 2), "gzip: truncated input");
}

TEST(DecodeTest, EveryTruncatedPrefixFailsWithoutCrashing) {
  for (const std::string& full : {EncodeProfile(MakeRichProfile()),
                                  SerializeProfile(MakeRichProfile())}) {
    for (size_t n = 0; n < full.size(); ++n) {
      StatusOr<Profile> p = DecodeProfile(std::string_view(full).substr(0, n));
      EXPECT_FALSE(p.ok()) << "prefix of " << n << " of " << full.size();
    }
  }
}

TEST(DecodeTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(20240611);
  for (int i = 0; i < 5000; ++i) {
    std::string data(rng() % 64, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    StatusOr<Profile> p = DecodeProfile(data);
    if (p.ok()) (void)CheckValid(*p);
  }
}

// Flips, inserts, deletes or overwrites a few bytes of `data`.
std::string Mutate(std::string data, std::mt19937& rng) {
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !data.empty(); ++e) {
    size_t pos = rng() % data.size();
    switch (rng() % 4) {
      case 0:
        data[pos] = static_cast<char>(data[pos] ^ (1 << (rng() % 8)));
        break;
      case 1:
        data.insert(pos, 1, static_cast<char>(rng()));
        break;
      case 2:
        data.erase(pos, 1 + rng() % 8);
        break;
      default:
        data[pos] = static_cast<char>(rng());
    }
  }
  return data;
}

TEST(DecodeTest, TenThousandMutationsOfAValidProfileNeverCrash) {
  const std::string raw = EncodeProfile(MakeRichProfile());
  const std::string gz = SerializeProfile(MakeRichProfile());
  std::mt19937 rng(42);
  int decoded = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string mutated = Mutate(i % 10 == 0 ? gz : raw, rng);
    StatusOr<Profile> p = DecodeProfile(mutated);
    if (!p.ok()) continue;
    ++decoded;
    // Whatever decodes must survive the rest of the pipeline too.
    (void)CheckValid(*p);
    StatusOr<Profile> again = DecodeProfile(EncodeProfile(*p));
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(ProfileDebugString(*again), ProfileDebugString(*p));
  }
  EXPECT_GT(decoded, 0);  // The mutations reach the field decoders.
}

}  // namespace
}  // namespace inprof::internal
