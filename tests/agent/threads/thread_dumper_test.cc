// ThreadDumper and its three forms on threads whose stacks, names, states
// and requests the test knows: a thread blocked in a known function inside
// a request, identical workers, a thread that blocks every real-time signal
// (the dump must list it with the reason and still answer), an agent-marked
// thread and a busy one. Runs under the sanitizers too.

#include "agent/threads/thread_dumper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/agent_thread.h"
#include "agent/profile/check_valid.h"
#include "agent/profile/decode.h"
#include "agent/profile/encode.h"
#include "agent/symbolize/symbolizer.h"
#include "agent/threads/thread_profile.h"
#include "agent/unwind/stack_walker.h"
#include "inprof/request.h"
#include "tests/support/thread_state.h"

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;

constexpr int kWorkers = 5;

// Threads that wait on a pipe until the test ends, so that their stacks
// sit in known functions while the dump runs.
class Fixture {
 public:
  Fixture() {
    EXPECT_EQ(pipe(fds_), 0);
    Spawn("h1-stuck", [this] {
      inprof::RequestScope request("GET /stuck", {{"tenant", "acme"}});
      StuckInKnownFunction(fds_[0]);
    });
    for (int i = 0; i < kWorkers; ++i) {
      Spawn("h1-worker", [this] { IdenticalWorker(fds_[0]); });
    }
    Spawn("h1-masked", [this] {
      sigset_t all_rt;
      sigemptyset(&all_rt);
      for (int s = SIGRTMIN; s <= SIGRTMAX; ++s) sigaddset(&all_rt, s);
      pthread_sigmask(SIG_BLOCK, &all_rt, nullptr);
      WaitOnPipe(fds_[0]);
    });
    Spawn("h1-agentish", [this] {
      MarkAgentThread("h1-agentish");
      AgentishWait(fds_[0]);
    });
    Spawn("h1-busy", [this] {
      while (!stop_.load(std::memory_order_relaxed)) {
        BusyInKnownFunction();
      }
    });
    // Every thread is in place once it reports its tid and sleeps.
    for (;;) {
      bool all_waiting = ready_.load() == static_cast<int>(threads_.size());
      if (all_waiting) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // ...and, but for the busy one, the kernel has it asleep in its wait
    // (not a guess of how long that takes on a busy machine).
    for (const auto& [name, tid] : tids_) {
      if (name == "h1-busy") continue;
      test::WaitUntilAsleep(tid);
    }
  }

  ~Fixture() {
    stop_.store(true);
    close(fds_[1]);  // every reader sees EOF
    for (std::thread& t : threads_) t.join();
    close(fds_[0]);
  }

  pid_t tid(const std::string& name) const {
    for (const auto& [n, tid] : tids_) {
      if (n == name) return tid;
    }
    return 0;
  }

  // Blocks in poll() until the destructor closes the pipe, not in read():
  // ThreadSanitizer runs a signal handler inside a blocking call only for
  // calls it knows block (poll does), and a read that never returns would
  // never answer. Each thread sits at one pc, so identical workers have one
  // stack (short naps let a worker be caught between two: seen once in 19
  // runs under TSan).
  __attribute__((noinline)) void WaitOnPipe(int fd) {
    pollfd end{fd, POLLIN, 0};
    while (poll(&end, 1, -1) <= 0) {
    }
    asm volatile("" ::: "memory");  // not a tail call
  }
  // Distinct bodies, so that identical code folding keeps both names.
  __attribute__((noinline)) void StuckInKnownFunction(int fd) {
    marker_ = 1;
    WaitOnPipe(fd);
    asm volatile("" ::: "memory");
  }
  __attribute__((noinline)) void IdenticalWorker(int fd) {
    marker_ = 2;
    WaitOnPipe(fd);
    asm volatile("" ::: "memory");
  }
  // The agent-like thread's caller of the shared wait: its return address
  // there is the agent's alone, WaitOnPipe's are shared with host threads.
  __attribute__((noinline)) void AgentishWait(int fd) {
    marker_ = 3;
    WaitOnPipe(fd);
    asm volatile("" ::: "memory");
  }
  __attribute__((noinline)) static void BusyInKnownFunction() {
    volatile unsigned sink = 0;  // unsigned: the sum wraps, by design
    for (unsigned i = 0; i < 100000; ++i) sink = sink + i;
  }

 private:
  template <typename F>
  void Spawn(const std::string& name, F body) {
    auto started = std::make_shared<std::atomic<pid_t>>(0);
    threads_.emplace_back([this, body, started] {
      started->store(static_cast<pid_t>(syscall(SYS_gettid)));
      ready_.fetch_add(1);
      body();
    });
    pthread_setname_np(threads_.back().native_handle(), name.c_str());
    while (started->load() == 0) std::this_thread::yield();
    tids_.emplace_back(name, started->load());
  }

  static inline std::atomic<int> marker_{0};
  int fds_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<int> ready_{0};
  std::vector<std::thread> threads_;
  std::vector<std::pair<std::string, pid_t>> tids_;
};

const ThreadRecord* Find(const ThreadDump& dump, pid_t tid) {
  for (const ThreadRecord& r : dump.threads) {
    if (r.tid == tid) return &r;
  }
  return nullptr;
}

// The function names of a record's stack.
std::string Names(const ThreadRecord& r, Symbolizer& symbolizer) {
  std::string names;
  for (size_t i = 0; i < r.pcs.size(); ++i) {
    const uint64_t pc = i == 0 && r.status == ThreadStackStatus::kSampled
                            ? r.pcs[i]
                            : r.pcs[i] - 1;
    for (const SourceFrame& f : symbolizer.Symbolize(pc)) {
      names += f.name + "\n";
    }
  }
  return names;
}

class ThreadDumperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::unique_ptr<StackWalker>> walker = StackWalker::Start();
    ASSERT_TRUE(walker.ok()) << walker.status().message();
    walker_ = std::move(*walker);
    dumper_ =
        std::make_unique<ThreadDumper>(walker_.get(), ThreadDumperOptions{});
  }
  void TearDown() override {
    dumper_.reset();
    walker_.reset();
  }

  std::unique_ptr<StackWalker> walker_;
  std::unique_ptr<ThreadDumper> dumper_;
};

