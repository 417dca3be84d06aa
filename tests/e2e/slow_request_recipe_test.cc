// The README's slow-request walkthrough (section "Slow requests"; issue 14,
// item 9), run as a user runs it: the demo server under its own load
// generator (scripts/demo.sh runs `demo_server --load`), the section's
// `curl` lines run by the real curl (or, without curl, sent as the same HTTP
// request by httplib) and its `go tool pprof` lines by the real pprof, each
// read from README.md with only the agent's address and the capture's id
// changed. The demo's /checkout is slow one call in 20, asleep in
// demo::WaitForInventory and then on CPU in demo::PriceCart: a capture of
// one must show both in wall time and PriceCart in CPU time; and /cache,
// never slow, must leave no capture.
//
// Nothing is judged by the clock: the test lists the captures at a steady
// pace until a /checkout one is there, and gives up only when the agent's
// own count of /checkout requests says enough slow ones went by
// (kGiveUpAfterCheckouts); ctest's timeout ends a run that would hang.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/support/demo_server.h"
#include "tests/support/go_tool.h"
#include "tests/support/pprof_top.h"
#include "tests/support/readme_recipe.h"
#include "tests/support/regex.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;

// The README section's heading.
constexpr std::string_view kSectionHeading = "### Slow requests";
constexpr std::string_view kAutocapturePath = "/debug/pprof/autocapture";
constexpr std::string_view kCapturesPath = "/debug/pprof/captures";

// The demo's occasionally slow endpoint, and its two phases
// (examples/demo_server/work.cc).
constexpr std::string_view kSlowRoute = "GET /checkout";
constexpr std::string_view kWaitMarker = "demo::WaitForInventory";
constexpr std::string_view kCpuMarker = "demo::PriceCart";
// An endpoint the load generator calls often that is never slow: it keeps
// a blob of at most 320 KiB (demo::SessionCache::Put).
constexpr std::string_view kNeverSlowRoute = "GET /cache";
// One /checkout in 20 is slow; after this many, about 20 slow ones went by
// and a capture should have been taken long ago (at most 2 a second are).
constexpr int64_t kGiveUpAfterCheckouts = 200;

// --- The walkthrough, from README.md -----------------------------------------

// The lines of the section of `readme_path` whose heading starts with
// `heading` (up to the next "##" line) that sit in a fenced code block and
// start with `start`. A helper of this test: tests/support/readme_recipe.h
// reads only `go tool pprof` lines.
std::vector<std::string> CodeLinesInSection(const std::string& readme_path,
                                            std::string_view heading,
                                            std::string_view start) {
  std::optional<std::string> text = test::ReadFile(readme_path);
  EXPECT_TRUE(text.has_value()) << readme_path;
  std::vector<std::string> lines;
  if (!text) return lines;
  std::istringstream in(*text);
  bool in_section = false;
  bool in_code = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("##")) in_section = line.starts_with(heading);
    if (!in_section) continue;
    if (line.starts_with("```")) {
      in_code = !in_code;
    } else if (in_code && line.starts_with(start)) {
      lines.push_back(line);
    }
  }
  return lines;
}

// The walkthrough's commands: turn auto-capture on, list the captures, and
// read a capture with go tool pprof.
struct Walkthrough {
  std::vector<std::string> enable;  // curl -X POST .../autocapture?...
  std::vector<std::string> list;    // curl .../captures
  std::vector<test::ReadmeRecipe> pprof;
};

// True when `words` has a word that is the README's agent URL followed by
// `path` (and a query, if `with_query`).
bool HasAgentUrl(const std::vector<std::string>& words, std::string_view path,
                 bool with_query) {
  const std::string url =
      std::string(test::kReadmeAgentUrl) + std::string(path);
  for (const std::string& word : words) {
    if (with_query ? word.starts_with(url + "?") : word == url) return true;
  }
  return false;
}

