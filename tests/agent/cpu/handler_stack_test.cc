// Measures how much of the interrupted thread's stack the CPU signal handler
// uses (issue 12, item 1): a thread spins on a painted coroutine stack while
// signals arrive, and the lowest byte the signals overwrote is found after.
// The kernel's own signal frame (ucontext and XSAVE state) is measured the
// same way with a handler that does nothing, and subtracted.
//
// Nothing here depends on time: each phase runs until enough signals landed
// on the painted stack, however slowly the machine delivers them.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "agent/cpu/cpu_sampler.h"
#include "agent/unwind/agent_stack.h"

namespace inprof::internal {
namespace {

constexpr size_t kStackSize = 64 * 1024;
constexpr unsigned char kPaint = 0xA5;
constexpr int kSignalsWanted = 40;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Sanitizer runtimes wrap the handler in their own frames.
constexpr size_t kHandlerBudget = 4096;
#else
constexpr size_t kHandlerBudget = 512;
#endif

std::atomic<int> g_noop_signals{0};
std::atomic<bool> g_spin{true};
ucontext_t g_main_context, g_spin_context;
uintptr_t g_spin_sp = 0;

void NoopHandler(int) { g_noop_signals.fetch_add(1); }

// Spins with a fixed frame until told to stop, noting its stack pointer.
__attribute__((noinline)) void Spin() {
  uintptr_t sp;
  asm volatile("mov %%rsp, %0" : "=r"(sp));
  g_spin_sp = sp;
  uint64_t x = 1;
  while (g_spin.load(std::memory_order_relaxed)) {
    x = x * 6364136223846793005u + 1;
    asm volatile("" : "+r"(x));
  }
}

// Runs Spin() on a painted stack, on this thread, until `done` says so;
// returns how far below Spin's stack pointer anything was written.
template <typename Done>
size_t DeepestWriteBelowSpin(Done done) {
  std::vector<unsigned char> stack(kStackSize, kPaint);
  getcontext(&g_spin_context);
  g_spin_context.uc_stack.ss_sp = stack.data();
  g_spin_context.uc_stack.ss_size = stack.size();
  g_spin_context.uc_link = &g_main_context;
  makecontext(&g_spin_context, Spin, 0);
  g_spin = true;
  std::thread stopper([&] {
    while (!done()) std::this_thread::yield();
    g_spin = false;
  });
  swapcontext(&g_main_context, &g_spin_context);
  stopper.join();
  size_t lowest = 0;
  while (lowest < stack.size() && stack[lowest] == kPaint) ++lowest;
  uintptr_t lowest_address = reinterpret_cast<uintptr_t>(stack.data()) + lowest;
  return g_spin_sp > lowest_address ? g_spin_sp - lowest_address : 0;
}

// A per-thread CPU-time timer delivering `signo` to this thread.
timer_t ThreadTimer(int signo) {
  sigevent event{};
  event.sigev_notify = SIGEV_THREAD_ID;
  event.sigev_signo = signo;
  event._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
  timer_t timer;
  EXPECT_EQ(timer_create(CLOCK_THREAD_CPUTIME_ID, &event, &timer), 0);
  itimerspec spec{};
  spec.it_interval.tv_nsec = 1000000;
  spec.it_value.tv_nsec = 1000000;
  EXPECT_EQ(timer_settime(timer, 0, &spec, nullptr), 0);
  return timer;
}

class CountingSink : public CpuSampleSink {
 public:
  explicit CountingSink(uint32_t tid) : tid_(tid) {}
  void OnSample(const RawSample& sample) override {
    if (sample.tid == tid_) samples.fetch_add(1);
  }
  void OnLost(uint64_t) override {}
  std::atomic<int> samples{0};

 private:
  uint32_t tid_;
};

size_t KernelFrame() {
  struct sigaction action {
  }, previous;
  action.sa_handler = NoopHandler;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR2, &action, &previous);
  timer_t timer = ThreadTimer(SIGUSR2);
  size_t deepest = DeepestWriteBelowSpin(
      [] { return g_noop_signals.load() >= kSignalsWanted; });
  timer_delete(timer);
  sigaction(SIGUSR2, &previous, nullptr);
  return deepest;
}

TEST(HandlerStackTest, UsesLittleOfTheInterruptedStack) {
#ifdef __SANITIZE_THREAD__
  // TSan defers signals and runs handlers from its own frames, elsewhere.
  GTEST_SKIP() << "signals are deferred under TSan: nothing to measure";
#endif
  size_t kernel_frame = 0, with_sampler = 0;
  // The sampler arms timers on every thread of the process; run the
  // measured thread apart from the test's main thread, as a host's would.
  std::thread measured([&] {
    kernel_frame = KernelFrame();
    CpuSamplerOptions options;
    options.hz = 1000;
    auto sampler = CpuSampler::Start(options);
    ASSERT_TRUE(sampler.ok()) << sampler.status().ToString();
    CountingSink sink(static_cast<uint32_t>(syscall(SYS_gettid)));
    (*sampler)->Subscribe(&sink);
    with_sampler = DeepestWriteBelowSpin(
        [&] { return sink.samples.load() >= kSignalsWanted; });
    (*sampler)->Unsubscribe(&sink);
  });
  measured.join();
  std::printf("kernel signal frame %zu bytes, with the inprof handler %zu\n",
              kernel_frame, with_sampler);
  ASSERT_GT(kernel_frame, 0u);
  EXPECT_GE(with_sampler, kernel_frame);
  EXPECT_LE(with_sampler, kernel_frame + kHandlerBudget)
      << "the handler used " << with_sampler - kernel_frame
      << " bytes of the interrupted stack beyond the kernel's frame";
}

// The agent stacks themselves keep a wide margin: the deepest use, libunwind
// path included, stays under half of one.
TEST(HandlerStackTest, AgentStacksKeepAWideMargin) {
  std::thread sampled([] {
    Unwinder::SetDefaultFastPath(false);  // the deeper, libunwind path
    CpuSamplerOptions options;
    options.hz = 1000;
    auto sampler = CpuSampler::Start(options);
    Unwinder::SetDefaultFastPath(true);
    ASSERT_TRUE(sampler.ok()) << sampler.status().ToString();
    CountingSink sink(static_cast<uint32_t>(syscall(SYS_gettid)));
    (*sampler)->Subscribe(&sink);
    uint64_t x = 1;
    while (sink.samples.load() < kSignalsWanted) {
      for (int i = 0; i < 100000; ++i) x = x * 6364136223846793005u + 1;
      asm volatile("" : "+r"(x));
    }
    (*sampler)->Unsubscribe(&sink);
  });
  sampled.join();
  std::printf("deepest use of an agent stack: %zu of %zu bytes\n",
              AgentStackHighWater(), AgentStackSize());
  EXPECT_GT(AgentStackHighWater(), 0u);
  EXPECT_LT(AgentStackHighWater(), AgentStackSize() / 2);
}

}  // namespace
}  // namespace inprof::internal
