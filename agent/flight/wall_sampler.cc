#include "agent/flight/wall_sampler.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "agent/base/agent_thread_start.h"
#include "agent/cpu/wall_signal.h"
#include "agent/labels/active_requests.h"

namespace inprof::internal {
namespace {

std::atomic<uint64_t> g_signals{0};
std::atomic<uint64_t> g_deferred{0};
std::atomic<uint64_t> g_failed{0};

}  // namespace

bool SendWallSignal(int signo, pid_t pid, uid_t uid, uint32_t tid) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  info.si_signo = signo;
  info.si_code = SI_QUEUE;
  info.si_pid = pid;
  info.si_uid = uid;
  info.si_value.sival_ptr = reinterpret_cast<void*>(kWallSignalTag);
  return syscall(SYS_rt_tgsigqueueinfo, pid, static_cast<pid_t>(tid), signo,
                 &info) == 0;
}

WallSampler::WallSampler(CpuSampler* sampler)
    : sampler_(sampler),
      signo_(sampler->signo()),
      thread_(StartAgentThread("inprof-wall", [this] { Loop(); })) {}

WallSampler::~WallSampler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

WallSampler::Stats WallSampler::Totals() {
  return Stats{g_signals.load(), g_deferred.load(), g_failed.load()};
}

void WallSampler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  int ticks = 0;
  bool handler_ours = true;
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::nanoseconds(kTickNanos),
                   [this] { return stopping_; });
    if (stopping_) break;
    // A host that put its own handler in place would get our signals: stop
    // sending (checked every half second; the CPU sampler checks too).
    if (ticks++ % 50 == 0) {
      handler_ours = !sampler_->stats().handler_replaced;
    }
    if (handler_ours) Tick();
  }
}

void WallSampler::Tick() {
  ActiveRequests& active = ActiveRequests::Global();
  const pid_t pid = getpid();
  const uid_t uid = getuid();
  size_t sent = 0;
  for (size_t n = 0; n < ActiveRequests::kSlots; ++n) {
    const size_t i = (cursor_ + n) % ActiveRequests::kSlots;
    ActiveRequestSlot& slot = active.slot(i);
    const uint32_t tid = slot.tid.load(std::memory_order_acquire);
    if (tid == 0 || slot.request_id.load(std::memory_order_acquire) == 0) {
      continue;
    }
    if (sent == kMaxPerTick) {
      g_deferred.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (SendWallSignal(signo_, pid, uid, tid)) {
      g_signals.fetch_add(1, std::memory_order_relaxed);
    } else {
      g_failed.fetch_add(1, std::memory_order_relaxed);
    }
    if (++sent == kMaxPerTick) cursor_ = i + 1;  // the rest go first next
  }
}

}  // namespace inprof::internal