TEST_F(ThreadDumperTest, ListsEveryThreadWithStackNameStateAndRequest) {
  Fixture fixture;
  StatusOr<ThreadDump> dump = dumper_->Dump();
  ASSERT_TRUE(dump.ok()) << dump.status().message();
  ASSERT_TRUE(dump->signal_problem.empty()) << dump->signal_problem;
  EXPECT_GE(dump->signo, SIGRTMIN);
  Symbolizer symbolizer;

  const ThreadRecord* stuck = Find(*dump, fixture.tid("h1-stuck"));
  ASSERT_NE(stuck, nullptr);
  EXPECT_EQ(stuck->name, "h1-stuck");
  // Between naps a thread is runnable: on a loaded machine it may be seen so.
  EXPECT_TRUE((stuck->state == 'S' && stuck->state_name == "sleeping") ||
              (stuck->state == 'R' && stuck->state_name == "running"))
      << stuck->state << " " << stuck->state_name;
  ASSERT_EQ(stuck->status, ThreadStackStatus::kSampled) << stuck->reason;
  EXPECT_NE(stuck->request_id, 0u);
  EXPECT_NE(stuck->label_set, 0u);
  EXPECT_FALSE(stuck->agent_thread);
  EXPECT_GE(stuck->cpu_nanos, 0);
  const std::string names = Names(*stuck, symbolizer);
  EXPECT_THAT(names, HasSubstr("WaitOnPipe"));
  EXPECT_THAT(names, HasSubstr("StuckInKnownFunction"));

  std::vector<uint64_t> worker_stack;
  int workers = 0;
  for (const ThreadRecord& r : dump->threads) {
    if (r.name != "h1-worker") continue;
    ++workers;
    ASSERT_EQ(r.status, ThreadStackStatus::kSampled) << r.reason;
    if (worker_stack.empty()) worker_stack = r.pcs;
    EXPECT_EQ(r.pcs, worker_stack) << "identical workers, identical stacks";
    EXPECT_EQ(r.request_id, 0u);
  }
  EXPECT_EQ(workers, kWorkers);
  ASSERT_FALSE(worker_stack.empty());

  const ThreadRecord* masked = Find(*dump, fixture.tid("h1-masked"));
  ASSERT_NE(masked, nullptr);
  EXPECT_EQ(masked->status, ThreadStackStatus::kSignalBlocked);
  EXPECT_THAT(masked->reason, HasSubstr("blocks the dump signal"));
  EXPECT_TRUE(masked->pcs.empty());

  const ThreadRecord* agentish = Find(*dump, fixture.tid("h1-agentish"));
  ASSERT_NE(agentish, nullptr);
  ASSERT_EQ(agentish->status, ThreadStackStatus::kSampled);
  EXPECT_TRUE(agentish->agent_thread);

  // The walker's map thread is the agent's own.
  bool saw_maps_thread = false;
  for (const ThreadRecord& r : dump->threads) {
    if (r.name == "inprof-maps" && r.has_stack()) {
      saw_maps_thread = true;
      EXPECT_TRUE(r.agent_thread);
    }
  }
  EXPECT_TRUE(saw_maps_thread);

  const ThreadRecord* self =
      Find(*dump, static_cast<pid_t>(syscall(SYS_gettid)));
  ASSERT_NE(self, nullptr);
  EXPECT_EQ(self->status, ThreadStackStatus::kSelf);
  EXPECT_THAT(Names(*self, symbolizer), HasSubstr("ThreadDumper::Dump"));

  // A busy thread answers when it next runs; under ThreadSanitizer a
  // signal waits for the thread's next intercepted call, so it may not.
  const ThreadRecord* busy = Find(*dump, fixture.tid("h1-busy"));
  ASSERT_NE(busy, nullptr);
  if (busy->status == ThreadStackStatus::kSampled) {
    EXPECT_THAT(Names(*busy, symbolizer), HasSubstr("Fixture"));
  } else {
    EXPECT_EQ(busy->status, ThreadStackStatus::kNoAnswer);
    EXPECT_THAT(busy->reason, HasSubstr("no answer within"));
  }
}

