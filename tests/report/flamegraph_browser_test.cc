// The flame graph pages in a real browser (Debian's headless chromium): they
// load without script errors, show the expected frames, the search box
// highlights matches (via #search=, the same code path as typing), a diff
// marks what grew and shrank, 100,000 distinct stacks load, and screenshots
// are written to INPROF_SCREENSHOT_DIR. Fails (never skips) without
// chromium: apt-get install chromium.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "report/flamegraph.h"
#include "tests/support/chromium.h"
#include "tests/support/temp_dir.h"
#include "tests/viewer/profile_builder.h"

namespace inprof::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using inprof::test::BodyAttribute;
using inprof::test::BrowserPage;
using inprof::test::ExpectPngFile;
using inprof::viewer::test::FoldedProfile;

BrowserPage Load(const std::string& page, const std::string& hash,
                 const std::string& screenshot) {
  return inprof::test::LoadInChromium(
      "file://" + page + (hash.empty() ? "" : "#" + hash), screenshot);
}

std::string ScreenshotPath(const std::string& name) {
  std::filesystem::create_directories(INPROF_SCREENSHOT_DIR);
  return std::string(INPROF_SCREENSHOT_DIR) + "/" + name;
}

StackSet Stacks(const internal::Profile& p) {
  StatusOr<StackSet> s = BuildStackSet(p, {});
  EXPECT_TRUE(s.ok());
  return s.ok() ? std::move(s).value() : StackSet{};
}

constexpr int64_t kMs = 1000000;

// `html` with a script at the end of <body> that records the computed
// display of the agent UI's toolbar (#ui) and hint (#ui-hint) on <body> as
// data-test-ui-display and data-test-hint-display, for the DOM dump.
std::string WithComputedDisplay(std::string html) {
  const std::string script =
      "<script>(function () {\n"
      "  var d = function (id) {\n"
      "    return getComputedStyle(document.getElementById(id)).display;\n"
      "  };\n"
      "  document.body.dataset.testUiDisplay = d('ui');\n"
      "  document.body.dataset.testHintDisplay = d('ui-hint');\n"
      "})();</script>\n";
  size_t end = html.rfind("</body>");
  EXPECT_NE(end, std::string::npos);
  if (end != std::string::npos) html.insert(end, script);
  return html;
}

TEST(FlameGraphBrowserTest, DiffPageShowsWhatGrewAndShrankAndSearchHighlights) {
  StackSet base = Stacks(FoldedProfile({
      {"main;serve;handle_request;parse_json", {30, 300 * kMs}},
      {"main;serve;handle_request;render_page", {20, 200 * kMs}},
      {"main;serve;handle_request;render_page;escape_html", {5, 50 * kMs}},
      {"main;background;flush_logs", {10, 100 * kMs}},
  }));
  StackSet next = Stacks(FoldedProfile({
      {"main;serve;handle_request;parse_json", {12, 120 * kMs}},
      {"main;serve;handle_request;render_page", {45, 450 * kMs}},
      {"main;serve;handle_request;render_page;compress", {20, 200 * kMs}},
      {"main;background;flush_logs", {10, 100 * kMs}},
  }));
  FlamePageInfo info;
  info.title = "diff: yesterday.pb.gz \u2192 today.pb.gz";
  info.subtitle = "cpu";
  info.sample_type = "cpu";
  info.unit = "nanoseconds";
  inprof::test::TempDir dir;
  std::string page = dir.WriteFile(
      "diff.html", RenderFlameGraphPage(BuildFlameTree(next, &base), info));
  std::string shot = ScreenshotPath("flame_diff.png");
  BrowserPage run = Load(page, "search=render", shot);
  ASSERT_TRUE(run.ok);
  EXPECT_THAT(run.console, Not(HasSubstr("Uncaught"))) << run.console;
  EXPECT_EQ(BodyAttribute(run.dom, "data-state"), "ready")
      << run.dom.substr(0, 2000);
  EXPECT_EQ(BodyAttribute(run.dom, "data-error"), "<none>");
  EXPECT_EQ(BodyAttribute(run.dom, "data-search"), "render");
  EXPECT_EQ(BodyAttribute(run.dom, "data-matches"), "1");  // render_page
  EXPECT_EQ(BodyAttribute(run.dom, "data-frames"), "9");
  EXPECT_NE(BodyAttribute(run.dom, "data-drawn"), "0");
  EXPECT_THAT(run.dom,
              HasSubstr("<tr class=\"grew\" data-function=\"compress\""));
  EXPECT_THAT(run.dom,
              HasSubstr("<tr class=\"shrank\" data-function=\"parse_json\""));
  EXPECT_THAT(run.dom,
              HasSubstr("<tr class=\"shrank\" data-function=\"escape_html\""));
  EXPECT_THAT(run.dom, Not(HasSubstr("data-function=\"flush_logs\"")));  // same
  EXPECT_THAT(run.dom, HasSubstr("Matched 1 functions in 1 frames: 650ms"));
  ExpectPngFile(shot);
}

