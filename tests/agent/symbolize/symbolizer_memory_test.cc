// The symbolizer's memory is bounded and given back when idle (issue 16,
// item 3): the address cache and the compile unit indexes stay within their
// limits while names stay right, and an idle symbolizer drops everything,
// judged by an injected clock, never by waiting.
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/agent_thread.h"
#include "agent/symbolize/idle_release.h"
#include "agent/symbolize/symbolizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/symbolize/test_functions.h"

namespace inprof::internal {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

constexpr int64_t kSecond = 1000000000;

// In this file's compile unit (test_functions.cc is another one).
__attribute__((noinline)) uint64_t LocalFunction(int n) {
  uint64_t x = 7;
  for (int i = 0; i < n; ++i) x = x * 131 + static_cast<uint64_t>(i);
  return x;
}

uint64_t LocalAddress() {
  return reinterpret_cast<uint64_t>(&LocalFunction) + 4;
}

// Addresses spread over this executable's code: many compile units (gtest's
// among them) and many distinct cache entries.
std::vector<uint64_t> ExecutableAddresses(Symbolizer& symbolizer, int count) {
  const ProcessMapping* exe = symbolizer.MappingFor(LocalAddress());
  std::vector<uint64_t> addresses;
  if (exe == nullptr) return addresses;
  const uint64_t step =
      std::max<uint64_t>(16, (exe->limit - exe->start) / count);
  for (uint64_t a = exe->start;
       a < exe->limit && addresses.size() < static_cast<size_t>(count);
       a += step) {
    addresses.push_back(a);
  }
  return addresses;
}

TEST(SymbolizerMemoryTest, AddressCacheStaysWithinItsLimit) {
  Symbolizer symbolizer;
  SymbolizerLimits limits;
  limits.address_cache_bytes = 64 << 10;
  symbolizer.set_limits(limits);
  const std::string local = symbolizer.Symbolize(LocalAddress()).back().name;
  ASSERT_THAT(local, HasSubstr("LocalFunction"));
  size_t largest = 0;
  for (uint64_t address : ExecutableAddresses(symbolizer, 3000)) {
    symbolizer.Symbolize(address);
    largest = std::max(largest, symbolizer.stats().address_cache_bytes);
  }
  const SymbolizerStats stats = symbolizer.stats();
  EXPECT_GT(stats.addresses_evicted, 0u);
  // Each generation stops growing at half the limit, give or take the one
  // entry that crossed it.
  EXPECT_LE(largest, limits.address_cache_bytes + 4096);
  EXPECT_GT(largest, limits.address_cache_bytes / 4);  // it was used
  // Evicted addresses are named again, and the same.
  EXPECT_EQ(symbolizer.Symbolize(LocalAddress()).back().name, local);
}

// Cached or not is seen through cancellation: a cancelled symbolizer names
// cached addresses as before and every other address unknown.
TEST(SymbolizerMemoryTest, AddressesStillAskedForStayCachedOthersAgeOut) {
  Symbolizer symbolizer;
  SymbolizerLimits limits;
  limits.address_cache_bytes = 16 << 10;
  symbolizer.set_limits(limits);
  const uint64_t cold = app::Worker::Spin(1);
  symbolizer.Symbolize(cold);
  symbolizer.Symbolize(LocalAddress());
  for (uint64_t address : ExecutableAddresses(symbolizer, 2000)) {
    symbolizer.Symbolize(address);
    symbolizer.Symbolize(LocalAddress());  // a hot frame
  }
  EXPECT_GT(symbolizer.stats().addresses_evicted, 0u);
  symbolizer.set_cancel([] { return true; });
  const std::vector<SourceFrame> hot = symbolizer.Symbolize(LocalAddress());
  EXPECT_FALSE(hot.back().unknown);
  EXPECT_THAT(hot.back().name, HasSubstr("LocalFunction"));
  EXPECT_TRUE(symbolizer.Symbolize(cold).back().unknown);
}

TEST(SymbolizerMemoryTest, UnitIndexesStayWithinTheirLimit) {
  Symbolizer symbolizer;
  SymbolizerLimits limits;
  limits.unit_index_bytes = 1;  // room for the unit in use only
  symbolizer.set_limits(limits);
  EXPECT_THAT(symbolizer.Symbolize(LocalAddress()).back().name,
              HasSubstr("LocalFunction"));
  EXPECT_EQ(symbolizer.stats().unit_indexes, 1u);
  // Another compile unit: the first one's index goes.
  EXPECT_EQ(symbolizer.Symbolize(app::Worker::Spin(1)).back().name,
            "app::Worker::Spin");
  SymbolizerStats stats = symbolizer.stats();
  EXPECT_EQ(stats.unit_indexes, 1u);
  EXPECT_EQ(stats.unit_indexes_evicted, 1u);
  EXPECT_GT(stats.unit_index_bytes, 0u);
  // An uncached address of the evicted unit: indexed again, named right.
  EXPECT_THAT(
      symbolizer.Symbolize(reinterpret_cast<uint64_t>(&LocalFunction) + 6)
          .back()
          .name,
      HasSubstr("LocalFunction"));
  EXPECT_EQ(symbolizer.stats().unit_indexes_evicted, 2u);
}

TEST(SymbolizerMemoryTest, IdleSymbolizerReleasesEverythingAndStartsAgain) {
  Symbolizer symbolizer;
  int64_t now = 1000 * kSecond;
  symbolizer.set_clock([&now] { return now; });
  EXPECT_FALSE(symbolizer.ReleaseIfIdle(30 * kSecond));  // holds nothing
  const std::string name = symbolizer.Symbolize(LocalAddress()).back().name;
  SymbolizerStats warm = symbolizer.stats();
  EXPECT_TRUE(warm.session_open);
  EXPECT_GT(warm.cached_addresses, 0u);
  EXPECT_GT(warm.unit_indexes, 0u);

  now += 29 * kSecond;
  EXPECT_FALSE(symbolizer.ReleaseIfIdle(30 * kSecond));
  EXPECT_TRUE(symbolizer.stats().session_open);
  symbolizer.Symbolize(LocalAddress());  // a cached use counts as use
  now += 29 * kSecond;
  EXPECT_FALSE(symbolizer.ReleaseIfIdle(30 * kSecond));

  now += 1 * kSecond;
  EXPECT_TRUE(symbolizer.ReleaseIfIdle(30 * kSecond));
  SymbolizerStats idle = symbolizer.stats();
  EXPECT_FALSE(idle.session_open);
  EXPECT_EQ(idle.cached_addresses, 0u);
  EXPECT_EQ(idle.address_cache_bytes, 0u);
  EXPECT_EQ(idle.unit_indexes, 0u);
  EXPECT_EQ(idle.unit_index_bytes, 0u);
  EXPECT_EQ(idle.symbol_table_bytes, 0u);
  EXPECT_EQ(idle.releases, 1u);
  EXPECT_FALSE(symbolizer.ReleaseIfIdle(30 * kSecond));  // nothing left

  // The next use starts cold and names the same.
  EXPECT_EQ(symbolizer.Symbolize(LocalAddress()).back().name, name);
  EXPECT_TRUE(symbolizer.stats().session_open);
  EXPECT_EQ(symbolizer.Symbolize(app::Worker::Spin(1)).back().name,
            "app::Worker::Spin");
  EXPECT_NE(symbolizer.MappingFor(LocalAddress()), nullptr);
}

TEST(SymbolizerMemoryTest, ReleaseKeepsMappingsGivenAtConstruction) {
  Symbolizer live;
  std::vector<ProcessMapping> mappings = live.mappings();
  Symbolizer symbolizer(mappings);
  const std::string name = symbolizer.Symbolize(LocalAddress()).back().name;
  EXPECT_THAT(name, HasSubstr("LocalFunction"));
  symbolizer.Release();
  EXPECT_FALSE(symbolizer.stats().session_open);
  EXPECT_EQ(symbolizer.mappings().size(), mappings.size());
  EXPECT_EQ(symbolizer.Symbolize(LocalAddress()).back().name, name);
}

// libdw would decompress such DWARF into the heap whole (12 MiB for libc6-dbg's
// libc): over the limit, the module is named from its symbols alone.
TEST(SymbolizerMemoryTest, CompressedDwarfOverTheLimitIsNotRead) {
  void* lib = dlopen(SYMTEST_ZLIB_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  const auto entry = reinterpret_cast<uint64_t>(dlsym(lib, "SymtestEntry"));
  ASSERT_NE(entry, 0u);
  {
    Symbolizer symbolizer;  // the default limit: a small library's is read
    const std::vector<SourceFrame> frames = symbolizer.Symbolize(entry);
    EXPECT_EQ(frames.back().name, "SymtestEntry");
    EXPECT_THAT(frames.back().file, EndsWith("symtest_lib.cc"));
    EXPECT_EQ(symbolizer.stats().modules_without_dwarf, 0u);
  }
  {
    Symbolizer symbolizer;
    SymbolizerLimits limits;
    limits.compressed_dwarf_bytes = 16;
    symbolizer.set_limits(limits);
    const std::vector<SourceFrame> frames = symbolizer.Symbolize(entry);
    EXPECT_EQ(frames.back().name, "SymtestEntry");
    EXPECT_EQ(frames.back().file, "");
    EXPECT_EQ(frames.back().line, 0);
    EXPECT_EQ(symbolizer.stats().modules_without_dwarf, 1u);
    // Uncompressed DWARF (this executable's) is read whatever the limit.
    EXPECT_THAT(symbolizer.Symbolize(LocalAddress()).back().file,
                EndsWith("symbolizer_memory_test.cc"));
  }
  dlclose(lib);
}

// The files libelf mapped are trimmed from this process's memory, and what
// they name is unchanged after (the pages come back on the next read).
TEST(SymbolizerMemoryTest, TrimmedFilesStillNameEverything) {
  Symbolizer symbolizer;
  EXPECT_EQ(symbolizer.TrimMappedFiles(), 0u);  // no session yet
  const std::string local = symbolizer.Symbolize(LocalAddress()).back().name;
  EXPECT_GT(symbolizer.TrimMappedFiles(), 0u);
  // Uncached addresses read DWARF and symbols from the trimmed mappings.
  EXPECT_EQ(symbolizer.Symbolize(app::Worker::Spin(1)).back().name,
            "app::Worker::Spin");
  EXPECT_THAT(
      symbolizer.Symbolize(reinterpret_cast<uint64_t>(&LocalFunction) + 6)
          .back()
          .file,
      EndsWith("symbolizer_memory_test.cc"));
  EXPECT_EQ(symbolizer.Symbolize(LocalAddress()).back().name, local);
}

TEST(SymbolizerMemoryTest, IdleReleaserCallsPeriodicallyOnAnAgentThread) {
  std::atomic<int> calls{0};
  std::atomic<bool> on_agent_thread{true};
  {
    IdleReleaser releaser(std::chrono::milliseconds(1), [&] {
      if (!IsAgentThread()) on_agent_thread = false;
      ++calls;
      calls.notify_all();
    });
    for (int seen = calls.load(); seen < 3; seen = calls.load()) {
      calls.wait(seen);
    }
  }  // the destructor stops the thread
  // A thread left running would call again within a few of its 1 ms
  // periods. (A busy machine can only hide that, never fail the test.)
  const int after_stop = calls.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), after_stop);
  EXPECT_TRUE(on_agent_thread.load());
  EXPECT_GE(LocalFunction(2), 0u);
}

}  // namespace
}  // namespace inprof::internal