TEST_F(ThreadDumperTest, ProfileFoldsIdenticalThreadsAndDecodes) {
  Fixture fixture;
  StatusOr<ThreadDump> dump = dumper_->Dump();
  ASSERT_TRUE(dump.ok()) << dump.status().message();
  Symbolizer symbolizer;
  const Profile built = BuildThreadProfile(*dump, &symbolizer);
  StatusOr<Profile> decoded = DecodeProfile(EncodeProfile(built));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_TRUE(ValidateEncoded(SerializeProfile(built)).ok());
  const Profile& p = *decoded;
  ASSERT_EQ(p.sample_types.size(), 1u);
  EXPECT_EQ(p.sample_types[0].type, "goroutine");
  EXPECT_EQ(p.sample_types[0].unit, "count");
  EXPECT_EQ(p.period_type.type, "goroutine");
  EXPECT_EQ(p.period_type.unit, "count");
  EXPECT_NE(p.time_nanos, 0);
  EXPECT_EQ(p.duration_nanos, 0);

  int64_t total = 0;
  int64_t workers = -1;
  bool masked_pseudo_frame = false;
  bool stuck_labelled = false;
  for (const Sample& s : p.samples) {
    total += s.values[0];
    std::string name, endpoint, tenant, agent;
    for (const Label& l : s.labels) {
      if (l.key == "thread_name") name = l.str;
      if (l.key == "endpoint") endpoint = l.str;
      if (l.key == "tenant") tenant = l.str;
      if (l.key == "inprof_agent_thread") agent = l.str;
    }
    if (name == "h1-worker") workers = s.values[0];
    if (name == "h1-stuck") {
      stuck_labelled = endpoint == "GET /stuck" && tenant == "acme";
    }
    if (name == "h1-agentish") {
      EXPECT_EQ(agent, "true");
    }
    if (name == "h1-masked") {
      ASSERT_EQ(s.location_ids.size(), 1u);
      for (const Location& loc : p.locations) {
        if (loc.id != s.location_ids[0]) continue;
        for (const Function& f : p.functions) {
          if (f.id == loc.lines.at(0).function_id) {
            masked_pseudo_frame = f.name == "inprof.ThreadSignalBlocked";
          }
        }
      }
    }
  }
  EXPECT_EQ(total, static_cast<int64_t>(dump->threads.size()));
  EXPECT_EQ(workers, kWorkers) << "N identical workers are one sample of N";
  EXPECT_TRUE(masked_pseudo_frame);
  EXPECT_TRUE(stuck_labelled);

  // The agent's threads are named by function only; a location they share
  // with the host's threads (WaitOnPipe's) keeps its line for those.
  int wait_lines = 0;
  int agentish_lines = 0;
  for (const Location& loc : p.locations) {
    for (const Line& line : loc.lines) {
      for (const Function& f : p.functions) {
        if (f.id != line.function_id) continue;
        if (f.name.ends_with("WaitOnPipe")) {
          EXPECT_GT(line.line, 0) << f.name;
          ++wait_lines;
        }
        if (f.name.ends_with("AgentishWait")) {
          EXPECT_EQ(line.line, 0) << f.name;
          EXPECT_EQ(f.filename, "") << f.name;
          ++agentish_lines;
        }
      }
    }
  }
  EXPECT_GT(wait_lines, 0);
  EXPECT_EQ(agentish_lines, 1);
}

