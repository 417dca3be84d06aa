// The agent's own memory (issue 16 item 3; BENCHMARKS.md, "Agent memory"):
// how much more resident a host is with the agent started than without, and
// whether that grows over ~1,000 profile fetches of every kind.
//
//   agent_memory_benchmark [FETCHES [CPU_EVERY [IDLE_SECONDS]]]
//
// Two copies of one host run side by side, each a child process of this
// one (fork + exec of this binary, so each starts clean): "host" never starts
// the agent, "agent" starts it with every profile on (heap sampling at the
// default 512 KiB, block and mutex profiling at their defaults). Both link
// inprof::agent on tcmalloc. The host is 4 threads of a server-like mix
// (strings kept in a per-thread window of 4,096, a shared std::mutex taken
// now and then), each pausing 1 ms per 500 units so that the two copies and
// the fetcher share 2 cores.
//
// The parent fetches, over loopback, from the agent copy only: heap, allocs,
// heap?debug=1, mutex, block, goroutine, goroutine?debug=2, threads, metrics
// and POST symbol in turn, and a CPU profile (?seconds=1, the shortest) every
// CPU_EVERY-th round (default 1: 91 CPU profiles in 1,000 fetches, ~100 s),
// FETCHES fetches in all (default 1,000). It reads both children's
// VmRSS, RssAnon and RssFile (/proc/PID/status) at the same moments: before
// the first fetch, after each 100, and after IDLE_SECONDS (default 35) with
// no request at the end (the symbolizer's idle release). It also times the
// first fetch of each kind after start (the cold symbolizer) and the first
// heap fetch after the idle pause, and reads tcmalloc's figures from the
// agent's /debug/allocator and the symbolizer's from its /metrics (neither
// counted as a fetch).
//
// Output: one line per checkpoint, host and agent side by side, and the
// difference agent - host in MiB.
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "inprof/agent.h"

