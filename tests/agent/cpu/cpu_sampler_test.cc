#include "agent/cpu/cpu_sampler.h"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer defers asynchronous signals to its next interceptor, so a
// pure compute loop sees them late and merged: counts and stacks are not
// meaningful there. Safety (no crash, no report) is still tested.
constexpr bool kSignalsAreDeferred = true;
#else
constexpr bool kSignalsAreDeferred = false;
#endif

// Collects every sample; called under the sampler's mutex.
class CollectingSink : public CpuSampleSink {
 public:
  void OnSample(const RawSample& sample) override { samples.push_back(sample); }
  void OnLost(uint64_t count) override { lost += count; }
  std::vector<RawSample> samples;
  uint64_t lost = 0;
};

std::unique_ptr<CpuSampler> StartSampler(int hz = 100, int max_depth = 128) {
  CpuSamplerOptions options;
  options.hz = hz;
  options.max_depth = max_depth;
  StatusOr<std::unique_ptr<CpuSampler>> sampler = CpuSampler::Start(options);
  EXPECT_TRUE(sampler.ok()) << sampler.status().ToString();
  return sampler.ok() ? std::move(*sampler) : nullptr;
}

uint32_t Gettid() { return static_cast<uint32_t>(syscall(SYS_gettid)); }

int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Burns the calling thread's CPU until `stop`. Integer-only, no calls, so the
// leaf of every sample is this function.
__attribute__((noinline)) uint64_t Inner(const std::atomic<bool>& stop) {
  uint64_t x = 1;
  while (!stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < 10000; ++i) x = x * 6364136223846793005u + 1442695u;
  }
  return x;
}
__attribute__((noinline)) uint64_t Middle(const std::atomic<bool>& stop) {
  uint64_t r = Inner(stop);
  asm volatile("" ::: "memory");  // keep the call from becoming a tail call
  return r + 1;
}
__attribute__((noinline)) uint64_t Outer(const std::atomic<bool>& stop) {
  uint64_t r = Middle(stop);
  asm volatile("" ::: "memory");
  return r + 2;
}

using BurnFunction = uint64_t (*)(int milliseconds);

// Spends a second inside a library that was loaded after the sampler started.
__attribute__((noinline)) uint64_t BurnInLoadedLibrary(BurnFunction burn) {
  uint64_t r = burn(1000);
  asm volatile("" ::: "memory");
  return r;
}

std::string NameAt(Symbolizer& symbolizer, uint64_t address) {
  std::vector<SourceFrame> frames = symbolizer.Symbolize(address);
  return frames.empty() ? "" : frames.back().name;
}

