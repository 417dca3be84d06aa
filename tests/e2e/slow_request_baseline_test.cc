// A slow request's capture diffed against its endpoint's baseline (issue 14
// item 5), as a user sees it: one endpoint, usually fast (its own CPU in
// TypicalWork), once slow (also in SlowOnlyWork). The baseline,
// /debug/pprof/captures/ID?baseline=1, is a typical request of that
// endpoint; the diff against it, by the real `go tool pprof -diff_base` and
// by `inprof-view diff` over the same two URLs, shows SlowOnlyWork as what
// was new.
//
// Nothing is judged by the clock: requests burn measured amounts of their
// thread's own CPU time (CLOCK_THREAD_CPUTIME_ID), and the baseline's
// per-request CPU is compared with what a typical request measured. Sleeps
// only pace the requests while the test polls for the baseline to fill.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "agent/profile/decode.h"
#include "inprof/agent.h"
#include "inprof/request.h"
#include "tests/support/chromium.h"
#include "tests/support/go_tool.h"
#include "tests/support/pprof_top.h"
#include "tests/support/regex.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/thread_cpu.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The slow request burns more CPU than the threshold (its wall time cannot
// be less); a typical one a 16th of it, so that it stays under the
// threshold even when burners and builds leave it a sliver of a core.
constexpr int kThresholdMs = 500;
constexpr int64_t kTypicalCpuNanos = 30'000'000;
constexpr int64_t kSlowOnlyCpuNanos = kThresholdMs * 1'000'000LL;
constexpr int kBaselineRequests = 4;

// noipa: identical functions must not be folded into one symbol.
__attribute__((noipa)) void TypicalWork(int64_t nanos) {
  test::BurnThreadCpu(nanos);
  asm volatile("" ::: "memory");
}
__attribute__((noipa)) void SlowOnlyWork(int64_t nanos) {
  test::BurnThreadCpu(nanos);
  asm volatile("" ::: "memory");
}

// One request of GET /work; returns the CPU time its thread spent in it.
int64_t WorkRequest(bool slow) {
  const int64_t start = test::ThreadCpuNanos();
  {
    RequestScope scope("GET /work");
    TypicalWork(kTypicalCpuNanos);
    if (slow) SlowOnlyWork(kSlowOnlyCpuNanos);
  }
  return test::ThreadCpuNanos() - start;
}

httplib::Result GetPath(httplib::Client& client, const std::string& path) {
  httplib::Result r = client.Get(path);
  EXPECT_TRUE(r) << path;
  return r;
}

// "12.50ms" -> 12500000; pprof's -top units for nanosecond values.
double Nanos(const std::string& value) {
  const double magnitude = test::PprofMagnitude(value);
  for (const auto& [unit, scale] : {std::pair<const char*, double>{"ns", 1},
                                    {"us", 1e3},
                                    {"ms", 1e6},
                                    {"s", 1e9},
                                    {"mins", 60e9}}) {
    if (value.ends_with(unit)) return magnitude * scale;
  }
  return magnitude;
}

// The cum value of the row of `function` in `top`; 0 when absent.
double CumNanos(const test::PprofTop& top, const std::string& function) {
  for (const test::PprofTopRow& row : top.rows) {
    if (row.name.find(function) != std::string::npos) return Nanos(row.cum);
  }
  return 0;
}

