// gperftools legacy profiles read as google/pprof reads them (facts from
// pprof's profile/legacy_profile.go, checked against go tool pprof 1.19).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/profile/check_valid.h"
#include "report/stacks.h"
#include "tests/viewer/profile_builder.h"
#include "viewer/legacy_cpu.h"
#include "viewer/legacy_heap.h"
#include "viewer/prune.h"
#include "viewer/source.h"

namespace inprof::viewer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Words of `size` bytes in the given byte order.
std::string Words(const std::vector<uint64_t>& words, size_t size = 8,
                  bool big_endian = false) {
  std::string out;
  for (uint64_t w : words) {
    for (size_t i = 0; i < size; ++i) {
      size_t shift = 8 * (big_endian ? size - 1 - i : i);
      out += static_cast<char>((w >> shift) & 0xff);
    }
  }
  return out;
}

std::vector<uint64_t> Addresses(const internal::Profile& p,
                                const internal::Sample& s) {
  std::vector<uint64_t> out;
  for (uint64_t id : s.location_ids) out.push_back(p.locations[id - 1].address);
  return out;
}

constexpr char kMaps[] =
    "00400000-00401000 r-xp 00000000 00:00 1    /usr/bin/app\n"
    "7f0000000000-7f0000001000 r--p 00000000 00:00 2    /lib/libc.so.6\n"
    "7f0000001000-7f0000002000 r-xp 00001000 00:00 2    /lib/libc.so.6\n";

TEST(LegacyCpuTest, ReadsRecordsAndAdjustsAllButTheLeaf) {
  std::string bytes =
      Words({0, 3, 0, 10000, 0,                         // header, 100 Hz
             4, 3, 0x400100, 0x400200, 0x7f0000001100,  // 4 samples
             2, 2, 0x400300, 0x400201,                  // 2 samples
             0, 1, 0}) +                                // end marker
      kMaps;
  ASSERT_TRUE(IsLegacyCpuProfile(bytes));
  StatusOr<internal::Profile> p = ParseLegacyCpuProfile(bytes, false);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(internal::CheckValid(*p).ok());
  EXPECT_EQ(p->period, 10000000);
  EXPECT_EQ(p->period_type.type, "cpu");
  ASSERT_EQ(p->samples.size(), 2u);
  EXPECT_THAT(p->samples[0].values, ElementsAre(4, 40000000));
  EXPECT_THAT(Addresses(*p, p->samples[0]),
              ElementsAre(0x400100, 0x4001ff, 0x7f00000010ff));
  EXPECT_THAT(Addresses(*p, p->samples[1]), ElementsAre(0x400300, 0x400200));
  // Second frames differ (0x4001ff, 0x400200): nothing is stripped.
  ASSERT_EQ(p->mappings.size(), 2u);
  EXPECT_EQ(p->mappings[0].filename, "/usr/bin/app");
  EXPECT_EQ(p->mappings[1].filename, "/lib/libc.so.6");
  EXPECT_EQ(p->locations[0].mapping_id, 1u);
  EXPECT_EQ(p->locations[2].mapping_id, 2u);
}

TEST(LegacyCpuTest, ReadsAnyWordSizeAndByteOrder) {
  std::vector<uint64_t> words = {0, 3, 0, 1000, 0, 1, 1, 0x1234, 0, 1, 0};
  for (size_t size : {4, 8}) {
    for (bool big : {false, true}) {
      StatusOr<internal::Profile> p =
          ParseLegacyCpuProfile(Words(words, size, big), false);
      ASSERT_TRUE(p.ok()) << size << big << p.status().ToString();
      EXPECT_EQ(p->period, 1000000);
      ASSERT_EQ(p->samples.size(), 1u);
      EXPECT_THAT(Addresses(*p, p->samples[0]), ElementsAre(0x1234));
      // No map: the address gets pprof's catch-all mapping.
      ASSERT_EQ(p->mappings.size(), 1u);
      EXPECT_EQ(p->mappings[0].memory_limit, ~uint64_t{0});
    }
  }
}

