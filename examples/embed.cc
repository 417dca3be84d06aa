// The smallest program that embeds inprof: the two lines, then a loop that
// does some work for a minute. While it runs:
//
//   go tool pprof -top 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "inprof/agent.h"

int main() {
  auto agent = inprof::Agent::Start(inprof::Options::FromEnvironment());
  if (!agent.ok())
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());

  // Some work to profile: a hash chain, for one minute.
  volatile uint64_t sink = 0;
  uint64_t h = 1;
  auto end = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 1'000'000; ++i)
      h = (h ^ (h >> 31)) * 0x9e3779b97f4a7c15ULL + i;
    sink = h;
  }
  return static_cast<int>(sink & 0);
}