// True when `words` has a word that is a capture's README URL
// (.../debug/pprof/captures/N).
bool HasCaptureUrl(const std::vector<std::string>& words) {
  const test::Regex capture(std::string(test::kReadmeAgentUrl) +
                            std::string(kCapturesPath) + "/[0-9]+");
  for (const std::string& word : words) {
    if (capture.Matches(word)) return true;
  }
  return false;
}

// Reads the walkthrough; records a failure for a command that is missing or
// cannot be split as sh splits it.
Walkthrough ReadWalkthrough() {
  Walkthrough walkthrough;
  for (const std::string& line :
       CodeLinesInSection(INPROF_README, kSectionHeading, "curl ")) {
    std::optional<std::vector<std::string>> words = test::SplitShellWords(line);
    EXPECT_TRUE(words.has_value()) << "cannot split as sh would: " << line;
    if (!words) continue;
    if (HasAgentUrl(*words, kAutocapturePath, true))
      walkthrough.enable = *words;
    if (HasAgentUrl(*words, kCapturesPath, false)) walkthrough.list = *words;
  }
  EXPECT_FALSE(walkthrough.enable.empty())
      << "no `curl -X POST '...autocapture?...'` line";
  EXPECT_FALSE(walkthrough.list.empty()) << "no `curl .../captures` line";
  test::ReadmeRecipes recipes =
      test::ReadRecipesInSection(INPROF_README, kSectionHeading);
  EXPECT_TRUE(recipes.ok()) << recipes.error;
  for (const test::ReadmeRecipe& recipe : recipes.recipes) {
    if (HasCaptureUrl(recipe.words)) walkthrough.pprof.push_back(recipe);
  }
  EXPECT_FALSE(walkthrough.pprof.empty())
      << "no `go tool pprof ... /debug/pprof/captures/N` line";
  return walkthrough;
}

// The threshold_ms=N of the enable line's URL; 0 without one.
double ThresholdMs(const std::vector<std::string>& enable) {
  static const test::Regex kThreshold("[?&]threshold_ms=([0-9]+)");
  test::RegexGroups match;
  for (const std::string& word : enable) {
    if (kThreshold.Search(word, &match)) {
      return std::stod(match[1]);
    }
  }
  return 0;
}

// `words` with the README's agent address replaced by `agent_url`, and a
// capture URL's id by `capture_id` (if not empty).
std::vector<std::string> ForAgent(std::vector<std::string> words,
                                  const std::string& agent_url,
                                  const std::string& capture_id = "") {
  const test::Regex capture(std::string(test::kReadmeAgentUrl) +
                            std::string(kCapturesPath) + "/[0-9]+");
  for (std::string& word : words) {
    if (!capture_id.empty() && capture.Matches(word)) {
      word = std::string(test::kReadmeAgentUrl) + std::string(kCapturesPath) +
             "/" + capture_id;
    }
    if (word.starts_with(test::kReadmeAgentUrl)) {
      word = agent_url + word.substr(test::kReadmeAgentUrl.size());
    }
  }
  return words;
}

// --- curl
// ----------------------------------------------------------------------

// Runs a README `curl` line (already pointed at the agent) and returns what
// it printed; records a failure and returns nullopt when it fails. Uses the
// real curl when PATH has one; otherwise sends the request the line
// describes (POST with -d or -X POST, else GET, to its URL, empty body)
// with httplib.
std::optional<std::string> RunCurl(const std::vector<std::string>& words) {
  const char* path = std::getenv("PATH");
  if (!test::FindExecutable("curl", path ? path : "").empty()) {
    test::CommandResult run = test::RunCommand(words);
    EXPECT_EQ(run.exit_code, 0) << run.Describe();
    if (run.exit_code != 0) return std::nullopt;
    return run.out;
  }
  std::string method = "GET";
  std::string url;
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "-X" && i + 1 < words.size()) {
      method = words[++i];
    } else if (words[i] == "-d" && i + 1 < words.size()) {
      method = "POST";  // curl -d posts its data: here always ''
      ++i;
    } else if (words[i].starts_with("http://")) {
      url = words[i];
    }
  }
  const size_t path_start = url.find('/', std::string_view("http://").size());
  EXPECT_NE(path_start, std::string::npos) << url;
  if (path_start == std::string::npos) return std::nullopt;
  httplib::Client client(url.substr(0, path_start));
  const std::string target = url.substr(path_start);
  httplib::Result result = method == "POST" ? client.Post(target.c_str())
                                            : client.Get(target.c_str());
  EXPECT_TRUE(result) << method << " " << url;
  if (!result) return std::nullopt;
  return result->body;
}

