#include "agent/unwind/address_map.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace inprof::internal {
namespace {

__attribute__((noinline)) int SomeCode(int x) { return x * 3 + 1; }

TEST(AddressMapTest, KnowsTheCurrentStackAndOurCode) {
  std::unique_ptr<AddressMap> map = AddressMap::Build();
  int local = 0;
  EXPECT_TRUE(map->IsReadable(reinterpret_cast<uint64_t>(&local), 8));
  const UnwindModule* module =
      map->ModuleFor(reinterpret_cast<uint64_t>(&SomeCode));
  ASSERT_NE(module, nullptr);
  EXPECT_NE(module->eh_frame_hdr, 0u);
  EXPECT_GT(module->fde_count, 0u);
  // Code of a module is readable too (the unwinder reads .eh_frame there).
  EXPECT_TRUE(map->IsReadable(module->eh_frame_hdr, 8));
}

// Every kFdeIndexStride-th entry of a module's search table, copied.
TEST(AddressMapTest, SamplesEachModulesSearchTable) {
  std::unique_ptr<AddressMap> map = AddressMap::Build();
  for (uint64_t code : {reinterpret_cast<uint64_t>(&SomeCode),
                        reinterpret_cast<uint64_t>(&write)}) {
    const UnwindModule* module = map->ModuleFor(code);
    ASSERT_NE(module, nullptr);
    ASSERT_GT(module->fde_count, 0u);
    ASSERT_EQ(module->fde_index.size(),
              (module->fde_count + kFdeIndexStride - 1) / kFdeIndexStride);
    for (size_t k = 0; k < module->fde_index.size(); ++k) {
      int32_t initial;
      std::memcpy(&initial,
                  reinterpret_cast<const void*>(module->fde_table +
                                                k * kFdeIndexStride * 8),
                  sizeof(initial));
      ASSERT_EQ(module->fde_index[k], initial) << k;
    }
  }
}

TEST(AddressMapTest, KnowsLibcAndTheVdso) {
  std::unique_ptr<AddressMap> map = AddressMap::Build();
  EXPECT_NE(map->ModuleFor(reinterpret_cast<uint64_t>(&write)), nullptr);
  EXPECT_GE(map->modules(), 3u);  // executable, libc, vdso at least
}

TEST(AddressMapTest, UnmappedMemoryIsNotReadable) {
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  std::unique_ptr<AddressMap> mapped = AddressMap::Build();
  munmap(page, 4096);
  std::unique_ptr<AddressMap> unmapped = AddressMap::Build();
  uint64_t address = reinterpret_cast<uint64_t>(page);
  EXPECT_TRUE(mapped->IsReadable(address, 8));
  EXPECT_FALSE(unmapped->IsReadable(address, 8));
  EXPECT_FALSE(unmapped->IsReadable(0, 8));
  EXPECT_EQ(unmapped->ModuleFor(address), nullptr);
}

TEST(AddressMapTest, FileBackedDataMappingsAreNotReadable) {
  // Reading a file mapping past the file's end raises SIGBUS: never allowed.
  char path[] = "/tmp/inprof_address_map_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  void* data = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(data, MAP_FAILED);
  std::unique_ptr<AddressMap> map = AddressMap::Build();
  EXPECT_FALSE(map->IsReadable(reinterpret_cast<uint64_t>(data), 8));
  munmap(data, 4096);
  close(fd);
  unlink(path);
}

TEST(AddressMapTest, RangeBoundsAreExactAndOverlapsMerge) {
  AddressMap map(
      {{0x3000, 0x4000}, {0x1000, 0x2000}, {0x1800, 0x2000}, {0x2000, 0x2800}},
      {{0x1000, 0x1800, 0, 0, 0, {}}});
  // Overlapping ranges merge; adjacent ones stay apart (one mapping each).
  EXPECT_EQ(map.readable_ranges(), 3u);
  EXPECT_TRUE(map.IsReadable(0x1ff8, 8));
  EXPECT_FALSE(map.IsReadable(0x1ff8, 16));  // crosses into the next mapping
  EXPECT_EQ(map.RangeContaining(0x2100).start, 0x2000u);
  EXPECT_EQ(map.RangeContaining(0x2100).end, 0x2800u);
  EXPECT_EQ(map.RangeContaining(0x2900).end, 0u);
  EXPECT_FALSE(map.IsReadable(0x27fc, 8));  // runs past the end
  EXPECT_TRUE(map.IsReadable(0x3ff8, 8));
  EXPECT_FALSE(map.IsReadable(0x4000, 1));
  EXPECT_FALSE(map.IsReadable(0xfff, 2));
  EXPECT_FALSE(map.IsReadable(UINT64_MAX - 4, 8));  // no wrap-around
  EXPECT_NE(map.ModuleFor(0x17ff), nullptr);
  EXPECT_EQ(map.ModuleFor(0x1800), nullptr);
}

TEST(AddressMapTest, LoaderGenerationChangesOnDlopenAndDlclose) {
  LoaderGeneration before = CurrentLoaderGeneration();
  void* handle = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  LoaderGeneration opened = CurrentLoaderGeneration();
  dlclose(handle);
  LoaderGeneration closed = CurrentLoaderGeneration();
  // libz may already be loaded (then nothing changes); otherwise adds grows.
  EXPECT_GE(opened.adds, before.adds);
  EXPECT_GE(closed.subs, opened.subs);
}

TEST(AddressMapHolderTest, PublishReplacesTheMapReadersSee) {
  AddressMapHolder holder;
  EXPECT_EQ(holder.Acquire(), nullptr);
  holder.Release();
  holder.Publish(
      std::make_unique<AddressMap>(std::vector<AddressRange>{{0x1000, 0x2000}},
                                   std::vector<UnwindModule>{}));
  const AddressMap* first = holder.Acquire();
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(first->IsReadable(0x1000, 8));
  holder.Release();
  holder.Publish(AddressMap::Build());
  const AddressMap* second = holder.Acquire();
  EXPECT_FALSE(second->IsReadable(0x1000, 8));
  holder.Release();
  EXPECT_FALSE(holder.TakeRefreshRequest());
  holder.RequestRefresh();
  EXPECT_TRUE(holder.TakeRefreshRequest());
  EXPECT_FALSE(holder.TakeRefreshRequest());
}

}  // namespace
}  // namespace inprof::internal
