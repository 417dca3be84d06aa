#include "agent/cpu/unsampled_cpu.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace inprof::internal {
namespace {

// Thread `tid`'s CPU clock: Linux's encoding of a per-thread CPUCLOCK_SCHED,
// as glibc's pthread_getcpuclockid makes it, readable for any thread of the
// calling process by its id alone (no pthread_t needed, so threads the
// program created before the agent are read too), in nanoseconds
// (/proc/.../stat's utime and stime count clock ticks, 10 ms: as coarse as
// the period itself). -1 once the thread has ended.
int64_t ThreadCpuNanos(pid_t tid) {
  const auto clock = static_cast<clockid_t>((~tid << 3) | 6);
  timespec ts;
  if (clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

ThreadCpuClocks ReadThreadCpuClocks() {
  ThreadCpuClocks clocks;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return clocks;
  while (dirent* entry = readdir(dir)) {
    const auto tid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (tid <= 0) continue;
    const int64_t cpu_ns = ThreadCpuNanos(tid);
    if (cpu_ns >= 0) clocks[tid] = cpu_ns;
  }
  closedir(dir);
  return clocks;
}

std::string ReadThreadName(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[64];
  const ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n <= 0) return "";
  std::string name(buf, static_cast<size_t>(n));
  if (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

UnsampledCpu FindUnsampledCpu(
    const ThreadCpuClocks& start, const ThreadCpuClocks& end,
    const std::unordered_map<uint32_t, int64_t>& sampled, int64_t period_ns,
    const std::function<std::string(pid_t)>& name_of) {
  UnsampledCpu result;
  for (const auto& [tid, cpu_ns] : start) {
    if (end.find(tid) == end.end()) ++result.threads_ended;
  }
  for (const auto& [tid, end_ns] : end) {
    const auto before = start.find(tid);
    const int64_t start_ns = before == start.end() ? 0 : before->second;
    // The id of a thread that ended, reused by one started during the
    // profile whose clock is still behind: what it used is not known.
    if (end_ns < start_ns) continue;
    const auto samples = sampled.find(static_cast<uint32_t>(tid));
    const int64_t sampled_ns =
        samples == sampled.end() ? 0 : samples->second * period_ns;
    const int64_t measured_ns = end_ns - start_ns;
    // Within a period is the timers' phase, not blindness.
    if (measured_ns - sampled_ns < period_ns) continue;
    std::string name = name_of(tid);
    // The agent's own threads (agent_thread.h) all name themselves so.
    if (name.starts_with("inprof-")) continue;
    result.threads.push_back({tid, std::move(name), measured_ns, sampled_ns,
                              measured_ns - sampled_ns});
    result.total_ns += measured_ns - sampled_ns;
  }
  std::sort(result.threads.begin(), result.threads.end(),
            [](const UnsampledThread& a, const UnsampledThread& b) {
              return a.tid < b.tid;
            });
  return result;
}

}  // namespace inprof::internal
