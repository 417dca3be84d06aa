#include "agent/heap/heap_tables.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace inprof::internal {
namespace {

struct Collected {
  uint64_t buckets = 0;
  uint64_t allocs = 0;
  uint64_t frees = 0;
  uint64_t live_weight = 0;
};

Collected Collect(const HeapTables& tables) {
  Collected c;
  tables.ForEachBucket([&](const HeapTables::BucketView& view) {
    ++c.buckets;
    c.allocs += view.counts.allocs;
    c.frees += view.counts.frees;
    c.live_weight += view.counts.alloc_weight - view.counts.free_weight;
  });
  return c;
}

const void* FakeBlock(uint64_t i) {
  return reinterpret_cast<const void*>(0x100000000ull + i * 48);
}

// Empties the tables and adds one bucket, of a one-frame stack and `size`.
uint32_t ResetWithOneBucket(HeapTables& tables, uint64_t size) {
  tables.Reset();
  const uint64_t stack[] = {0x1000};
  return tables.FindOrAddBucket(stack, 1, size, 0);
}

TEST(HeapTablesTest, SameStackAndSizeShareABucket) {
  HeapTables* tables = HeapTables::Get();
  ASSERT_NE(tables, nullptr);
  tables->Reset();
  const uint64_t stack[] = {0x1000, 0x2000, 0x3000};
  uint32_t a = tables->FindOrAddBucket(stack, 3, 64, 0);
  uint32_t b = tables->FindOrAddBucket(stack, 3, 64, 0);
  uint32_t c = tables->FindOrAddBucket(stack, 3, 128, 0);
  uint32_t d = tables->FindOrAddBucket(stack, 2, 64, 0);
  uint32_t e = tables->FindOrAddBucket(stack, 3, 64, 7);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  EXPECT_NE(a, e);  // another label set: another bucket
  EXPECT_EQ(e, tables->FindOrAddBucket(stack, 3, 64, 7));
  EXPECT_NE(a, HeapTables::kOverflowBucket);
}

// The granule map every free tests first: a granule stays marked while any
// live sampled block starts in it, and is clear once none does (a clear
// granule must never hide a live block; a marked one only costs a lookup).
TEST(HeapTablesTest, TheGranuleMapFollowsTheLiveBlocks) {
  HeapTables* tables = HeapTables::Get();
  const uint32_t bucket = ResetWithOneBucket(*tables, 16);
  const auto* first = reinterpret_cast<const void*>(0x7f0000001010ull);
  const auto* second = reinterpret_cast<const void*>(0x7f0000001030ull);
  const auto* elsewhere = reinterpret_cast<const void*>(0x7f0000005010ull);
  EXPECT_FALSE(InSampledGranule(first));
  ASSERT_TRUE(tables->AddLive(first, bucket, kWeightOne, 16));
  ASSERT_TRUE(tables->AddLive(second, bucket, kWeightOne, 16));
  EXPECT_TRUE(InSampledGranule(first));
  EXPECT_TRUE(InSampledGranule(second));
  EXPECT_FALSE(InSampledGranule(elsewhere));
  tables->FreeIfLive(first);
  EXPECT_TRUE(InSampledGranule(second)) << "the other block is still live";
  tables->FreeIfLive(first);  // not live any more: changes nothing
  EXPECT_TRUE(InSampledGranule(second));
  tables->FreeIfLive(second);
  EXPECT_FALSE(InSampledGranule(second));
  ASSERT_TRUE(tables->AddLive(second, bucket, kWeightOne, 16));
  tables->Reset();
  EXPECT_FALSE(InSampledGranule(second));
}

// Two threads whose sampled blocks share a granule slot, each freeing its
// own while the other records one. A free that takes the slot's count to
// zero clears the slot's bit; a block recorded meanwhile must never be
// left with its bit clear, even for the few instructions until that free
// sees the new count: a free of it in that window (by any thread) would
// skip the lookup and leave the block live in the profile for ever.
TEST(HeapTablesTest, ARecordedBlockIsNeverHiddenByAConcurrentFree) {
  HeapTables* tables = HeapTables::Get();
  const uint32_t bucket = ResetWithOneBucket(*tables, 16);
  // Addresses 4 MiB apart share a slot (kSampledGranuleSlots granules).
  const uint64_t slot_span = uint64_t{kSampledGranuleSlots}
                             << kSampledGranuleShift;
  const uint64_t base = 0x7f0000001010ull;
  ASSERT_EQ(
      SampledGranuleSlot(reinterpret_cast<const void*>(base)),
      SampledGranuleSlot(reinterpret_cast<const void*>(base + slot_span)));
  constexpr int kRounds = 200000;
  std::atomic<int> hidden{0};
  auto churn = [&](uint64_t address) {
    const auto* block = reinterpret_cast<const void*>(address);
    for (int round = 0; round < kRounds; ++round) {
      if (!tables->AddLive(block, bucket, kWeightOne, 16)) continue;
      for (int look = 0; look < 4; ++look) {
        if (!InSampledGranule(block)) hidden.fetch_add(1);
      }
      tables->FreeIfLive(block);
    }
  };
  std::thread other(churn, base + slot_span);
  churn(base);
  other.join();
  EXPECT_EQ(hidden.load(), 0)
      << "times a live block's granule bit was found clear";
  EXPECT_FALSE(InSampledGranule(reinterpret_cast<const void*>(base)));
  EXPECT_EQ(Collect(*tables).live_weight, 0u);
}

// A free stopped halfway through clearing a granule's bit, for good: in a
// child forked at that moment, its thread does not exist. A sample marked
// there must neither wait for ever nor be left with its bit clear, and the
// next one must not wait at all.
TEST(HeapTablesTest, AClearerThatNeverFinishesDoesNotHoldMarkersUp) {
  HeapTables* tables = HeapTables::Get();
  const uint32_t bucket = ResetWithOneBucket(*tables, 16);
  const auto* block = reinterpret_cast<const void*>(0x7f0000001010ull);
  const auto* beside = reinterpret_cast<const void*>(0x7f0000001030ull);
  tables->StallGranuleClearForTest(block);
  ASSERT_TRUE(tables->AddLive(block, bucket, kWeightOne, 16));  // returns
  EXPECT_TRUE(InSampledGranule(block));
  ASSERT_TRUE(tables->AddLive(beside, bucket, kWeightOne, 16));
  tables->FreeIfLive(block);
  EXPECT_TRUE(InSampledGranule(beside));
  tables->FreeIfLive(beside);
  EXPECT_FALSE(InSampledGranule(beside)) << "the flag was dropped";
  EXPECT_EQ(Collect(*tables).live_weight, 0u);
}

// What keeps frees cheap: the blocks around a sampled one, on its page, are
// not looked up. With a bit per 4 KiB page every free of a block on that
// page took the slow path (0.3 % of the CPU on the mixed benchmark).
TEST(HeapTablesTest, BlocksBesideASampledOneAreNotLookedUp) {
  HeapTables* tables = HeapTables::Get();
  const uint32_t bucket = ResetWithOneBucket(*tables, 48);
  const uint64_t sampled = 0x7f0000001410ull;
  ASSERT_TRUE(tables->AddLive(reinterpret_cast<const void*>(sampled), bucket,
                              kWeightOne, 48));
  int looked_up = 0;
  for (uint64_t block = 0x7f0000001010ull; block < 0x7f0000002000ull;
       block += 32) {
    if (block != sampled && InSampledGranule(reinterpret_cast<void*>(block))) {
      ++looked_up;
    }
  }
  EXPECT_LE(looked_up, 1) << "of the page's 127 other 32-byte blocks";
  tables->Reset();
}

TEST(HeapTablesTest, FreesAreChargedToTheAllocatingBucket) {
  HeapTables* tables = HeapTables::Get();
  tables->Reset();
  const uint64_t stack[] = {0x1000, 0x2000};
  uint32_t bucket = tables->FindOrAddBucket(stack, 2, 100, 0);
  for (uint64_t i = 0; i < 1000; ++i) {
    tables->RecordAlloc(bucket, 3 * kWeightOne, 100);
    ASSERT_TRUE(tables->AddLive(FakeBlock(i), bucket, 3 * kWeightOne, 100));
  }
  for (uint64_t i = 0; i < 600; ++i) {
    EXPECT_TRUE(tables->MaybeLive(FakeBlock(i)));
    tables->FreeIfLive(FakeBlock(i));
  }
  // Unknown blocks and a second free of the same block change nothing.
  tables->FreeIfLive(FakeBlock(5));
  tables->FreeIfLive(FakeBlock(123456));
  Collected c = Collect(*tables);
  EXPECT_EQ(c.allocs, 1000u);
  EXPECT_EQ(c.frees, 600u);
  EXPECT_EQ(c.live_weight, 400 * 3 * kWeightOne);
  EXPECT_EQ(tables->live_blocks(), 400u);
}

TEST(HeapTablesTest, ChurnThroughTombstonesKeepsTheBooks) {
  HeapTables* tables = HeapTables::Get();
  tables->Reset();
  const uint64_t stack[] = {0x4000};
  uint32_t bucket = tables->FindOrAddBucket(stack, 1, 16, 0);
  // Many more insertions than the table has slots: tombstones get reused.
  for (uint64_t round = 0; round < 40; ++round) {
    for (uint64_t i = 0; i < 10000; ++i) {
      uint64_t id = round * 10000 + i;
      tables->RecordAlloc(bucket, kWeightOne, 16);
      ASSERT_TRUE(tables->AddLive(FakeBlock(id), bucket, kWeightOne, 16)) << id;
    }
    for (uint64_t i = 0; i < 10000; ++i) {
      tables->FreeIfLive(FakeBlock(round * 10000 + i));
    }
  }
  EXPECT_EQ(tables->live_blocks(), 0u);
  Collected c = Collect(*tables);
  EXPECT_EQ(c.allocs, 400000u);
  EXPECT_EQ(c.frees, 400000u);
}

TEST(HeapTablesTest, AFullStackTableSendsSamplesToTheOverflowBucket) {
  HeapTables* tables = HeapTables::Get();
  tables->Reset();
  int overflowed = 0;
  for (uint64_t i = 0; i < HeapTables::kStackCapacity + 1000; ++i) {
    const uint64_t stack[] = {0x10000 + i, 0x20000};
    uint32_t bucket = tables->FindOrAddBucket(stack, 2, 8, 0);
    tables->RecordAlloc(bucket, kWeightOne, 8);
    overflowed += bucket == HeapTables::kOverflowBucket;
  }
  EXPECT_GE(overflowed, 1000);
  EXPECT_EQ(tables->overflowed(), static_cast<uint64_t>(overflowed));
  // Nothing is lost: every sample is in some bucket.
  EXPECT_EQ(Collect(*tables).allocs, HeapTables::kStackCapacity + 1000u);
}

// This process's anonymous resident memory, in bytes.
int64_t RssAnonBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0) {
      return std::stoll(line.substr(8)) * 1024;  // "RssAnon:  1234 kB"
    }
  }
  return -1;
}

