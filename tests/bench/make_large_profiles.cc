// Writes two large, related CPU profiles for the viewer benchmark
// (run_viewer_diff.sh): BASE and NEW, each with SAMPLES sample records
// (default 60,000) over stacks 8-40 frames deep, drawn from a fixed random
// call graph of 5,000 C++-style functions; NEW shifts weight between
// branches, so the diff is not trivial. Deterministic for a given SAMPLES.
//
// Usage: make_large_profiles BASE NEW [SAMPLES]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "agent/profile/encode.h"
#include "agent/profile/gzip.h"
#include "agent/profile/profile.h"

namespace {

using inprof::internal::Profile;

constexpr int kFunctions = 5000;
constexpr int kCallees = 6;

Profile Skeleton() {
  Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10000000;
  p.duration_nanos = 30000000000;
  p.time_nanos = 1700000000000000000;
  p.mappings = {{1, 0x400000, 0x4000000, 0, "/usr/bin/server", "", true, true,
                 true, false}};
  for (int f = 0; f < kFunctions; ++f) {
    std::string name = "app::module" + std::to_string(f % 97) + "::Handler" +
                       std::to_string(f) + "::Process(std::string const&, int)";
    p.functions.push_back({static_cast<uint64_t>(f + 1), name,
                           "_ZN3app" + std::to_string(f), "/src/app.cc", f});
    p.locations.push_back({static_cast<uint64_t>(f + 1),
                           1,
                           0x400000 + 64 * static_cast<uint64_t>(f),
                           {{static_cast<uint64_t>(f + 1), f + 10, 0}},
                           false});
  }
  return p;
}

// One sample: a random walk down the call graph from function 0.
Profile Generate(int samples, bool shifted) {
  Profile p = Skeleton();
  std::mt19937 graph_rng(1);
  std::vector<std::vector<int>> callees(kFunctions);
  for (auto& c : callees) {
    for (int k = 0; k < kCallees; ++k) c.push_back(graph_rng() % kFunctions);
  }
  std::mt19937 rng(shifted ? 3 : 2);
  for (int s = 0; s < samples; ++s) {
    int depth = 8 + static_cast<int>(rng() % 33);
    std::vector<uint64_t> root_first = {1};
    int f = 0;
    for (int d = 1; d < depth; ++d) {
      // NEW favors the first callee of every function more.
      int pick = static_cast<int>(rng() % (shifted ? kCallees + 3 : kCallees));
      f = callees[f][pick < kCallees ? pick : 0];
      root_first.push_back(static_cast<uint64_t>(f + 1));
    }
    inprof::internal::Sample sample;
    sample.location_ids.assign(root_first.rbegin(), root_first.rend());
    int64_t count = 1 + static_cast<int64_t>(rng() % 3);
    sample.values = {count, count * p.period};
    p.samples.push_back(std::move(sample));
  }
  return p;
}

bool Write(const char* path, const Profile& p) {
  std::ofstream out(path, std::ios::binary);
  out << inprof::internal::Gzip(inprof::internal::EncodeProfile(p));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_large_profiles BASE NEW [SAMPLES]\n");
    return 2;
  }
  int samples = argc > 3 ? std::atoi(argv[3]) : 60000;
  if (!Write(argv[1], Generate(samples, false)) ||
      !Write(argv[2], Generate(samples, true))) {
    std::perror("make_large_profiles");
    return 1;
  }
  return 0;
}