namespace {

using Clock = std::chrono::steady_clock;

// --- The host (child) -------------------------------------------------------

std::mutex g_shared_mu;
uint64_t g_shared_counter = 0;

__attribute__((noinline)) void HostUnit(
    std::unordered_map<uint32_t, std::string>& window, uint32_t& seed,
    uint64_t& sink) {
  seed = seed * 1664525u + 1013904223u;
  std::string value(16 + (seed >> 24), static_cast<char>('a' + (seed & 15)));
  for (char c : value) sink = sink * 131 + static_cast<unsigned char>(c);
  window[seed & 4095] = std::move(value);
  if ((seed & 255) == 0) {
    std::lock_guard<std::mutex> lock(g_shared_mu);
    g_shared_counter += sink & 1;
  }
}

__attribute__((noinline)) void HostThread(uint32_t seed) {
  std::unordered_map<uint32_t, std::string> window;
  uint64_t sink = 0;
  for (;;) {
    for (int i = 0; i < 500; ++i) HostUnit(window, seed, sink);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Runs the host forever; with the agent if `with_agent`. Writes "PORT\n" to
// stdout once ready (0 without the agent) and exits when stdin closes.
[[noreturn]] void RunHost(bool with_agent) {
  std::optional<inprof::Agent> agent;
  int port = 0;
  if (with_agent) {
    inprof::Options options;
    options.port = 0;
    auto started = inprof::Agent::Start(options);
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      std::exit(1);
    }
    agent.emplace(std::move(*started));
    port = agent->port();
  }
  for (uint32_t i = 0; i < 4; ++i) {
    std::thread(HostThread, 12345u + 977u * i).detach();
  }
  std::printf("%d\n", port);
  std::fflush(stdout);
  char byte;
  while (read(0, &byte, 1) > 0) {
  }
  std::_Exit(0);
}

// --- The driver (parent) ----------------------------------------------------

struct Child {
  pid_t pid = -1;
  int to_child = -1;  // its stdin; closing it ends the child
  int port = 0;
};

Child Spawn(const char* self, const char* mode) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) std::exit(1);
  Child child;
  child.pid = fork();
  if (child.pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    execl(self, self, mode, static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  close(in[0]);
  close(out[1]);
  child.to_child = in[1];
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  close(out[0]);
  child.port = std::atoi(line.c_str());
  return child;
}

struct Rss {
  double total_mib = 0, anon_mib = 0, file_mib = 0;
};

Rss ReadRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  Rss rss;
  while (in >> key) {
    double kib = 0;
    if (key == "VmRSS:" && in >> kib) rss.total_mib = kib / 1024;
    if (key == "RssAnon:" && in >> kib) rss.anon_mib = kib / 1024;
    if (key == "RssFile:" && in >> kib) rss.file_mib = kib / 1024;
  }
  return rss;
}

// The load address of this binary in process `pid` (first mapping of it).
uint64_t ExeBase(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return 0;
  self[n] = '\0';
  while (std::getline(in, line)) {
    if (line.find(self) != std::string::npos) {
      return std::strtoull(line.c_str(), nullptr, 16);
    }
  }
  return 0;
}

// The number after `key` in `body`, in MiB; -1 if absent.
double MibAfter(const std::string& body, const std::string& key) {
  size_t at = body.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(body.c_str() + at + key.size(), nullptr) / (1 << 20);
}

// What the agent child says about its memory: tcmalloc's figures from
// /debug/allocator, the symbolizer's from /metrics (neither counted as a
// fetch).
struct AgentFigures {
  double heap = -1, thread_caches = -1, pageheap_free = -1;
  double sym_cache = -1, sym_units = -1, sym_tables = -1;
};

AgentFigures ReadAgentFigures(httplib::Client& client) {
  AgentFigures f;
  if (httplib::Result r = client.Get("/debug/allocator");
      r && r->status == 200) {
    f.heap = MibAfter(r->body, "\"bytes_in_use\":");
    f.thread_caches = MibAfter(r->body, "\"thread_cache_free_bytes\":");
    f.pageheap_free = MibAfter(r->body, "\"pageheap_free_bytes\":");
  }
  if (httplib::Result r = client.Get("/metrics"); r && r->status == 200) {
    f.sym_cache = MibAfter(r->body, "part=\"address_cache\"} ");
    f.sym_units = MibAfter(r->body, "part=\"unit_indexes\"} ");
    f.sym_tables = MibAfter(r->body, "part=\"symbol_tables\"} ");
  }
  return f;
}

struct Fetch {
  const char* name;
  const char* path;
  bool post = false;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string first_arg = argc > 1 ? argv[1] : "";
  if (first_arg == "host") RunHost(false);
  if (first_arg == "agent") RunHost(true);
  const int fetches = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int cpu_every = argc > 2 ? std::atoi(argv[2]) : 1;
  const int idle_seconds = argc > 3 ? std::atoi(argv[3]) : 35;
  signal(SIGPIPE, SIG_IGN);

  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return 1;
  self[n] = '\0';
  Child host = Spawn(self, "host");
  Child agent = Spawn(self, "agent");
  if (agent.port <= 0) {
    std::fprintf(stderr, "the agent child did not start\n");
    return 1;
  }
  // Addresses for POST /debug/pprof/symbol: functions of this binary in the
  // agent child (same binary, its own load address).
  const uint64_t base = ExeBase(agent.pid);
  const uint64_t my_base = ExeBase(getpid());
  char symbol_body[256];
  std::snprintf(symbol_body, sizeof(symbol_body),
                "0x%" PRIx64 "+0x%" PRIx64 "+0x%" PRIx64,
                reinterpret_cast<uint64_t>(&HostUnit) - my_base + base,
                reinterpret_cast<uint64_t>(&HostThread) - my_base + base,
                reinterpret_cast<uint64_t>(&RunHost) - my_base + base + 8);

