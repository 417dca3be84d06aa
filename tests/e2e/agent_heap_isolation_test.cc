// The agent's own allocations stay out of the user's heap and allocs
// profiles (issue 16, item 3): after every kind of profile has been fetched
// many times at a small sampling rate, with the symbolizer (libdwfl) doing
// its work on the agent's threads, no sampled stack has a frame of the
// agent's code or of libdw/libelf, except what Agent::Start allocated on the
// caller's thread, which stays under that one frame. Linked with tcmalloc as
// heap_profile_test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/profile/decode.h"
#include "agent/profile/profile.h"
#include "inprof/agent.h"

namespace inprof::e2e {
namespace {

// Frames of the agent, or of the libraries it symbolizes with.
bool IsAgentFrame(std::string_view name) {
  for (std::string_view prefix :
       {"inprof::internal::", "inprof::Agent", "dwfl_", "dwarf_", "elf_",
        "elf32_", "elf64_", "__libdw", "__libdwfl", "__libelf", "gelf_"}) {
    if (name.starts_with(prefix)) return true;
  }
  return false;
}

std::string Get(httplib::Client& client, const std::string& path) {
  httplib::Result r = client.Get(path.c_str());
  EXPECT_TRUE(r && r->status == 200) << path;
  return r ? r->body : "";
}

// Touches the block, so that the call is not a tail call (which would leave
// this frame off the stack).
__attribute__((noinline)) void* UserAllocation(size_t bytes) {
  void* block = std::malloc(bytes);
  std::memset(block, 1, bytes);
  return block;
}

TEST(AgentHeapIsolationTest, NoAgentFramesInHeapOrAllocsAfterManyFetches) {
  Options options;
  options.port = 0;
  options.heap_sample_rate = 512;  // nearly every allocation of 512 B up
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  // A thread draws its next sample point at the new rate at its next
  // sample: one big block makes this thread do so now (as
  // heap_profile_test). volatile: the pair may not be elided.
  void* volatile big = std::malloc(size_t{256} << 20);
  std::free(big);
  // The user's own allocations are in the profile: the check below sees
  // samples at all.
  std::vector<void*> kept;
  for (int i = 0; i < 200; ++i) kept.push_back(UserAllocation(4096));

  httplib::Client client("127.0.0.1", agent->port());
  client.set_read_timeout(std::chrono::seconds(60));
  const uint64_t address = reinterpret_cast<uint64_t>(&UserAllocation);
  for (int round = 0; round < 10; ++round) {
    for (const char* path :
         {"/debug/pprof/heap", "/debug/pprof/allocs",
          "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine",
          "/debug/pprof/goroutine?debug=2", "/debug/pprof/threads",
          "/debug/pprof/mutex", "/debug/pprof/block", "/metrics"}) {
      Get(client, path);
    }
    char body[32];
    std::snprintf(body, sizeof(body), "0x%" PRIx64, address);
    httplib::Result r = client.Post("/debug/pprof/symbol", body, "text/plain");
    EXPECT_TRUE(r && r->status == 200);
  }
  Get(client, "/debug/pprof/profile?seconds=1");

  // Both fetched before either is decoded: decoding on this thread is the
  // test's own allocation, in inprof's code.
  const std::vector<std::string> paths = {"/debug/pprof/allocs",
                                          "/debug/pprof/heap"};
  std::vector<std::string> bodies;
  for (const std::string& path : paths) bodies.push_back(Get(client, path));
  for (size_t i = 0; i < paths.size(); ++i) {
    StatusOr<internal::Profile> profile = internal::DecodeProfile(bodies[i]);
    ASSERT_TRUE(profile.ok()) << profile.status().ToString();
    std::set<std::string> agent_frames;
    bool user_seen = false;
    int64_t start_bytes = 0;
    for (const internal::Sample& s : profile->samples) {
      std::vector<std::string> names;
      for (uint64_t id : s.location_ids) {
        for (const internal::Line& line : profile->locations.at(id - 1).lines) {
          names.push_back(profile->functions.at(line.function_id - 1).name);
        }
      }
      // What Agent::Start allocates on the caller's thread is under the
      // caller's call of it: one clearly named frame, allowed.
      if (std::find(names.begin(), names.end(), "inprof::Agent::Start") !=
          names.end()) {
        start_bytes += s.values[1];
        continue;
      }
      for (const std::string& name : names) {
        if (IsAgentFrame(name)) agent_frames.insert(name);
        if (name.find("UserAllocation") != std::string::npos) user_seen = true;
      }
    }
    EXPECT_TRUE(user_seen) << paths[i];
    EXPECT_THAT(agent_frames, ::testing::IsEmpty()) << paths[i];
    std::printf("%s: %lld bytes allocated under inprof::Agent::Start\n",
                paths[i].c_str(), static_cast<long long>(start_bytes));
  }
  for (void* p : kept) std::free(p);
}

}  // namespace
}  // namespace inprof::e2e
