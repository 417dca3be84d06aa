// A program that links gperftools' tcmalloc statically (libtcmalloc.a before
// inprof on the link line): it links (the malloc front's definitions are
// weak, tcmalloc's win), runs on tcmalloc, and the agent works; the heap
// endpoints answer 501 in one line (a static tcmalloc exports none of the
// API the agent looks up at run time).

#include <gperftools/malloc_extension_c.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <string>

#include "agent/heap/heap_hooks.h"
#include "inprof/agent.h"

namespace inprof::e2e {
namespace {

TEST(StaticTcmallocTest, ItsMallocWinsAndTheAgentRuns) {
  EXPECT_FALSE(internal::MallocFrontInUse());
  size_t before = 0, after = 0;
  ASSERT_TRUE(MallocExtension_GetNumericProperty(
      "generic.current_allocated_bytes", &before));
  void* volatile block = std::malloc(32 << 20);
  ASSERT_TRUE(MallocExtension_GetNumericProperty(
      "generic.current_allocated_bytes", &after));
  EXPECT_GE(after, before + (32 << 20));  // tcmalloc allocated it
  std::free(block);

  Options options;
  options.port = 0;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result heap = client.Get("/debug/pprof/heap");
  ASSERT_TRUE(heap);
  EXPECT_EQ(heap->status, 501);
  EXPECT_EQ(heap->body.find('\n'), heap->body.size() - 1) << heap->body;
  httplib::Result cmdline = client.Get("/debug/pprof/cmdline");
  ASSERT_TRUE(cmdline);
  EXPECT_EQ(cmdline->status, 200);
}

}  // namespace
}  // namespace inprof::e2e
