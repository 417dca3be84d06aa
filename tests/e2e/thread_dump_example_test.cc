// examples/thread_dump.cc as the README runs it (issue 15, item 5): a stuck
// server whose thread dump says why. debug=2 shows the request thread
// "handler" waiting in WaitForIndexLock for GET /report and the "flusher"
// holding the lock in SlowDiskWrite; debug=1 folds the four idle workers
// into one "4 @" group; go tool pprof reads the thread profile.
//
// Nothing is judged by the clock: the dump is taken again until the handler
// is seen blocked on the lock; ctest's timeout ends a run that would never
// get there.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "tests/support/demo_server.h"
#include "tests/support/go_tool.h"
#include "tests/support/http_get.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof {
namespace {

using ::testing::HasSubstr;

TEST(ThreadDumpExampleTest, TheDumpShowsWhoWaitsForWhom) {
  ASSERT_FALSE(test::RequireGo().empty());
  test::TempDir dir;
  test::AgentProgram example(INPROF_THREAD_DUMP_EXAMPLE, {"--seconds=900"},
                             dir.Path("example.log"));
  const std::string& agent_url = example.agent_url();
  ASSERT_FALSE(agent_url.empty());
  httplib::Client client(agent_url);

  // The handler starts just before the example prints its address: dumps
  // are taken until one finds it asleep on the lock (each dump is a round
  // trip to the example, nothing else paces this). On a busy machine a
  // dump can catch it inside WaitForIndexLock still running, on its way
  // into the futex wait.
  std::string dump;
  do {
    ASSERT_TRUE(example.Running());
    dump = test::GetOk(client, "/debug/pprof/goroutine?debug=2");
  } while (dump.find("WaitForIndexLock") == std::string::npos ||
           dump.find("\"handler\" [sleeping") == std::string::npos);
  EXPECT_THAT(dump, HasSubstr("request \"GET /report\" running"));
  EXPECT_THAT(dump, HasSubstr("# labels: {\"endpoint\":\"GET /report\"}"));
  EXPECT_THAT(dump, HasSubstr("\"flusher\""));
  EXPECT_THAT(dump, HasSubstr("SlowDiskWrite"));
  EXPECT_THAT(dump, HasSubstr("\"worker\""));
  EXPECT_THAT(dump, HasSubstr("WaitForTask"));
  EXPECT_THAT(dump, HasSubstr("inprof agent thread"));

  const std::string grouped =
      test::GetOk(client, "/debug/pprof/goroutine?debug=1");
  EXPECT_THAT(grouped, HasSubstr("\n4 @ 0x")) << grouped;

  test::CommandResult traces =
      test::GoToolPprof({"-traces", agent_url + "/debug/pprof/goroutine"});
  ASSERT_EQ(traces.exit_code, 0) << traces.Describe();
  EXPECT_THAT(traces.out, HasSubstr("WaitForIndexLock")) << traces.out;
  EXPECT_THAT(traces.out, HasSubstr("SlowDiskWrite")) << traces.out;
}

}  // namespace
}  // namespace inprof