TEST(CpuSamplerTest, TakesNoSamplesWithoutSubscribers) {
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  std::atomic<bool> stop{false};
  std::thread busy([&] { Outer(stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(sampler->stats().signals, 0u);
  stop = true;
  busy.join();
}

TEST(CpuSamplerTest, SamplesThreadsStartedBeforeAndAfterSubscribing) {
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> early_tid{0}, late_tid{0};
  std::thread early([&] {
    early_tid = Gettid();
    Outer(stop);
  });
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  CollectingSink sink;
  sampler->Subscribe(&sink);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::thread late([&] {
    late_tid = Gettid();
    Outer(stop);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  sampler->Unsubscribe(&sink);
  stop = true;
  early.join();
  late.join();
  std::set<uint32_t> tids;
  for (const RawSample& s : sink.samples) tids.insert(s.tid);
  EXPECT_TRUE(tids.count(early_tid.load())) << "thread from before Start";
  EXPECT_TRUE(tids.count(late_tid.load())) << "thread created later";
  uint64_t signals_after = sampler->stats().signals;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(sampler->stats().signals, signals_after) << "timers disarmed";
}

TEST(CpuSamplerTest, UnwindsTheInterruptedCallChain) {
  if (kSignalsAreDeferred) GTEST_SKIP() << "signals are deferred under TSan";
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  CollectingSink sink;
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> tid{0};
  sampler->Subscribe(&sink);
  std::thread busy([&] {
    tid = Gettid();
    Outer(stop);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  sampler->Unsubscribe(&sink);
  stop = true;
  busy.join();

  Symbolizer symbolizer;
  int total = 0, complete = 0;
  for (const RawSample& s : sink.samples) {
    if (s.tid != tid.load() || s.depth < 3) continue;
    ++total;
    if (NameAt(symbolizer, s.pcs[0]).find("Inner") != std::string::npos &&
        NameAt(symbolizer, s.pcs[1] - 1).find("Middle") != std::string::npos &&
        NameAt(symbolizer, s.pcs[2] - 1).find("Outer") != std::string::npos) {
      ++complete;
    }
  }
  ASSERT_GT(total, 30);
  EXPECT_GE(complete * 10, total * 9)
      << complete << " of " << total << " samples had Inner<-Middle<-Outer";
}

TEST(CpuSamplerTest, SampleCountMatchesTheThreadsCpuTime) {
  if (kSignalsAreDeferred) GTEST_SKIP() << "signals are deferred under TSan";
  std::unique_ptr<CpuSampler> sampler = StartSampler(/*hz=*/100);
  ASSERT_NE(sampler, nullptr);
  CollectingSink sink;
  std::atomic<uint32_t> tid{0};
  std::atomic<int64_t> cpu_nanos{0};
  sampler->Subscribe(&sink);
  std::thread busy([&] {
    tid = Gettid();
    // Let the timer sync pick this thread up, then burn 1 s of CPU.
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    int64_t start = ThreadCpuNanos();
    uint64_t x = 0;
    while (ThreadCpuNanos() - start < 1000000000) {
      for (int i = 0; i < 1000; ++i) x = x * 31 + 7;
    }
    asm volatile("" : : "r"(x));
    cpu_nanos = ThreadCpuNanos() - start;
  });
  busy.join();
  sampler->Unsubscribe(&sink);
  uint64_t weight = 0;
  for (const RawSample& s : sink.samples) {
    if (s.tid == tid.load()) weight += s.weight;
  }
  double expected = static_cast<double>(cpu_nanos.load()) / 10e6;
  EXPECT_NEAR(static_cast<double>(weight), expected, expected * 0.15);
}

TEST(CpuSamplerTest, DeepStacksKeepTheirLeafMostFrames) {
  std::unique_ptr<CpuSampler> sampler = StartSampler(100, /*max_depth=*/8);
  ASSERT_NE(sampler, nullptr);
  CollectingSink sink;
  std::atomic<bool> stop{false};
  sampler->Subscribe(&sink);
  std::thread busy([&] {
    std::function<uint64_t(int)> recurse = [&](int depth) -> uint64_t {
      if (depth == 0) return Inner(stop);
      return recurse(depth - 1) + 1;
    };
    recurse(40);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  sampler->Unsubscribe(&sink);
  stop = true;
  busy.join();
  ASSERT_FALSE(sink.samples.empty());
  for (const RawSample& s : sink.samples) EXPECT_LE(s.depth, 8u);
}

TEST(CpuSamplerTest, UnwindsThroughALibraryLoadedAfterStart) {
  if (kSignalsAreDeferred) GTEST_SKIP() << "signals are deferred under TSan";
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  CollectingSink sink;
  sampler->Subscribe(&sink);
  void* library = dlopen(INPROF_BURN_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(library, nullptr) << dlerror();
  auto burn = reinterpret_cast<BurnFunction>(
      dlsym(library, "InprofTestBurnMilliseconds"));
  ASSERT_NE(burn, nullptr);
  BurnInLoadedLibrary(burn);
  sampler->Unsubscribe(&sink);

  Symbolizer symbolizer;
  int in_library = 0, reached_caller = 0;
  for (const RawSample& s : sink.samples) {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(s.pcs[0]), &info) == 0 ||
        info.dli_fname == nullptr ||
        std::string(info.dli_fname).find("burn_library") == std::string::npos) {
      continue;
    }
    ++in_library;
    for (uint32_t i = 1; i < s.depth; ++i) {
      if (NameAt(symbolizer, s.pcs[i] - 1).find("BurnInLoadedLibrary") !=
          std::string::npos) {
        ++reached_caller;
        break;
      }
    }
  }
  dlclose(library);
  // The first samples may predate the map refresh that follows the dlopen.
  ASSERT_GT(in_library, 40) << "the library's loop should dominate";
  EXPECT_GE(reached_caller * 10, in_library * 8)
      << reached_caller << " of " << in_library
      << " samples in the library unwound to its caller";
}

TEST(CpuSamplerTest, RefusesASignalTheHostAlreadyHandles) {
  struct sigaction host = {};
  host.sa_handler = [](int) {};
  struct sigaction previous;
  ASSERT_EQ(sigaction(SIGPROF, &host, &previous), 0);
  StatusOr<std::unique_ptr<CpuSampler>> sampler =
      CpuSampler::Start(CpuSamplerOptions{});
  ASSERT_FALSE(sampler.ok());
  EXPECT_EQ(sampler.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(sampler.status().message(), HasSubstr("SIGPROF"));
  struct sigaction now;
  sigaction(SIGPROF, nullptr, &now);
  EXPECT_EQ(now.sa_handler, host.sa_handler) << "the host's handler stays";
  sigaction(SIGPROF, &previous, nullptr);
}

TEST(CpuSamplerTest, RestoresThePreviousActionWhenDestroyed) {
  for (auto disposition : {SIG_DFL, SIG_IGN}) {
    struct sigaction before = {};
    before.sa_handler = disposition;
    ASSERT_EQ(sigaction(SIGPROF, &before, nullptr), 0);
    {
      std::unique_ptr<CpuSampler> sampler = StartSampler();
      ASSERT_NE(sampler, nullptr);
      struct sigaction during;
      sigaction(SIGPROF, nullptr, &during);
      EXPECT_NE(during.sa_flags & SA_SIGINFO, 0);
      EXPECT_NE(during.sa_flags & SA_RESTART, 0);
    }
    struct sigaction after;
    sigaction(SIGPROF, nullptr, &after);
    EXPECT_EQ(after.sa_flags & SA_SIGINFO, 0);
    EXPECT_EQ(after.sa_handler, disposition);
  }
  signal(SIGPROF, SIG_DFL);
}

TEST(CpuSamplerTest, UsesAnotherSignalWhenAsked) {
  CpuSamplerOptions options;
  options.signo = SIGRTMIN + 3;
  StatusOr<std::unique_ptr<CpuSampler>> sampler = CpuSampler::Start(options);
  ASSERT_TRUE(sampler.ok()) << sampler.status().ToString();
  CollectingSink sink;
  std::atomic<bool> stop{false};
  (*sampler)->Subscribe(&sink);
  std::thread busy([&] { Outer(stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  (*sampler)->Unsubscribe(&sink);
  stop = true;
  busy.join();
  EXPECT_FALSE(sink.samples.empty());
  struct sigaction prof;
  sigaction(SIGPROF, nullptr, &prof);
  EXPECT_EQ(prof.sa_handler, SIG_DFL) << "SIGPROF left alone";
}

TEST(CpuSamplerTest, TwoSinksBothReceiveTheSamplesOfTheirWindows) {
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  CollectingSink first, second;
  std::atomic<bool> stop{false};
  std::thread busy([&] { Outer(stop); });
  sampler->Subscribe(&first);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  sampler->Subscribe(&second);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  sampler->Unsubscribe(&first);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  sampler->Unsubscribe(&second);
  stop = true;
  busy.join();
  EXPECT_FALSE(first.samples.empty());
  EXPECT_FALSE(second.samples.empty());
}

TEST(CpuSamplerTest, RejectsAnOutOfRangeRate) {
  CpuSamplerOptions options;
  options.hz = 0;
  StatusOr<std::unique_ptr<CpuSampler>> sampler = CpuSampler::Start(options);
  ASSERT_FALSE(sampler.ok());
  EXPECT_THAT(sampler.status().message(), HasSubstr("hz=0"));
  struct sigaction prof;
  sigaction(SIGPROF, nullptr, &prof);
  EXPECT_EQ(prof.sa_handler, SIG_DFL) << "nothing left behind";
}

}  // namespace
}  // namespace inprof::internal