TEST_F(ThreadDumperTest, GroupedTextAndPerThreadText) {
  Fixture fixture;
  StatusOr<ThreadDump> dump = dumper_->Dump();
  ASSERT_TRUE(dump.ok()) << dump.status().message();
  Symbolizer symbolizer;

  const std::string grouped = ThreadProfileText(*dump, &symbolizer);
  EXPECT_EQ(grouped.rfind("goroutine profile: total " +
                              std::to_string(dump->threads.size()) + "\n",
                          0),
            0u)
      << grouped;
  // The workers' group: "5 @ 0x..." with IdenticalWorker among its frames.
  const size_t group = grouped.find("\n" + std::to_string(kWorkers) + " @ ");
  ASSERT_NE(group, std::string::npos) << grouped;
  const size_t group_end = grouped.find("\n\n", group + 1);
  EXPECT_THAT(grouped.substr(group, group_end - group),
              HasSubstr("IdenticalWorker"));
  EXPECT_THAT(grouped, HasSubstr("# labels: {\"endpoint\":\"GET /stuck\""));
  EXPECT_THAT(grouped, HasSubstr("#\t0x0\tinprof.ThreadSignalBlocked"));

  const std::string text = ThreadDumpText(*dump, &symbolizer);
  const std::string stuck_head =
      "thread " + std::to_string(fixture.tid("h1-stuck")) + " \"h1-stuck\" [";
  const size_t stuck = text.find(stuck_head);
  ASSERT_NE(stuck, std::string::npos) << text;
  const std::string entry =
      text.substr(stuck, text.find("\n\n", stuck) - stuck);
  // "[sleeping, 0.000s CPU, request "GET /stuck" ...]:" (or running).
  const std::string head = entry.substr(0, entry.find('\n'));
  EXPECT_TRUE(head.find("[sleeping, ") != std::string::npos ||
              head.find("[running, ") != std::string::npos)
      << head;
  EXPECT_THAT(head, HasSubstr("s CPU, request \"GET /stuck\""));
  EXPECT_THAT(entry, HasSubstr("StuckInKnownFunction"));
  EXPECT_THAT(entry, HasSubstr("thread_dumper_test.cc:"));
  const size_t agentish = text.find("\"h1-agentish\" [");
  ASSERT_NE(agentish, std::string::npos);
  EXPECT_THAT(text.substr(agentish, text.find('\n', agentish) - agentish),
              HasSubstr(", inprof agent thread]:"));
  // The agent's threads are named by function only: the DWARF of the
  // agent's own code costs the host megabytes (Symbolizer::set_names_only).
  const std::string agent_entry =
      text.substr(agentish, text.find("\n\n", agentish) - agentish);
  EXPECT_THAT(agent_entry, HasSubstr("AgentishWait\n\t?:0 pc="));
  // The host threads' frames keep their lines, WaitOnPipe's included.
  const size_t worker = text.find("\"h1-worker\" [");
  ASSERT_NE(worker, std::string::npos);
  EXPECT_THAT(text.substr(worker, text.find("\n\n", worker) - worker),
              HasSubstr("WaitOnPipe\n\t" + std::string(__FILE__) + ":"));
  const std::string masked_head =
      "thread " + std::to_string(fixture.tid("h1-masked")) + " \"h1-masked\"";
  const size_t masked = text.find(masked_head);
  ASSERT_NE(masked, std::string::npos);
  EXPECT_THAT(text.substr(masked, 200), HasSubstr("no stack: blocks the dump"));
}

