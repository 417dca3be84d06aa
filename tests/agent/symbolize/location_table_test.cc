#include "agent/symbolize/location_table.h"

#include <dlfcn.h>

#include <set>
#include <string>

#include "agent/profile/profile.h"
#include "agent/symbolize/symbolizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/symbolize/test_functions.h"

namespace inprof::internal {
namespace {

using ::testing::EndsWith;

uint64_t LibcWrite() {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  void* address = libc != nullptr ? dlsym(libc, "write") : nullptr;
  if (libc != nullptr) dlclose(libc);
  return reinterpret_cast<uint64_t>(address);
}

void ExpectIdsInOrder(const Profile& p) {
  for (size_t i = 0; i < p.mappings.size(); ++i) {
    EXPECT_EQ(p.mappings[i].id, i + 1);
  }
  for (size_t i = 0; i < p.locations.size(); ++i) {
    EXPECT_EQ(p.locations[i].id, i + 1);
    EXPECT_LE(p.locations[i].mapping_id, p.mappings.size());
    for (const Line& line : p.locations[i].lines) {
      EXPECT_GE(line.function_id, 1u);
      EXPECT_LE(line.function_id, p.functions.size());
    }
  }
  for (size_t i = 0; i < p.functions.size(); ++i) {
    EXPECT_EQ(p.functions[i].id, i + 1);
  }
}

const Function& FunctionOf(const Profile& p, uint64_t location_id,
                           size_t line = 0) {
  return p.functions[p.locations[location_id - 1].lines[line].function_id - 1];
}

TEST(LocationTableTest, InternsLocationsWithIdsInOrder) {
  Symbolizer symbolizer;
  Profile profile;
  LocationTable table(&symbolizer, &profile);
  uint64_t spin_int = app::Worker::Spin(1);
  uint64_t spin_double = app::Worker::Spin(1.0);
  EXPECT_EQ(table.LocationId(spin_int), 1u);
  EXPECT_EQ(table.LocationId(spin_double), 2u);
  EXPECT_EQ(table.LocationId(spin_int), 1u);
  ASSERT_EQ(profile.locations.size(), 2u);
  EXPECT_EQ(profile.locations[0].address, spin_int);
  EXPECT_EQ(profile.locations[0].mapping_id, 1u);
  EXPECT_EQ(FunctionOf(profile, 1).name, "app::Worker::Spin");
  EXPECT_EQ(FunctionOf(profile, 2).name, "app::Worker::Spin");
  EXPECT_THAT(FunctionOf(profile, 1).filename, EndsWith("test_functions.cc"));
  EXPECT_EQ(profile.functions.size(), 2u);
  ExpectIdsInOrder(profile);
}

TEST(LocationTableTest, DeduplicatesFunctionsAcrossAddresses) {
  Symbolizer symbolizer;
  Profile profile;
  LocationTable table(&symbolizer, &profile);
  uint64_t (*spin)(int) = &app::Worker::Spin;
  uint64_t a = table.LocationId(reinterpret_cast<uint64_t>(spin));
  uint64_t b = table.LocationId(app::Worker::Spin(2));
  ASSERT_NE(a, b);
  EXPECT_EQ(profile.locations[a - 1].lines.back().function_id,
            profile.locations[b - 1].lines.back().function_id);
  EXPECT_EQ(profile.functions.size(), 1u);
}

TEST(LocationTableTest, MainExecutableIsMappingOneWithTrueMapsValues) {
  Symbolizer symbolizer;
  Profile profile;
  LocationTable table(&symbolizer, &profile);
  ASSERT_FALSE(profile.mappings.empty());
  const ProcessMapping& exe = symbolizer.mappings().front();
  const Mapping& m = profile.mappings[0];
  EXPECT_EQ(m.id, 1u);
  EXPECT_EQ(m.memory_start, exe.start);
  EXPECT_EQ(m.memory_limit, exe.limit);
  EXPECT_EQ(m.file_offset, exe.offset);
  EXPECT_EQ(m.filename, exe.path);
  EXPECT_EQ(m.build_id, exe.build_id);
  EXPECT_EQ(profile.mappings.size(), symbolizer.mappings().size());
  ExpectIdsInOrder(profile);
}

TEST(LocationTableTest, InlinedCallGivesTwoLinesInnermostFirst) {
  Symbolizer symbolizer;
  Profile profile;
  LocationTable table(&symbolizer, &profile);
  uint64_t id = table.LocationId(app::OuterWithInline());
  const Location& location = profile.locations[id - 1];
  ASSERT_EQ(location.lines.size(), 2u);
  EXPECT_EQ(FunctionOf(profile, id, 0).name, "app::InlinedLeaf");
  EXPECT_TRUE(app::InlinedLeafLines().Contains(location.lines[0].line));
  EXPECT_EQ(FunctionOf(profile, id, 1).name, "app::OuterWithInline");
  EXPECT_TRUE(app::OuterWithInlineLines().Contains(location.lines[1].line));
  table.Finish();
  EXPECT_TRUE(profile.mappings[0].has_inline_frames);
}

TEST(LocationTableTest, SyntheticLocationsAreStablePerName) {
  Symbolizer symbolizer;
  Profile profile;
  LocationTable table(&symbolizer, &profile);
  uint64_t lost = table.SyntheticLocationId("inprof.lostSamples");
  uint64_t other = table.SyntheticLocationId("inprof.other");
  EXPECT_EQ(table.SyntheticLocationId("inprof.lostSamples"), lost);
  EXPECT_NE(lost, other);
  const Location& l = profile.locations[lost - 1];
  EXPECT_EQ(l.mapping_id, 0u);
  EXPECT_NE(l.address, 0u);
  EXPECT_NE(l.address, profile.locations[other - 1].address);
  ASSERT_EQ(l.lines.size(), 1u);
  EXPECT_EQ(FunctionOf(profile, lost).name, "inprof.lostSamples");
  EXPECT_EQ(FunctionOf(profile, lost).system_name, "inprof.lostSamples");

  Profile again;
  LocationTable table2(&symbolizer, &again);
  table2.LocationId(app::Worker::Spin(3));
  uint64_t lost2 = table2.SyntheticLocationId("inprof.lostSamples");
  EXPECT_EQ(again.locations[lost2 - 1].address, l.address);
  ExpectIdsInOrder(profile);
  ExpectIdsInOrder(again);
}

TEST(LocationTableTest, FinishSetsFlagsPerMapping) {
  Symbolizer symbolizer;
  Profile profile;
  LocationTable table(&symbolizer, &profile);
  table.LocationId(app::Worker::Spin(4));
  uint64_t write_id = table.LocationId(LibcWrite());
  table.LocationId(0x10);  // outside every mapping
  table.SyntheticLocationId("inprof.lostSamples");
  table.Finish();

  const Mapping& exe = profile.mappings[0];
  EXPECT_TRUE(exe.has_functions);
  EXPECT_TRUE(exe.has_filenames);
  EXPECT_TRUE(exe.has_line_numbers);
  EXPECT_FALSE(exe.has_inline_frames);

  const Location& write = profile.locations[write_id - 1];
  ASSERT_NE(write.mapping_id, 0u);
  const Mapping& libc = profile.mappings[write.mapping_id - 1];
  EXPECT_THAT(libc.filename, ::testing::HasSubstr("libc.so"));
  EXPECT_TRUE(libc.has_functions);
  // Depends on whether libc's debug info is installed.
  bool has_file = !FunctionOf(profile, write_id).filename.empty();
  EXPECT_EQ(libc.has_filenames, has_file);

  EXPECT_EQ(profile.locations[2].mapping_id, 0u);
  for (const Mapping& m : profile.mappings) {
    EXPECT_TRUE(m.has_functions) << m.filename;
    if (&m != &exe && &m != &libc) {
      EXPECT_FALSE(m.has_filenames) << m.filename;  // no locations
    }
  }
  ExpectIdsInOrder(profile);
}

}  // namespace
}  // namespace inprof::internal
