// examples/thread_pool_labels.cc as a user runs it (issue 15, item 5): two
// endpoints run their heavy part on a shared pool; the pool's threads adopt
// each task's request, so `go tool pprof -tagfocus=endpoint=...` (the
// example's own recipe) sees each endpoint's function and not the other's.
// A pool whose samples lost their labels fails: a focused profile would be
// empty of both functions.
//
// Nothing is judged by the clock: CPU windows of two seconds are taken until
// one holds samples of both functions; ctest's timeout ends a run that would
// never get there.

#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/support/demo_server.h"
#include "tests/support/go_tool.h"
#include "tests/support/http_get.h"
#include "tests/support/pprof_top.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof {
namespace {

bool Shows(const test::PprofTop& top, const std::string& function) {
  for (const test::PprofTopRow& row : top.rows) {
    if (row.name.find(function) != std::string::npos &&
        test::PprofMagnitude(row.flat) > 0) {
      return true;
    }
  }
  return false;
}

test::PprofTop Top(const std::vector<std::string>& extra,
                   const std::string& file) {
  std::vector<std::string> args = {"-top"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(file);
  test::CommandResult run = test::GoToolPprof(args);
  EXPECT_EQ(run.exit_code, 0) << run.Describe();
  return test::ParsePprofTop(run.out);
}

TEST(ThreadPoolExampleTest, PoolThreadsCarryTheRequestsEndpoint) {
  ASSERT_FALSE(test::RequireGo().empty());
  test::TempDir dir;
  test::AgentProgram example(INPROF_THREAD_POOL_EXAMPLE, {"--seconds=900"},
                             dir.Path("example.log"));
  const std::string& agent_url = example.agent_url();
  ASSERT_FALSE(agent_url.empty());

  // A window holding both endpoints' work.
  httplib::Client client(agent_url);
  client.set_read_timeout(60, 0);
  const std::string file = dir.Path("cpu.pb.gz");
  for (int attempt = 1;; ++attempt) {
    ASSERT_TRUE(example.Running());
    std::string body = test::GetOk(client, "/debug/pprof/profile?seconds=2");
    std::ofstream(file, std::ios::binary) << body;
    test::PprofTop all = Top({}, file);
    if (Shows(all, "ScoreDocuments") && Shows(all, "ResizeImage")) break;
    ASSERT_LT(attempt, 60) << "no window held both endpoints' work";
  }

  // The example's recipe, and its converse.
  test::PprofTop search = Top({"-tagfocus=endpoint=GET /search"}, file);
  EXPECT_TRUE(Shows(search, "ScoreDocuments"));
  EXPECT_FALSE(Shows(search, "ResizeImage"));
  test::PprofTop thumbnail = Top({"-tagfocus=endpoint=GET /thumbnail"}, file);
  EXPECT_TRUE(Shows(thumbnail, "ResizeImage"));
  EXPECT_FALSE(Shows(thumbnail, "ScoreDocuments"));
}

}  // namespace
}  // namespace inprof
