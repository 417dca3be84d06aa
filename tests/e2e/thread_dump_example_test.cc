// examples/thread_dump.cc as the README runs it (issue 15, item 5): a stuck
// server whose thread dump says why. debug=2 shows the request thread
// "handler" waiting in WaitForIndexLock for GET /report and the "flusher"
// holding the lock in SlowDiskWrite; debug=1 folds the four idle workers
// into one "4 @" group; go tool pprof reads the thread profile.
//
// Nothing is judged by the clock: the dump is taken again until the handler
// is seen blocked on the lock (it is started just before the example prints
// its address); ctest's timeout ends a run that would never get there.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

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
  const std::string log_path = dir.Path("example.log");
  test::BackgroundProcess example({"env", "INPROF_ADDR=127.0.0.1:0",
                                   INPROF_THREAD_DUMP_EXAMPLE, "--seconds=900"},
                                  log_path);
  ASSERT_TRUE(example.started());
  const std::string agent_url = test::WaitForAgentUrl(example, log_path);
  ASSERT_FALSE(agent_url.empty());
  httplib::Client client(agent_url);

  std::string dump;
  for (;;) {
    dump = test::GetOk(client, "/debug/pprof/goroutine?debug=2");
    if (dump.find("WaitForIndexLock") != std::string::npos) break;
    ASSERT_TRUE(example.Running()) << dump;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // pace
  }
  EXPECT_THAT(dump, HasSubstr("\"handler\" [sleeping"));
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