TEST(FlameGraphBrowserTest, SinglePageAndASearchThatMatchesNothing) {
  StackSet stacks = Stacks(FoldedProfile({
      {"main;alpha", {10, 100 * kMs}},
      {"main;beta;gamma", {5, 50 * kMs}},
  }));
  FlamePageInfo info;
  info.title = "cpu.pb.gz";
  info.unit = "nanoseconds";
  inprof::test::TempDir dir;
  std::string page =
      dir.WriteFile("flame.html", WithComputedDisplay(RenderFlameGraphPage(
                                      BuildFlameTree(stacks, nullptr), info)));
  BrowserPage run = Load(page, "search=nothing_like_this",
                         ScreenshotPath("flame_single.png"));
  ASSERT_TRUE(run.ok);
  // Issue 12: the agent UI's toolbar and hint stay hidden in a standalone
  // page (a CSS display rule used to beat their `hidden` attribute).
  EXPECT_EQ(BodyAttribute(run.dom, "data-test-ui-display"), "none");
  EXPECT_EQ(BodyAttribute(run.dom, "data-test-hint-display"), "none");
  EXPECT_THAT(run.console, Not(HasSubstr("Uncaught"))) << run.console;
  EXPECT_EQ(BodyAttribute(run.dom, "data-state"), "ready");
  EXPECT_EQ(BodyAttribute(run.dom, "data-matches"), "0");
  EXPECT_EQ(BodyAttribute(run.dom, "data-frames"), "4");
  EXPECT_THAT(run.dom, HasSubstr("data-function=\"alpha\""));
  EXPECT_THAT(run.dom, HasSubstr("data-function=\"gamma\""));
  ExpectPngFile(ScreenshotPath("flame_single.png"));
}

TEST(FlameGraphBrowserTest, HundredThousandDistinctStacksLoad) {
  // Stacks main;dA;dB;dC;dD;dE;work;compute;inner with digits of k: 100,000
  // distinct paths, 411,112 tree nodes.
  StackSet s;
  s.value_type = {"cpu", "nanoseconds"};
  for (int digit = 0; digit < 10; ++digit) {
    for (int level = 0; level < 5; ++level) {
      s.names.push_back("ns" + std::to_string(level) + "::Handler" +
                        std::to_string(digit) + "::Run()");
    }
  }
  uint32_t main_id = s.names.size();
  s.names.push_back("main");
  uint32_t tail = s.names.size();
  for (const char* n : {"work", "compute", "inner"}) s.names.push_back(n);
  std::mt19937 rng(7);
  for (int k = 0; k < 100000; ++k) {
    StackSet::Stack stack;
    stack.begin = s.frames.size();
    s.frames.push_back(main_id);
    for (int level = 0, rest = k; level < 5; ++level, rest /= 10) {
      s.frames.push_back((rest % 10) * 5 + level);
    }
    for (uint32_t t = 0; t < 3; ++t) s.frames.push_back(tail + t);
    stack.end = s.frames.size();
    stack.value = 1000000 * (1 + rng() % 50);
    s.total += stack.value;
    s.stacks.push_back(stack);
  }
  FlamePageInfo info;
  info.title = "100k stacks";
  info.unit = "nanoseconds";
  inprof::test::TempDir dir;
  FlameTree tree = BuildFlameTree(s, nullptr);
  EXPECT_GT(tree.name.size(), 400000u);
  std::string html = RenderFlameGraphPage(tree, info);
  // Compact: about 20 bytes per node.
  EXPECT_LT(html.size(), 30u * tree.name.size()) << html.size();
  std::printf("page: %zu nodes, %zu bytes\n", tree.name.size(), html.size());
  std::string page = dir.WriteFile("big.html", html);
  BrowserPage run =
      Load(page, "search=Handler7", ScreenshotPath("flame_100k.png"));
  ASSERT_TRUE(run.ok);
  EXPECT_THAT(run.console, Not(HasSubstr("Uncaught"))) << run.console;
  EXPECT_EQ(BodyAttribute(run.dom, "data-state"), "ready");
  EXPECT_EQ(BodyAttribute(run.dom, "data-frames"),
            std::to_string(tree.name.size() - 1));
  EXPECT_NE(BodyAttribute(run.dom, "data-matches"), "0");
  EXPECT_NE(BodyAttribute(run.dom, "data-drawn"), "0");
}

}  // namespace
}  // namespace inprof::report