// The tables are mapped for their capacity (tens of thousands of stacks,
// buckets and live blocks) but only what is in use becomes resident: 2,000
// distinct buckets, or live blocks coming and going all over the address
// space, must not make whole tables resident, as tables hashing whole
// entries across their pages do (issue 16 item 3: the agent's memory).
TEST(HeapTablesTest, OnlyTheEntriesInUseAreResident) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's shadow memory is resident too";
#endif
  HeapTables* tables = HeapTables::Get();
  tables->Reset();  // every page given back
  const int64_t before = RssAnonBytes();
  ASSERT_GT(before, 0);
  for (uint64_t i = 0; i < 2000; ++i) {
    const uint64_t stack[] = {0x10000 + i * 64, 0x20000, 0x30000};
    tables->RecordAlloc(tables->FindOrAddBucket(stack, 3, 16 + i, 0),
                        kWeightOne, 16 + i);
  }
  // A server's churn: 100,000 sampled blocks at addresses all over, never
  // more than 64 alive at once.
  const uint64_t stack[] = {0x40000, 0x50000};
  const uint32_t bucket = tables->FindOrAddBucket(stack, 2, 32, 0);
  for (uint64_t i = 0; i < 100'000; ++i) {
    tables->RecordAlloc(bucket, kWeightOne, 32);
    ASSERT_TRUE(tables->AddLive(FakeBlock(i * 7919), bucket, kWeightOne, 32));
    if (i >= 64) tables->FreeIfLive(FakeBlock((i - 64) * 7919));
  }
  const int64_t grown = RssAnonBytes() - before;
  EXPECT_EQ(Collect(*tables).buckets, 2001u);
  EXPECT_EQ(tables->live_blocks(), 64u);
  // In use: 2,001 buckets and stacks (~180 KiB with their pcs), 64 live
  // blocks, and what is hashed: the indexes and the granule map's counts
  // (1.2 MiB at most); the tables' capacity is 8 MiB.
  EXPECT_LT(grown, 2 << 20) << "resident growth " << grown << " bytes";
}