// --- The captures
// --------------------------------------------------------------

struct Capture {
  std::string id;
  std::string endpoint;
  double duration_ms = 0;
};

// The captures of a /debug/pprof/captures answer, in its order.
std::vector<Capture> ParseCaptures(const std::string& json) {
  static const test::Regex kEntry(
      R"re(\{"id":([0-9]+),"endpoint":"([^"\\]*)","duration_ms":([0-9.]+),)re");
  std::vector<Capture> captures;
  for (const test::RegexGroups& m : kEntry.FindAll(json)) {
    captures.push_back({m[1], m[2], std::stod(m[3])});
  }
  return captures;
}

// The agent's count of /checkout requests so far (its latency histogram in
// /metrics, kept while auto-capture is on); 0 when not found.
int64_t CheckoutsServed(const std::string& agent_url) {
  httplib::Client client(agent_url);
  httplib::Result result = client.Get("/metrics");
  if (!result || result->status != 200) return 0;
  const std::string prefix =
      "inprof_request_duration_seconds_count{endpoint=\"" +
      std::string(kSlowRoute) + "\"} ";
  const size_t at = result->body.find(prefix);
  if (at == std::string::npos) return 0;
  return std::atoll(result->body.c_str() + at + prefix.size());
}

// Lists the captures with the README's command until one of kSlowRoute is
// there; returns it (nullopt, with a failure recorded, if the demo ends or
// kGiveUpAfterCheckouts checkouts went by without one). Every listing must
// be free of kNeverSlowRoute.
std::optional<Capture> WaitForSlowCheckout(
    test::LoadedDemo& demo, const std::string& agent_url,
    const std::vector<std::string>& list) {
  for (;;) {
    std::optional<std::string> json = RunCurl(list);
    if (!json) return std::nullopt;
    EXPECT_THAT(*json, HasSubstr("{\"captures\":[")) << *json;
    for (const Capture& c : ParseCaptures(*json)) {
      EXPECT_NE(c.endpoint, kNeverSlowRoute) << *json;
      if (c.endpoint == kSlowRoute) return c;
    }
    EXPECT_TRUE(demo.Running()) << "the demo ended before a slow checkout";
    if (!demo.Running()) return std::nullopt;
    const int64_t checkouts = CheckoutsServed(agent_url);
    EXPECT_LT(checkouts, kGiveUpAfterCheckouts)
        << "no capture of " << kSlowRoute << " after " << checkouts
        << " of its requests (one in 20 is slow): " << *json;
    if (checkouts >= kGiveUpAfterCheckouts) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // pace
  }
}

// --- go tool pprof -top ------------------------------------------------------

// A pprof duration ("1.21s", "150ms", "0") in nanoseconds; -1 when its unit
// is not one pprof prints for nanosecond sample types.
double Nanos(const std::string& value) {
  const double magnitude = test::PprofMagnitude(value);
  const size_t unit_start = value.find_first_not_of("0123456789.");
  const std::string unit =
      unit_start == std::string::npos ? "" : value.substr(unit_start);
  if (unit.empty() || unit == "ns") return magnitude;
  if (unit == "us" || unit == "\u00b5s") return magnitude * 1e3;
  if (unit == "ms") return magnitude * 1e6;
  if (unit == "s") return magnitude * 1e9;
  if (unit == "mins") return magnitude * 60e9;
  return -1;
}

// The cumulative value, in nanoseconds, of the row naming `marker`; 0
// without one.
double CumNanos(const test::PprofTop& top, std::string_view marker) {
  for (const test::PprofTopRow& row : top.rows) {
    if (row.name.find(marker) != std::string::npos) return Nanos(row.cum);
  }
  return 0;
}

bool IsCpuRecipe(const test::ReadmeRecipe& recipe) {
  for (const std::string& word : recipe.words) {
    if (word == "-sample_index=cpu" || word == "--sample_index=cpu") {
      return true;
    }
  }
  return false;
}

// Runs one README pprof line on `capture` and checks what it shows: in wall
// time (the default), both phases; in CPU time, PriceCart, far ahead of the
// sleeping WaitForInventory.
void CheckPprofRecipe(const test::ReadmeRecipe& recipe,
                      const std::string& agent_url, const Capture& capture) {
  SCOPED_TRACE(recipe.command);
  const std::vector<std::string> words =
      ForAgent(recipe.words, agent_url, capture.id);
  test::CommandResult run = test::GoToolPprof(
      std::vector<std::string>(words.begin() + 3, words.end()));
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  const test::PprofTop top = test::ParsePprofTop(run.out);
  const double wait = CumNanos(top, kWaitMarker);
  const double cpu = CumNanos(top, kCpuMarker);
  EXPECT_GT(cpu, 0) << run.out;
  if (IsCpuRecipe(recipe)) {
    EXPECT_THAT(run.out, HasSubstr("Type: cpu"));
    EXPECT_LT(wait, cpu) << run.out;
  } else {
    EXPECT_THAT(run.out, HasSubstr("Type: wall"));
    EXPECT_GT(wait, 0) << run.out;
  }
}

// --- The test
// ------------------------------------------------------------------

TEST(SlowRequestRecipeTest, Issue14_ReadmeWalkthroughCapturesASlowCheckout) {
  ASSERT_FALSE(test::RequireGo().empty());
  const Walkthrough walkthrough = ReadWalkthrough();
  ASSERT_FALSE(walkthrough.enable.empty() || walkthrough.list.empty() ||
               walkthrough.pprof.empty());

  // The demo as a user runs it, both ports picked by the system;
  // --duration only ends a demo this test failed to stop.
  test::TempDir dir;
  const std::string log_path = dir.Path("demo.log");
  test::LoadedDemo demo(INPROF_DEMO_SERVER, log_path);
  const std::string agent_url = demo.agent_url();
  ASSERT_FALSE(agent_url.empty());

  std::optional<std::string> enabled =
      RunCurl(ForAgent(walkthrough.enable, agent_url));
  ASSERT_TRUE(enabled.has_value());
  EXPECT_THAT(*enabled, HasSubstr("\"enabled\":true"));

  const std::optional<Capture> capture = WaitForSlowCheckout(
      demo, agent_url, ForAgent(walkthrough.list, agent_url));
  ASSERT_TRUE(capture.has_value()) << test::ReadFile(log_path).value_or("");
  // Over the walkthrough's threshold, as every capture is.
  EXPECT_GT(capture->duration_ms, ThresholdMs(walkthrough.enable));

  for (const test::ReadmeRecipe& recipe : walkthrough.pprof) {
    CheckPprofRecipe(recipe, agent_url, *capture);
  }
  // Still no capture of the endpoint that is never slow.
  std::optional<std::string> json =
      RunCurl(ForAgent(walkthrough.list, agent_url));
  ASSERT_TRUE(json.has_value());
  for (const Capture& c : ParseCaptures(*json)) {
    EXPECT_NE(c.endpoint, kNeverSlowRoute) << *json;
  }
}

}  // namespace
}  // namespace inprof::e2e