TEST(LegacyCpuTest, DropsSecondFramesNearlyAllSamplesShare) {
  // Every sample's second frame is the same signal trampoline, twice over:
  // pprof removes up to two such frames.
  std::vector<uint64_t> words = {0, 3, 0, 10000, 0};
  for (uint64_t leaf : {0x400100, 0x400200, 0x400300}) {
    for (uint64_t w : {uint64_t{1}, uint64_t{4}, leaf, uint64_t{0x500001},
                       uint64_t{0x600001}, uint64_t{0x400501} + leaf}) {
      words.push_back(w);
    }
  }
  StatusOr<internal::Profile> p = ParseLegacyCpuProfile(Words(words), false);
  ASSERT_TRUE(p.ok());
  for (const internal::Sample& s : p->samples) {
    ASSERT_EQ(s.location_ids.size(), 2u);
  }
  EXPECT_THAT(Addresses(*p, p->samples[0]), ElementsAre(0x400100, 0x800600));
}

TEST(LegacyCpuTest, DropsALeafRecordedTwice) {
  std::string bytes = Words({0, 3, 0, 10000, 0, 1, 3, 0x400100, 0x400100,
                             0x400900, 1, 2, 0x400200, 0x400901, 0, 1, 0});
  StatusOr<internal::Profile> p = ParseLegacyCpuProfile(bytes, false);
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(Addresses(*p, p->samples[0]), ElementsAre(0x400100, 0x4008ff));
}

TEST(LegacyCpuTest, TruncatedRecordsAreErrors) {
  StatusOr<internal::Profile> p = ParseLegacyCpuProfile(
      Words({0, 3, 0, 10000, 0, 1, 1000000, 0x400100}), false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "sample record at byte 40 declares 1000000 frames, more than the "
            "file holds");
  p = ParseLegacyCpuProfile(Words({0, 3, 0, 10000, 0, 1}), false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "truncated sample record at byte 40");
  EXPECT_FALSE(IsLegacyCpuProfile(Words({0, 3, 0, 0, 0})));  // period 0
  // Found by the fuzzer: count x period past int64.
  p = ParseLegacyCpuProfile(
      Words({0, 3, 0, uint64_t{1} << 36, 0, uint64_t{1} << 40, 1, 0x1}), false);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("samples: out of range"));
  p = ParseLegacyCpuProfile(Words({0, 3, 0, ~uint64_t{0} - 7, 0}), false);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("out of range"));
}

TEST(LegacyHeapTest, InuseAndAllocTypesWithUnsampledHeapProfile) {
  std::string text =
      "heap profile:   1006:  5346976 [  1011: 10589856] @ heapprofile\n"
      "     5:  5242880 [    10: 10485760] @ 0x400206 0x40024d\n"
      "  1000:   100000 [  1000:   100000] @ 0x40018c 0x400243\n"
      "\n"
      "MAPPED_LIBRARIES:\n"
      "00400000-00401000 r-xp 00000000 00:00 1    /usr/bin/app\n";
  ASSERT_TRUE(IsLegacyHeapProfile(text));
  StatusOr<internal::Profile> p = ParseLegacyHeapProfile(text, false);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(internal::CheckValid(*p).ok());
  ASSERT_EQ(p->sample_types.size(), 4u);
  EXPECT_EQ(p->sample_types[0].type, "alloc_objects");
  EXPECT_EQ(p->sample_types[3].type, "inuse_space");
  EXPECT_EQ(p->period, 1);
  ASSERT_EQ(p->samples.size(), 2u);
  EXPECT_THAT(p->samples[0].values, ElementsAre(10, 10485760, 5, 5242880));
  EXPECT_THAT(Addresses(*p, p->samples[0]), ElementsAre(0x400205, 0x40024c));
  EXPECT_EQ(p->samples[0].labels[0].key, "bytes");
  EXPECT_EQ(p->samples[0].labels[0].num, 1048576);
  EXPECT_EQ(p->mappings[0].filename, "/usr/bin/app");
}

TEST(LegacyHeapTest, SampledProfilesAreUnbiased) {
  // pprof: 2 objects of 100 bytes sampled every 512 KiB stand for
  // 10486 objects and 1048676 bytes.
  std::string text =
      "heap profile:      2:      200 [     2:      200] @ heap_v2/524288\n"
      "     2:      200 [     2:      200] @ 0x400100\n";
  StatusOr<internal::Profile> p = ParseLegacyHeapProfile(text, false);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->sample_types.size(), 2u);
  EXPECT_EQ(p->sample_types[1].type, "space");
  EXPECT_EQ(p->period, 524288);
  EXPECT_THAT(p->samples[0].values, ElementsAre(10486, 1048676));
}

