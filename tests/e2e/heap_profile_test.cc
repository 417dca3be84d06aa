// Heap and allocation profiles fetched over HTTP as users and `go tool pprof`
// fetch them, from samples the malloc front takes. Built twice: on tcmalloc
// (this test links -ltcmalloc) and (INPROF_TEST_GLIBC) on glibc's malloc,
// with nothing but inprof::agent linked: every expectation holds on both.

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/profile/check_valid.h"
#include "agent/profile/decode.h"
#include "agent/profile/profile.h"
#include "inprof/agent.h"
#include "tests/support/go_tool.h"
#include "tests/support/regex.h"
#include "tests/support/temp_dir.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int64_t kMiB = 1 << 20;

StatusOr<Agent> StartAgent(int64_t heap_rate) {
  Options options;
  options.port = 0;
  options.heap_sample_rate = heap_rate;
  return Agent::Start(options);
}

// A rate change takes effect at each thread's next sample: one big block
// makes this thread draw its next sample point at the new rate.
// (volatile: the compiler may not elide the pair.)
void ApplyRateNow() {
  void* volatile block = std::malloc(256 * kMiB);
  std::free(block);
}

std::string Fetch(const Agent& agent, const std::string& path,
                  int* status = nullptr) {
  httplib::Client client("127.0.0.1", agent.port());
  client.set_read_timeout(std::chrono::seconds(60));
  httplib::Result result = client.Get(path.c_str());
  if (!result) return "";
  if (status != nullptr) *status = result->status;
  return result->body;
}

struct Totals {
  int64_t alloc_objects = 0;
  int64_t alloc_space = 0;
  int64_t inuse_objects = 0;
  int64_t inuse_space = 0;
  std::set<std::string> leaf_functions;
};

std::string FunctionName(const internal::Profile& p, uint64_t location_id) {
  const internal::Location& location = p.locations.at(location_id - 1);
  if (location.lines.empty()) return "";
  return p.functions.at(location.lines.back().function_id - 1).name;
}

// Sums the samples whose stack contains `function`.
Totals TotalsFor(const internal::Profile& p, const std::string& function) {
  Totals totals;
  for (const internal::Sample& s : p.samples) {
    bool found = false;
    for (uint64_t id : s.location_ids) {
      if (FunctionName(p, id) == function) found = true;
    }
    if (!found) continue;
    totals.alloc_objects += s.values[0];
    totals.alloc_space += s.values[1];
    totals.inuse_objects += s.values[2];
    totals.inuse_space += s.values[3];
    totals.leaf_functions.insert(FunctionName(p, s.location_ids.front()));
  }
  return totals;
}

internal::Profile FetchProfile(const Agent& agent, const std::string& path) {
  std::string body = Fetch(agent, path);
  Status valid = internal::ValidateEncoded(body);
  EXPECT_TRUE(valid.ok()) << valid.ToString();
  StatusOr<internal::Profile> profile = internal::DecodeProfile(body);
  EXPECT_TRUE(profile.ok()) << profile.status().ToString();
  return profile.ok() ? *profile : internal::Profile{};
}

// --- Allocation forms, each from its own function ---------------------------

constexpr int kCount = 50;
constexpr int kFreed = 20;
std::vector<void*> g_kept;  // reserved before sampling starts

#define INPROF_KEEP(p) g_kept.push_back(p)