  httplib::Client client("127.0.0.1", agent.port);
  client.set_read_timeout(std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // host warm-up

  std::printf(
      "# agent_memory_benchmark fetches=%d cpu_every=%d idle_seconds=%d\n"
      "# MiB: VmRSS (RssAnon + RssFile); agent_heap = tcmalloc bytes in use "
      "in the agent child\n",
      fetches, cpu_every, idle_seconds);
  std::printf(
      "# agent_heap: tcmalloc bytes in use (tc_thread: free in thread caches, "
      "tc_pagefree: free in the page heap, still resident); sym_*: the "
      "symbolizer's address cache, unit indexes, symbol tables (estimated)\n");
  std::printf("%-10s %6s %-20s %-20s %8s %9s %10s %9s %11s %9s %9s %10s\n",
              "checkpoint", "secs", "host rss(anon+file)",
              "agent rss(anon+file)", "diff_rss", "diff_anon", "agent_heap",
              "tc_thread", "tc_pagefree", "sym_cache", "sym_units",
              "sym_tables");
  const Clock::time_point start = Clock::now();
  auto checkpoint = [&](const std::string& name) {
    Rss h = ReadRss(host.pid), a = ReadRss(agent.pid);
    AgentFigures f = ReadAgentFigures(client);
    char hs[64], as[64];
    std::snprintf(hs, sizeof(hs), "%.1f (%.1f+%.1f)", h.total_mib, h.anon_mib,
                  h.file_mib);
    std::snprintf(as, sizeof(as), "%.1f (%.1f+%.1f)", a.total_mib, a.anon_mib,
                  a.file_mib);
    std::printf(
        "%-10s %6.1f %-20s %-20s %8.1f %9.1f %10.1f %9.1f %11.1f %9.2f %9.2f "
        "%10.2f\n",
        name.c_str(),
        std::chrono::duration<double>(Clock::now() - start).count(), hs, as,
        a.total_mib - h.total_mib, a.anon_mib - h.anon_mib, f.heap,
        f.thread_caches, f.pageheap_free, f.sym_cache, f.sym_units,
        f.sym_tables);
    std::fflush(stdout);
  };

  const std::vector<Fetch> kinds = {
      {"heap", "/debug/pprof/heap"},
      {"allocs", "/debug/pprof/allocs"},
      {"heap_text", "/debug/pprof/heap?debug=1"},
      {"mutex", "/debug/pprof/mutex"},
      {"block", "/debug/pprof/block"},
      {"goroutine", "/debug/pprof/goroutine"},
      {"goroutine2", "/debug/pprof/goroutine?debug=2"},
      {"threads", "/debug/pprof/threads"},
      {"metrics", "/metrics"},
      {"symbol", "/debug/pprof/symbol", true},
      {"cpu", "/debug/pprof/profile?seconds=1"},
  };
  std::map<std::string, double> first_ms;
  auto fetch = [&](const Fetch& f) {
    const Clock::time_point t0 = Clock::now();
    httplib::Result r = f.post ? client.Post(f.path, symbol_body, "text/plain")
                               : client.Get(f.path);
    const double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!r || r->status != 200) {
      std::fprintf(stderr, "fetch %s failed: %d\n", f.path, r ? r->status : -1);
      std::exit(1);
    }
    first_ms.emplace(f.name, ms);
    return ms;
  };

  checkpoint("fetch0");
  int done = 0;
  for (int round = 0; done < fetches; ++round) {
    for (const Fetch& f : kinds) {
      if (done >= fetches) break;
      if (std::strcmp(f.name, "cpu") == 0 && round % cpu_every != 0) continue;
      fetch(f);
      ++done;
      if (done == 1 || done % 100 == 0) {
        checkpoint("fetch" + std::to_string(done));
      }
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  checkpoint("idle");
  const double after_idle = fetch({"heap_after_idle", "/debug/pprof/heap"});
  checkpoint("after_idle");

  std::printf("# first fetch of each kind after start, ms:");
  for (const Fetch& f : kinds)
    std::printf(" %s=%.1f", f.name, first_ms[f.name]);
  std::printf("\n# first heap fetch after %d s idle: %.1f ms\n", idle_seconds,
              after_idle);
  close(host.to_child);
  close(agent.to_child);
  waitpid(host.pid, nullptr, 0);
  waitpid(agent.pid, nullptr, 0);
  return 0;
}