TEST(LegacyHeapTest, BadLinesNameTheLine) {
  StatusOr<internal::Profile> p = ParseLegacyHeapProfile(
      "heap profile: 1: 2 [ 1: 2] @ heapprofile\n1: 2 [1: 2] @ 0x1\nbogus\n",
      false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "line 3: not a heap sample: bogus");
  p = ParseLegacyHeapProfile(
      "heap profile: 1: 2 [ 1: 2] @ heapprofile\n0: 2 [0: 0] @ 0x1\n", false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "line 2: inuse count was 0 but inuse bytes was 2");
  p = ParseLegacyHeapProfile(
      "heap profile: 1: 2 [ 1: 2] @ heap_v2/524288\n"
      "1: 9000000000000000000 [1: 9000000000000000000] @ 0x1\n",
      false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "line 2: inuse values out of range once unbiased");
  p = ParseLegacyHeapProfile("heap profile: 1: 2 [ 1: 2] @ heapz\n", false);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("unknown heap profile kind"));
}

TEST(LegacyMapsTest, MainBinarySwappedFirstAndNonPieFixedUp) {
  std::string text =
      "heap profile: 1: 2 [ 1: 2] @ heapprofile\n"
      "1: 2 [1: 2] @ 0x7f0000001101 0x401001 0x900001\n"
      "MAPPED_LIBRARIES:\n"
      "7f0000001000-7f0000001800 r-xp 00001000 00:00 2 /lib/libc.so.6\n"
      "7f0000001800-7f0000002000 r-xp 00001800 00:00 2 /lib/libc.so.6\n"
      "00401000-00403000 r-xp 00001000 00:00 1 /usr/bin/app\n"
      "garbage line\n";
  StatusOr<internal::Profile> p = ParseLegacyHeapProfile(text, false);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->mappings.size(), 3u);
  EXPECT_EQ(p->mappings[0].filename, "/usr/bin/app");
  EXPECT_EQ(p->mappings[0].memory_start, 0x400000u);  // 0x401000 - 0x1000
  EXPECT_EQ(p->mappings[0].file_offset, 0u);
  EXPECT_EQ(p->mappings[1].filename, "/lib/libc.so.6");  // two lines merged
  EXPECT_EQ(p->mappings[1].memory_limit, 0x7f0000002000u);
  EXPECT_EQ(p->mappings[2].filename, "");  // catch-all for 0x900000
  EXPECT_EQ(p->locations[0].mapping_id, 2u);
  EXPECT_EQ(p->locations[1].mapping_id, 1u);
  EXPECT_EQ(p->locations[2].mapping_id, 3u);
}

TEST(PruneTest, DropFramesCutTheAllocatorAndWhatItCalled) {
  internal::Profile p = test::FoldedProfile(
      {{"malloc;main;work;operator new;malloc;tc_internal", {1, 8}},
       {"main;work+std::vector<int>::push_back(int)", {1, 4}},
       {"main;keep_me", {1, 2}}});
  p.drop_frames = "malloc|operator new|std::vector<.*>::push_back|keep_me";
  p.keep_frames = "keep_me";
  ApplyDropFrames(&p);
  StatusOr<report::StackSet> s = report::BuildStackSet(p, {});
  ASSERT_TRUE(s.ok());
  std::vector<std::string> stacks;
  for (const report::StackSet::Stack& st : s->stacks) {
    std::string text;
    for (uint32_t n : s->FramesOf(st)) text += s->names[n] + ";";
    stacks.push_back(text);
  }
  // A matching root frame (malloc above main) is kept: pruning starts below
  // the first frame that does not match. The inlined push_back is cut from
  // its location, its caller stays.
  EXPECT_THAT(stacks,
              ElementsAre("malloc;main;work;", "main;work;", "main;keep_me;"));
}

}  // namespace
}  // namespace inprof::viewer
