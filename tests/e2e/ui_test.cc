// The agent's /debug/pprof/ui: its JSON endpoints answer as documented
// (agent/http/ui_handlers.h), and the page, loaded from the agent in
// headless chromium, lists live profiles and captures, draws one, and diffs
// a capture against the live profile. Needs chromium (apt-get install
// chromium); fails without it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "tests/e2e/busy_work.h"
#include "tests/support/chromium.h"

namespace inprof::e2e {
namespace {

using test::BodyAttribute;
using ::testing::HasSubstr;
using ::testing::Not;

StatusOr<Agent> StartAgent() {
  Options options;
  options.port = 0;
  options.block_profile_rate = 1;
  options.mutex_profile_fraction = 1;
  return Agent::Start(options);
}

struct Answer {
  int status = 0;
  std::string body;
  std::string type;
};

Answer Call(const Agent& agent, const std::string& method,
            const std::string& path) {
  httplib::Client client("127.0.0.1", agent.port());
  client.set_read_timeout(std::chrono::seconds(60));
  httplib::Result r =
      method == "POST" ? client.Post(path, "", "text/plain") : client.Get(path);
  if (!r) return {};
  return {r->status, r->body, r->get_header_value("Content-Type")};
}

TEST(UiTest, EndpointsListCaptureAndServeFlameTrees) {
  StatusOr<Agent> agent = StartAgent();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Answer page = Call(*agent, "GET", "/debug/pprof/ui");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.type, "text/html; charset=utf-8");
  EXPECT_THAT(page.body, HasSubstr("var UI = true;"));
  EXPECT_THAT(Call(*agent, "GET", "/debug/pprof/").body,
              HasSubstr("<a href='ui'>ui</a>"));

  Answer list = Call(*agent, "GET", "/debug/pprof/ui/captures");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body,
            "{\"live\":[\"cpu\",\"heap\",\"allocs\",\"mutex\",\"block\"],"
            "\"captures\":[]}\n");

  Contend(3, 10);
  Answer capture =
      Call(*agent, "POST", "/debug/pprof/ui/captures?profile=block");
  EXPECT_EQ(capture.status, 200);
  EXPECT_EQ(capture.body, "{\"id\":1}\n");
  list = Call(*agent, "GET", "/debug/pprof/ui/captures");
  EXPECT_THAT(list.body, HasSubstr("\"captures\":[{\"id\":1,\"profile\":"
                                   "\"block\",\"seconds\":0,\"time\":\""));

  Contend(3, 10);
  Answer flame =
      Call(*agent, "GET", "/debug/pprof/ui/flame?profile=block&base=capture:1");
  EXPECT_EQ(flame.status, 200) << flame.body;
  EXPECT_EQ(flame.type, "application/json");
  EXPECT_THAT(flame.body,
              HasSubstr("\"title\":\"diff: capture:1 \u2192 block\""));
  EXPECT_THAT(flame.body, HasSubstr("HoldBriefly"));
  EXPECT_THAT(flame.body, HasSubstr("\"base\":["));
  EXPECT_THAT(flame.body,
              HasSubstr("\"sample_types\":[\"contentions\",\"delay\"]"));

  Answer one = Call(*agent, "GET",
                    "/debug/pprof/ui/flame?profile=capture:1&"
                    "sample_index=contentions");
  EXPECT_EQ(one.status, 200) << one.body;
  EXPECT_THAT(one.body, HasSubstr("\"type\":\"contentions\""));
  EXPECT_THAT(one.body, Not(HasSubstr("\"base\":[")));

  // Mistakes: one line each.
  Answer missing =
      Call(*agent, "GET", "/debug/pprof/ui/flame?profile=capture:9");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("capture:9: no such capture"));
  Answer bad = Call(*agent, "GET", "/debug/pprof/ui/flame?profile=trace");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, "profile=trace: not a profile name or capture:ID\n");
  Answer mixed = Call(*agent, "GET",
                      "/debug/pprof/ui/flame?profile=block&base=capture:1&"
                      "sample_index=cpu");
  EXPECT_EQ(mixed.status, 400);
  EXPECT_THAT(mixed.body, HasSubstr("sample_index=cpu"));
  Answer seconds =
      Call(*agent, "POST", "/debug/pprof/ui/captures?profile=cpu&seconds=0");
  EXPECT_EQ(seconds.status, 400);
  Answer none = Call(*agent, "GET", "/debug/pprof/ui/flame");
  EXPECT_EQ(none.status, 400);
}

TEST(UiTest, PageDiffsACaptureAgainstTheLiveProfileInABrowser) {
  StatusOr<Agent> agent = StartAgent();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Contend(3, 5);
  ASSERT_EQ(
      Call(*agent, "POST", "/debug/pprof/ui/captures?profile=block").status,
      200);
  Contend(3, 20);
  std::filesystem::create_directories(INPROF_SCREENSHOT_DIR);
  std::string shot = std::string(INPROF_SCREENSHOT_DIR) + "/ui_diff.png";
  test::BrowserPage page =
      test::LoadInChromium(agent->url() +
                               "/debug/pprof/ui#profile=block&base=capture:1&"
                               "search=HoldBriefly",
                           shot);
  ASSERT_TRUE(page.ok);
  EXPECT_THAT(page.console, Not(HasSubstr("Uncaught"))) << page.console;
  EXPECT_EQ(BodyAttribute(page.dom, "data-state"), "ready")
      << BodyAttribute(page.dom, "data-error");
  EXPECT_EQ(BodyAttribute(page.dom, "data-captures"), "1");
  EXPECT_NE(BodyAttribute(page.dom, "data-matches"), "0");
  EXPECT_NE(BodyAttribute(page.dom, "data-drawn"), "0");
  EXPECT_THAT(page.dom, HasSubstr("<option value=\"capture:1\""));
  EXPECT_THAT(page.dom, HasSubstr("diff: capture:1 \u2192 block"));
  EXPECT_THAT(page.dom, HasSubstr("class=\"grew\" data-function=\""));
  test::ExpectPngFile(shot);
}

}  // namespace
}  // namespace inprof::e2e