TEST(SlowRequestBaselineTest, Issue14_CaptureDiffedAgainstATypicalRequest) {
  Options options;
  options.port = 0;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  httplib::Client client("127.0.0.1", agent->port());
  const std::string origin =
      "http://127.0.0.1:" + std::to_string(agent->port());
  httplib::Result on = client.Post(
      "/debug/pprof/autocapture?threshold_ms=" + std::to_string(kThresholdMs),
      "", "");
  ASSERT_TRUE(on);
  ASSERT_EQ(on->status, 200) << on->body;

  // The slow request first: its capture exists before any baseline does.
  std::thread([] { WorkRequest(true); }).join();
  std::string list;
  test::RegexGroups m;
  const test::Regex work_entry("\\{\"id\":(\\d+),\"endpoint\":\"GET /work\"");
  while (!work_entry.Search(
      list = GetPath(client, "/debug/pprof/captures")->body, &m)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string id = m[1];
  const std::string capture = "/debug/pprof/captures/" + id;
  const std::string baseline = capture + "?baseline=1";
  EXPECT_THAT(list, Not(HasSubstr("baseline_url")));
  httplib::Result none = GetPath(client, baseline);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  EXPECT_THAT(none->body, HasSubstr("no baseline yet for endpoint"));

  // Bad parameters are a 400 with the reason.
  for (const char* bad :
       {"?baseline=2", "?baseline=", "?base=1", "?baseline=1&seconds=5"}) {
    httplib::Result r = GetPath(client, capture + bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
    EXPECT_EQ(r->body.find('\n'), r->body.size() - 1) << r->body;  // 1 line
  }

  // Typical requests on a thread of their own (nothing else runs there to
  // be charged to them), paced, until the baseline holds enough of them:
  // the reservoir takes at most one a second.
  std::atomic<bool> stop{false};
  std::mutex mu;
  int64_t typical_cpu = 0, typical_requests = 0;  // guarded by mu
  std::thread traffic([&] {
    while (!stop.load()) {
      const int64_t cpu = WorkRequest(false);
      {
        std::lock_guard<std::mutex> lock(mu);
        typical_cpu += cpu;
        ++typical_requests;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::string bytes;
  const std::string enough =
      "typical_requests=" + std::to_string(kBaselineRequests);
  while (true) {
    httplib::Result r = GetPath(client, baseline);
    ASSERT_TRUE(r);
    if (r->status == 200 && r->body.size() > 0) {
      StatusOr<internal::Profile> p = internal::DecodeProfile(r->body);
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      if (!p->comments.empty() &&
          p->comments[0].find(enough) != std::string::npos) {
        bytes = r->body;
        break;
      }
    } else {
      ASSERT_EQ(r->status, 404) << r->body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  stop.store(true);
  traffic.join();

  // The list now links the baseline; baselines are not entries of it.
  list = GetPath(client, "/debug/pprof/captures")->body;
  EXPECT_THAT(list, HasSubstr("\"baseline_url\":\"" + baseline + "\""));
  EXPECT_FALSE(test::Regex("\"id\":.*\"id\":").Search(list)) << list;

  // The baseline: the capture's sample types, one typical request's worth.
  StatusOr<internal::Profile> profile = internal::DecodeProfile(bytes);
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  ASSERT_EQ(profile->sample_types.size(), 5u);
  EXPECT_EQ(profile->sample_types[0].type, "samples");
  EXPECT_EQ(profile->sample_types[1].type, "cpu");
  EXPECT_EQ(profile->sample_types[2].type, "wall");
  double cpu = 0;
  for (const internal::Sample& s : profile->samples) cpu += s.values[1];
  double measured = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    measured = static_cast<double>(typical_cpu) / typical_requests;
  }
  std::printf("baseline CPU per request %.1f ms; a typical request %.1f ms\n",
              cpu / 1e6, measured / 1e6);
  EXPECT_GE(cpu, 0.75 * measured);
  EXPECT_LE(cpu, 1.25 * measured);

  // go tool pprof -diff_base=BASELINE CAPTURE: SlowOnlyWork is what's new;
  // TypicalWork about the same in both.
  test::CommandResult comments =
      test::GoToolPprof({"-comments", origin + baseline});
  ASSERT_EQ(comments.exit_code, 0) << comments.Describe();
  EXPECT_THAT(comments.out, HasSubstr("endpoint=GET /work"));
  EXPECT_THAT(comments.out, HasSubstr("per request"));
  test::CommandResult diff =
      test::GoToolPprof({"-top", "-cum", "-sample_index=cpu",
                         "-diff_base=" + origin + baseline, origin + capture});
  ASSERT_EQ(diff.exit_code, 0) << diff.Describe();
  const test::PprofTop top = test::ParsePprofTop(diff.out);
  const double slow_only = CumNanos(top, "SlowOnlyWork");
  const double typical = CumNanos(top, "TypicalWork");
  EXPECT_GE(slow_only, 0.75 * kSlowOnlyCpuNanos) << diff.out;
  EXPECT_LE(std::abs(typical), 0.25 * slow_only) << diff.out;

  // The UI's one-click diff: the capture as new, the baseline as base.
  EXPECT_THAT(GetPath(client, "/debug/pprof/ui/captures")->body,
              HasSubstr("\"baseline\":\"baseline:" + id + "\""));
  httplib::Result flame =
      GetPath(client, "/debug/pprof/ui/flame?profile=capture:" + id +
                          "&base=baseline:" + id + "&sample_index=cpu");
  ASSERT_TRUE(flame);
  EXPECT_EQ(flame->status, 200) << flame->body;
  EXPECT_THAT(flame->body, HasSubstr("SlowOnlyWork"));
  EXPECT_THAT(flame->body, HasSubstr("\"base\":["));  // a diff

  // The page itself, opened on that diff by its URL, as the README's
  // screenshot is: the button shown, SlowOnlyWork drawn, what grew red.
  test::TempDir dir;
  const std::string shot = dir.path() + "/diff.png";
  test::BrowserPage page = test::LoadInChromium(
      origin + "/debug/pprof/ui#profile=capture:" + id +
          "&base=baseline:" + id + "&index=cpu&search=SlowOnlyWork",
      shot);
  ASSERT_TRUE(page.ok);
  EXPECT_THAT(page.console, Not(HasSubstr("Uncaught"))) << page.console;
  EXPECT_EQ(test::BodyAttribute(page.dom, "data-state"), "ready")
      << test::BodyAttribute(page.dom, "data-error");
  EXPECT_NE(test::BodyAttribute(page.dom, "data-matches"), "0");
  EXPECT_THAT(page.dom, HasSubstr("diff: baseline:" + id +
                                  " (typical request) \u2192 capture:" + id));
  EXPECT_THAT(page.dom, HasSubstr("<button id=\"ui-diff-baseline\" "
                                  "type=\"button\" title="));  // not hidden
  // SlowOnlyWork's frame is drawn (the search matched it); the table is
  // of self values, where the burn loop under it grew.
  EXPECT_THAT(page.dom, HasSubstr("class=\"grew\" data-function=\""
                                  "inprof::test::BurnThreadCpu\""));
  test::ExpectPngFile(shot);

#ifdef INPROF_VIEW_BINARY
  // inprof-view diff BASE NEW over the same two URLs.
  test::CommandResult view = test::RunCommand(
      {INPROF_VIEW_BINARY, "diff", origin + baseline, origin + capture});
  ASSERT_EQ(view.exit_code, 0) << view.Describe();
  EXPECT_THAT(view.out, HasSubstr("SlowOnlyWork")) << view.out;
  std::printf("inprof-view diff:\n%s\n", view.out.c_str());
#endif
}

}  // namespace
}  // namespace inprof::e2e