__attribute__((noinline)) void AllocWithMalloc() {
  void* p[kCount];
  for (auto& q : p) q = std::malloc(100);
  for (int i = 0; i < kFreed; ++i) std::free(p[i]);
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

__attribute__((noinline)) void AllocWithCalloc() {
  void* p[kCount];
  for (auto& q : p) q = std::calloc(10, 30);
  for (int i = 0; i < kFreed; ++i) std::free(p[i]);
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

__attribute__((noinline)) void AllocWithRealloc() {
  // Each realloc to a larger size moves the block: one allocation of the
  // new size, one free of the old.
  void* p[kCount];
  for (auto& q : p) q = std::realloc(nullptr, 64);
  for (auto& q : p) q = std::realloc(q, 64 * 1024);
  for (int i = 0; i < kFreed; ++i) std::free(p[i]);
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

struct Widget {
  char bytes[200];
};

__attribute__((noinline)) void AllocWithNew() {
  Widget* p[kCount];
  for (auto& q : p) q = new Widget;
  for (int i = 0; i < kFreed; ++i) delete p[i];
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

__attribute__((noinline)) void AllocWithNewArray() {
  char* p[kCount];
  for (auto& q : p) q = new char[300];
  for (int i = 0; i < kFreed; ++i) delete[] p[i];
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

struct alignas(128) AlignedWidget {
  char bytes[256];
};

__attribute__((noinline)) void AllocWithAlignedNew() {
  AlignedWidget* p[kCount];
  for (auto& q : p) q = new AlignedWidget;
  for (int i = 0; i < kFreed; ++i) delete p[i];
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

__attribute__((noinline)) void AllocWithPosixMemalign() {
  void* p[kCount];
  for (auto& q : p) {
    if (posix_memalign(&q, 256, 512) != 0) std::abort();
  }
  for (int i = 0; i < kFreed; ++i) std::free(p[i]);
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

__attribute__((noinline)) void AllocWithAlignedAlloc() {
  void* p[kCount];
  for (auto& q : p) q = std::aligned_alloc(64, 640);
  for (int i = 0; i < kFreed; ++i) std::free(p[i]);
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

__attribute__((noinline)) void AllocWithMemalign() {
  void* p[kCount];
  for (auto& q : p) q = memalign(512, 700);
  for (int i = 0; i < kFreed; ++i) std::free(p[i]);
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

__attribute__((noinline)) void AllocWithValloc() {
  void* p[kCount];
  for (auto& q : p) q = valloc(900);
  for (int i = 0; i < kFreed; ++i) std::free(p[i]);
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

// pvalloc rounds the size up to whole pages, and is charged for them.
__attribute__((noinline)) void AllocWithPvalloc() {
  void* p[kCount];
  for (auto& q : p) q = pvalloc(1000);
  for (int i = 0; i < kFreed; ++i) std::free(p[i]);
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

__attribute__((noinline)) void AllocWithReallocarray() {
  void* p[kCount];
  for (auto& q : p) q = reallocarray(nullptr, 11, 100);
  for (int i = 0; i < kFreed; ++i) std::free(p[i]);
  for (int i = kFreed; i < kCount; ++i) INPROF_KEEP(p[i]);
}

TEST(HeapProfileTest, EveryAllocationFormIsSampledAndItsFreesCounted) {
  StatusOr<Agent> agent = StartAgent(512 * 1024);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  g_kept.reserve(1000);
  // Rate 1 samples every allocation, with weight 1: counts are exact.
  ASSERT_TRUE(agent->SetHeapSampleRate(1).ok());
  ApplyRateNow();
  AllocWithMalloc();
  AllocWithCalloc();
  AllocWithRealloc();
  AllocWithNew();
  AllocWithNewArray();
  AllocWithAlignedNew();
  AllocWithPosixMemalign();
  AllocWithAlignedAlloc();
  AllocWithMemalign();
  AllocWithValloc();
  AllocWithPvalloc();
  AllocWithReallocarray();
  // Every kept block is as large as asked, by the allocator's own account.
  for (void* p : g_kept) EXPECT_GE(malloc_usable_size(p), 100u);
  // An overflowing reallocarray fails without touching the block.
  errno = 0;
  volatile size_t huge = SIZE_MAX / 2;  // (volatile: no compile-time warning)
  EXPECT_EQ(reallocarray(g_kept.back(), huge, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  ASSERT_TRUE(agent->SetHeapSampleRate(512 * 1024).ok());
  ApplyRateNow();

  internal::Profile profile = FetchProfile(*agent, "/debug/pprof/heap");
  const std::pair<const char*, int64_t> cases[] = {
      {"inprof::e2e::(anonymous namespace)::AllocWithMalloc", 100},
      {"inprof::e2e::(anonymous namespace)::AllocWithCalloc", 300},
      {"inprof::e2e::(anonymous namespace)::AllocWithRealloc", 64 * 1024},
      {"inprof::e2e::(anonymous namespace)::AllocWithNew", 200},
      {"inprof::e2e::(anonymous namespace)::AllocWithNewArray", 300},
      {"inprof::e2e::(anonymous namespace)::AllocWithAlignedNew", 256},
      {"inprof::e2e::(anonymous namespace)::AllocWithPosixMemalign", 512},
      {"inprof::e2e::(anonymous namespace)::AllocWithAlignedAlloc", 640},
      {"inprof::e2e::(anonymous namespace)::AllocWithMemalign", 700},
      {"inprof::e2e::(anonymous namespace)::AllocWithValloc", 900},
      {"inprof::e2e::(anonymous namespace)::AllocWithPvalloc", 4096},
      {"inprof::e2e::(anonymous namespace)::AllocWithReallocarray", 1100},
  };
  for (const auto& [function, size] : cases) {
    SCOPED_TRACE(function);
    Totals totals = TotalsFor(profile, function);
    // realloc(nullptr, 64) allocates too: 2 x kCount allocations there.
    const int64_t allocs = size == 64 * 1024 ? 2 * kCount : kCount;
    EXPECT_EQ(totals.alloc_objects, allocs);
    EXPECT_EQ(totals.inuse_objects, kCount - kFreed);
    EXPECT_EQ(totals.inuse_space, (kCount - kFreed) * size);
    // The allocator's own frames are pruned: the leaf is our function.
    EXPECT_THAT(totals.leaf_functions, ::testing::ElementsAre(function));
  }
  for (void* p : g_kept) std::free(p);  // (sized deletes are not needed)
  g_kept.clear();
}

// --- Accuracy through go tool pprof
// -------------------------------------------

constexpr int64_t kLiveBytes = 96 * kMiB;
constexpr int64_t kChurnBytes = 768 * kMiB;

__attribute__((noinline)) std::vector<char*>* HoldLiveMemory() {
  auto* blocks = new std::vector<char*>();
  blocks->reserve(kLiveBytes / 4096);
  for (int64_t i = 0; i < kLiveBytes / 4096; ++i) {
    char* block = new char[4096];
    block[0] = 1;
    blocks->push_back(block);
  }
  return blocks;
}

__attribute__((noinline)) uint64_t ChurnMemory() {
  uint64_t sum = 0;
  for (int64_t i = 0; i < kChurnBytes / 8192; ++i) {
    char* block = static_cast<char*>(std::malloc(8192));
    asm volatile("" : : "r"(block) : "memory");  // keep the malloc/free pair
    block[i % 8192] = static_cast<char>(i);
    sum += static_cast<unsigned char>(block[i % 8192]);
    std::free(block);
  }
  return sum;
}

// The value of `function` in `go tool pprof -top` output (flat column).
double TopValue(const std::string& top, const std::string& function,
                const std::string& unit_pattern) {
  const test::Regex line("\\s*([0-9.]+)(" + unit_pattern +
                         ")\\s+[0-9.]+%\\s+[0-9.]+%\\s+[0-9.]+" + unit_pattern +
                         "\\s+[0-9.]+%\\s+(.*)");
  std::istringstream in(top);
  std::string text;
  while (std::getline(in, text)) {
    test::RegexGroups m;
    if (line.Matches(text, &m) && m[3] == function) {
      double value = std::stod(m[1]);
      const std::string& unit = m[2];
      if (unit == "kB") value *= 1024;
      if (unit == "MB") value *= 1024 * 1024;
      if (unit == "GB") value *= 1024.0 * 1024 * 1024;
      return value;
    }
  }
  return -1;
}

TEST(HeapProfileTest, GoToolPprofReadsInuseAndAllocSpaceWithinBounds) {
  // 32 KiB: thousands of samples, so the sampling error is a few percent.
  StatusOr<Agent> agent = StartAgent(32 * 1024);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  ApplyRateNow();
  std::vector<char*>* live = HoldLiveMemory();
  ChurnMemory();

  const std::string url = agent->url() + "/debug/pprof/heap";
  const std::string hold = "inprof::e2e::(anonymous namespace)::HoldLiveMemory";
  const std::string churn = "inprof::e2e::(anonymous namespace)::ChurnMemory";
  test::CommandResult inuse = test::GoToolPprof(
      {"-top", "-nodecount=20", "-sample_index=inuse_space", url});
  ASSERT_EQ(inuse.exit_code, 0) << inuse.Describe();
  EXPECT_THAT(inuse.err, Not(HasSubstr("arning"))) << inuse.Describe();
  double held = TopValue(inuse.out, hold, "[kMG]?B");
  EXPECT_NEAR(held, kLiveBytes, kLiveBytes * 0.10) << inuse.out;

  test::CommandResult allocs =
      test::GoToolPprof({"-top", "-nodecount=20", "-sample_index=alloc_space",
                         agent->url() + "/debug/pprof/allocs"});
  ASSERT_EQ(allocs.exit_code, 0) << allocs.Describe();
  double churned = TopValue(allocs.out, churn, "[kMG]?B");
  EXPECT_NEAR(churned, kChurnBytes, kChurnBytes * 0.15) << allocs.out;
  // Freed memory is not in use.
  EXPECT_LT(TopValue(inuse.out, churn, "[kMG]?B"), 1 * kMiB);

  for (char* block : *live) delete[] block;
  delete live;
}

// --- Endpoint shapes
// -------------------------------------------------------------

TEST(HeapProfileTest, HeapAndAllocsCarryGosSampleTypes) {
  StatusOr<Agent> agent = StartAgent(512 * 1024);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  ApplyRateNow();
  std::vector<char*>* live = HoldLiveMemory();
  for (const char* name : {"heap", "allocs"}) {
    SCOPED_TRACE(name);
    httplib::Client client("127.0.0.1", agent->port());
    httplib::Result result =
        client.Get((std::string("/debug/pprof/") + name).c_str());
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->get_header_value("Content-Disposition"),
              std::string("attachment; filename=\"") + name + "\"");
    StatusOr<internal::Profile> p = internal::DecodeProfile(result->body);
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->sample_types.size(), 4u);
    EXPECT_EQ(p->sample_types[0].type, "alloc_objects");
    EXPECT_EQ(p->sample_types[1].type, "alloc_space");
    EXPECT_EQ(p->sample_types[2].type, "inuse_objects");
    EXPECT_EQ(p->sample_types[3].type, "inuse_space");
    EXPECT_EQ(p->sample_types[3].unit, "bytes");
    EXPECT_EQ(p->period_type.type, "space");
    EXPECT_EQ(p->period, 512 * 1024);
    EXPECT_EQ(p->duration_nanos, 0);  // cumulative (Parca: not a delta)
    // Which way allocations reached the sampler.
    ASSERT_FALSE(p->comments.empty());
    EXPECT_THAT(p->comments[0], HasSubstr("malloc front"));
    EXPECT_EQ(p->default_sample_type,
              std::string(name) == "allocs" ? "alloc_space" : "");
    // Every sample names its allocation size, as Go's.
    for (const internal::Sample& s : p->samples) {
      ASSERT_EQ(s.labels.size(), 1u);
      EXPECT_EQ(s.labels[0].key, "bytes");
    }
  }
  for (char* block : *live) delete[] block;
  delete live;
}

// Polls the agent's thread dump until a thread's stack names `function`
// (no give-up time: ctest's timeout ends a hang).
void WaitUntilAThreadIsIn(const Agent& agent, const std::string& function) {
  while (Fetch(agent, "/debug/pprof/goroutine?debug=2").find(function) ==
         std::string::npos) {
  }
}

__attribute__((noinline)) void AllocateDuringTheWindow(
    std::vector<void*>* kept) {
  for (int i = 0; i < 2000; ++i) kept->push_back(std::malloc(4096));
}

TEST(HeapProfileTest, SecondsGivesTheDifferenceOverTheWindow) {
  StatusOr<Agent> agent = StartAgent(4096);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  ApplyRateNow();
  std::vector<char*>* before = HoldLiveMemory();  // not in the delta
  std::vector<void*> kept;
  kept.reserve(2000);
  std::thread allocator([&] {
    // After the window's first snapshot: a busy machine may start serving
    // the request late, so wait to see it waiting, not a guessed time.
    WaitUntilAThreadIsIn(*agent, "WaitForWindow");
    ApplyRateNow();
    AllocateDuringTheWindow(&kept);
  });
  httplib::Client client("127.0.0.1", agent->port());
  client.set_read_timeout(std::chrono::seconds(60));
  httplib::Result result = client.Get("/debug/pprof/heap?seconds=3");
  allocator.join();
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Disposition"),
            "attachment; filename=\"heap-delta\"");
  StatusOr<internal::Profile> p = internal::DecodeProfile(result->body);
  ASSERT_TRUE(p.ok());
  EXPECT_GE(p->duration_nanos, 2900000000);
  Totals during = TotalsFor(
      *p, "inprof::e2e::(anonymous namespace)::AllocateDuringTheWindow");
  EXPECT_NEAR(during.inuse_space, 2000 * 4096, 2000 * 4096 * 0.15);
  Totals earlier =
      TotalsFor(*p, "inprof::e2e::(anonymous namespace)::HoldLiveMemory");
  EXPECT_EQ(earlier.alloc_objects, 0);
  for (void* q : kept) std::free(q);
  for (char* block : *before) delete[] block;
  delete before;
}

TEST(HeapProfileTest, DebugOneIsGosLegacyTextThatPprofReads) {
  StatusOr<Agent> agent = StartAgent(64 * 1024);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  ApplyRateNow();
  std::vector<char*>* live = HoldLiveMemory();
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result result = client.Get("/debug/pprof/heap?debug=1");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_THAT(result->get_header_value("Content-Type"),
              StartsWith("text/plain"));
  EXPECT_THAT(result->body, StartsWith("heap profile: "));
  EXPECT_THAT(result->body, HasSubstr("@ heap/131072\n"));
  EXPECT_THAT(result->body,
              HasSubstr("inprof::e2e::(anonymous namespace)::HoldLiveMemory"));
  // pprof's legacy parser reads it (it unbiases the raw counts itself).
  test::TempDir dir;
  const std::string file = dir.WriteFile("heap.txt", result->body);
  test::CommandResult top = test::GoToolPprof(
      {"-top", "-sample_index=inuse_space", "-symbolize=none", file});
  ASSERT_EQ(top.exit_code, 0) << top.Describe();
  EXPECT_THAT(top.out, HasSubstr("inuse_space"));
  // seconds and debug cannot be combined (Go: 400).
  httplib::Result both = client.Get("/debug/pprof/heap?seconds=1&debug=1");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->status, 400);
  for (char* block : *live) delete[] block;
  delete live;
}

TEST(HeapProfileTest, RateIsReadAndSetOverHttp) {
  StatusOr<Agent> agent = StartAgent(512 * 1024);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result get = client.Get("/debug/heap/rate");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, "524288\n");
  httplib::Result bad = client.Post("/debug/heap/rate?bytes=abc", "", "");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->get_header_value("X-Go-Pprof"), "1");
  EXPECT_THAT(bad->body, HasSubstr("bytes=abc"));
  httplib::Result too_big =
      client.Post("/debug/heap/rate?bytes=99999999999", "", "");
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 400);
  httplib::Result set = client.Post("/debug/heap/rate?bytes=65536", "", "");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200);
  EXPECT_EQ(set->body, "heap sample rate: 65536 bytes (was 524288)\n");
  get = client.Get("/debug/heap/rate");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, "65536\n");
  ApplyRateNow();
  internal::Profile p = FetchProfile(*agent, "/debug/pprof/heap");
  EXPECT_EQ(p.period, 65536);
}

// --- Threads that start and exit while sampling ------------------------------

__attribute__((noinline)) void ShortLivedThreadWork(std::vector<void*>* out) {
  for (int i = 0; i < 64; ++i) out->push_back(std::malloc(1024 + i));
}

TEST(HeapProfileTest, ThreadsThatStartAndExitKeepTheBooksStraight) {
  StatusOr<Agent> agent = StartAgent(512 * 1024);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  // Every allocation of the new threads (after each one's first) is sampled.
  ASSERT_TRUE(agent->SetHeapSampleRate(1).ok());
  // Blocks allocated by threads that exit, freed by another thread.
  std::vector<std::vector<void*>> per_thread(200);
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 20; ++t) {
      threads.emplace_back([&per_thread, round, t] {
        per_thread[round * 20 + t].reserve(64);
        ShortLivedThreadWork(&per_thread[round * 20 + t]);
      });
    }
    for (std::thread& t : threads) t.join();
  }
  ASSERT_TRUE(agent->SetHeapSampleRate(512 * 1024).ok());
  internal::Profile held = FetchProfile(*agent, "/debug/pprof/heap");
  Totals before = TotalsFor(
      held, "inprof::e2e::(anonymous namespace)::ShortLivedThreadWork");
  // A thread's first allocation only draws its sampling point.
  EXPECT_GE(before.inuse_objects, 200 * 63);
  EXPECT_LE(before.inuse_objects, 200 * 64);
  for (auto& blocks : per_thread) {
    for (void* p : blocks) std::free(p);
  }
  internal::Profile after = FetchProfile(*agent, "/debug/pprof/heap");
  Totals freed = TotalsFor(
      after, "inprof::e2e::(anonymous namespace)::ShortLivedThreadWork");
  EXPECT_EQ(freed.inuse_objects, 0);
  EXPECT_EQ(freed.alloc_objects, before.alloc_objects);
}

}  // namespace
}  // namespace inprof::e2e