TEST_F(ThreadDumperTest, ConcurrentDumpsBothAnswer) {
  Fixture fixture;
  std::optional<StatusOr<ThreadDump>> other;
  std::thread second([&] { other.emplace(dumper_->Dump()); });
  StatusOr<ThreadDump> first = dumper_->Dump();
  second.join();
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(other.has_value());
  ASSERT_TRUE(other->ok()) << other->status().message();
  for (const StatusOr<ThreadDump>* dump : {&first, &*other}) {
    const ThreadRecord* stuck = Find(**dump, fixture.tid("h1-stuck"));
    ASSERT_NE(stuck, nullptr);
    EXPECT_EQ(stuck->status, ThreadStackStatus::kSampled) << stuck->reason;
  }
}

TEST_F(ThreadDumperTest, ManyDumpsInARowReuseTheSlots) {
  // Many dumps in a row reuse the slots: every one still answers fully.
  Fixture fixture;
  for (int round = 0; round < 20; ++round) {
    StatusOr<ThreadDump> dump = dumper_->Dump();
    ASSERT_TRUE(dump.ok());
    const ThreadRecord* stuck = Find(*dump, fixture.tid("h1-stuck"));
    ASSERT_NE(stuck, nullptr);
    ASSERT_EQ(stuck->status, ThreadStackStatus::kSampled)
        << "round " << round << ": " << stuck->reason;
  }
}

void HostHandler(int) {}

// In a fresh process (the handler, once installed, stays): exits 0 when
// `check` holds for a dump taken after `before()` ran.
template <typename Before, typename Check>
void InFreshProcess(Before before, Check check) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        before();
        StatusOr<std::unique_ptr<StackWalker>> walker = StackWalker::Start();
        if (!walker.ok()) std::_Exit(2);
        ThreadDumper dumper(walker->get(), ThreadDumperOptions{});
        std::_Exit(check(dumper) ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

bool HostTakes(int signo) {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = HostHandler;
  return sigaction(signo, &action, nullptr) == 0;
}

TEST(ThreadDumperSignalTest, HostsHandlersAreNeverTaken) {
  InFreshProcess(
      [] {
        for (int n : {2, 3, 4}) HostTakes(SIGRTMAX - n);
      },
      [](ThreadDumper& dumper) {
        StatusOr<ThreadDump> dump = dumper.Dump();
        if (!dump.ok() || dump->signo != 0) return false;
        if (dump->signal_problem.find("no free signal") == std::string::npos) {
          return false;
        }
        for (int n : {2, 3, 4}) {  // still the host's
          struct sigaction current;
          sigaction(SIGRTMAX - n, nullptr, &current);
          if (current.sa_handler != HostHandler) return false;
        }
        // Every thread still listed, with the reason.
        for (const ThreadRecord& r : dump->threads) {
          if (r.status == ThreadStackStatus::kNotAsked &&
              r.reason.find("no free signal") == std::string::npos) {
            return false;
          }
        }
        return dump->threads.size() >= 2;
      });
}

TEST(ThreadDumperSignalTest, TheNextFreeSignalIsUsedAndAReplacementSeen) {
  InFreshProcess([] { HostTakes(SIGRTMAX - 2); },
                 [](ThreadDumper& dumper) {
                   StatusOr<ThreadDump> first = dumper.Dump();
                   if (!first.ok() || first->signo != SIGRTMAX - 3) {
                     return false;
                   }
                   HostTakes(SIGRTMAX - 3);  // the host takes it afterwards
                   StatusOr<ThreadDump> second = dumper.Dump();
                   return second.ok() && second->signo == 0 &&
                          second->signal_problem.find("replaced") !=
                              std::string::npos;
                 });
}

}  // namespace
}  // namespace inprof::internal
