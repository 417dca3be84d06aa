// Issue 15's "done when", run as a user runs it: the demo server under its
// own load generator (scripts/demo.sh), then `go tool pprof` on
// /debug/pprof/goroutine and `curl .../goroutine?debug=2`. The dump must show
// the demo's named threads (its http workers, load and pool threads) and, at
// some moment, an http worker inside a request with its endpoint.
//
// Requests take milliseconds, so the test asks again until a dump catches a
// worker in one; nothing is judged by the clock, and ctest's timeout ends a
// run that would never see one.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <string>

#include "tests/support/demo_server.h"
#include "tests/support/go_tool.h"
#include "tests/support/http_get.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof {
namespace {

using ::testing::HasSubstr;

TEST(DemoThreadDumpTest, Issue15_GoroutineProfileAndDumpOfTheDemo) {
  ASSERT_FALSE(test::RequireGo().empty());
  test::TempDir dir;
  test::LoadedDemo demo(INPROF_DEMO_SERVER, dir.Path("demo.log"));
  ASSERT_FALSE(demo.agent_url().empty());
  httplib::Client client(demo.agent_url());
  client.set_read_timeout(30, 0);

  // go tool pprof reads the thread profile and folds the idle workers.
  const std::string file = dir.Path("goroutine.pb.gz");
  std::ofstream(file, std::ios::binary)
      << test::GetOk(client, "/debug/pprof/goroutine");
  test::CommandResult raw = test::GoToolPprof({"-raw", file});
  ASSERT_EQ(raw.exit_code, 0) << raw.Describe();
  EXPECT_THAT(raw.out, HasSubstr("PeriodType: goroutine count"));
  EXPECT_THAT(raw.out, HasSubstr("thread_name:[http-worker]"));
  EXPECT_THAT(raw.out, HasSubstr("thread_name:[demo-load]"));

  // debug=2: named threads, and sooner or later a worker in a request.
  bool saw_request = false;
  for (int attempt = 0; !saw_request; ++attempt) {
    ASSERT_TRUE(demo.Running());
    ASSERT_LT(attempt, 500) << "no dump caught a worker inside a request";
    const std::string dump =
        test::GetOk(client, "/debug/pprof/goroutine?debug=2");
    ASSERT_THAT(dump, HasSubstr("\"http-worker\""));
    ASSERT_THAT(dump, HasSubstr("\"demo-pool\""));
    ASSERT_THAT(dump, HasSubstr("inprof agent thread"));
    saw_request = dump.find("request \"GET /") != std::string::npos;
  }
}

}  // namespace
}  // namespace inprof