// Hooks run on every thread at once; the sanitizer jobs run this too.
TEST(HeapTablesTest, ConcurrentAllocAndFreeFromManyThreads) {
  HeapTables* tables = HeapTables::Get();
  tables->Reset();
  constexpr int kThreads = 8;
  constexpr uint64_t kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([tables, t] {
      const uint64_t stack[] = {0x5000, 0x6000 + static_cast<uint64_t>(t % 3)};
      for (uint64_t i = 0; i < kPerThread; ++i) {
        uint64_t id = t * kPerThread + i;
        uint32_t bucket = tables->FindOrAddBucket(stack, 2, 32 + (i % 4), 0);
        tables->RecordAlloc(bucket, kWeightOne, 32 + (i % 4));
        if (!tables->AddLive(FakeBlock(id), bucket, kWeightOne, 32 + (i % 4))) {
          tables->RecordFree(bucket, kWeightOne, 32 + (i % 4));
        }
        if (i >= 16) tables->FreeIfLive(FakeBlock(id - 16));
      }
      for (uint64_t i = kPerThread - 16; i < kPerThread; ++i) {
        tables->FreeIfLive(FakeBlock(t * kPerThread + i));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Collected c = Collect(*tables);
  EXPECT_EQ(c.allocs, kThreads * kPerThread);
  EXPECT_EQ(c.frees, kThreads * kPerThread);
  EXPECT_EQ(c.live_weight, 0u);
  EXPECT_EQ(tables->live_blocks(), 0u);
}

}  // namespace
}  // namespace inprof::internal
