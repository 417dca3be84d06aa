// The README's block-profile recipe (section "Contention: mutex and block"),
// run as a user runs it (issue 12, item 9c): the demo server under its own
// load generator (scripts/demo.sh runs `demo_server --load`), and the command
// line read from README.md and handed to the real `go tool pprof` with only
// the agent's address changed. Most of the demo's block time is idle
// cpp-httplib workers waiting for a connection; the recipe must keep the
// request handlers' waits (demo::Ledger::Append on its inprof::Mutex) and
// drop the idle ones. A README edit that breaks the recipe fails here.
//
// Nothing is judged by the clock: the test waits until the profile holds
// enough waits of both kinds, looking again at a steady pace (nothing
// announces a new wait); ctest's timeout ends a run that would hang.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/profile/decode.h"
#include "agent/profile/profile.h"
#include "inprof/status.h"
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
using ::testing::Not;
// The first words of the recipe's comment in README.md.
constexpr std::string_view kRecipeComment = "# Where request handlers wait.";

constexpr std::string_view kDispatch = "httplib::Server::dispatch_request";
constexpr std::string_view kLedgerWait = "Ledger::Append";

// Waits of each kind the block profile must hold before pprof reads it.
constexpr int64_t kEnoughWaits = 10;

// --- The recipe, from README.md ----------------------------------------------

// The recipe's pprof arguments (the words after `go tool pprof`), with the
// README's agent address replaced by `agent_url`. Fails the test unless
// exactly one argument is the README's block profile URL.
std::vector<std::string> RecipeArguments(const test::ReadmeRecipe& recipe,
                                         const std::string& agent_url) {
  EXPECT_GT(recipe.words.size(), 3u) << recipe.command;
  if (recipe.words.size() <= 3) return {};
  std::vector<std::string> args(recipe.words.begin() + 3, recipe.words.end());
  int urls = 0;
  for (std::string& arg : args) {
    if (!arg.starts_with(test::kReadmeAgentUrl)) continue;
    ++urls;
    const std::string path = arg.substr(test::kReadmeAgentUrl.size());
    EXPECT_EQ(path, "/debug/pprof/block")
        << "the recipe should read the block profile: " << recipe.command;
    arg = agent_url + path;
  }
  EXPECT_EQ(urls, 1) << "one agent URL expected in: " << recipe.command;
  return args;
}

// --- The demo's block profile ------------------------------------------------

// Contentions in a block profile: those of the ledger's lock taken in a
// request handler, and all those outside request dispatch (idle workers).
struct WaitCounts {
  int64_t ledger_in_handler = 0;
  int64_t outside_dispatch = 0;
};

// Fetches and decodes the agent's block profile (with our own decoder:
// cheap enough to poll); nullopt when it cannot be fetched or decoded.
std::optional<WaitCounts> CountWaits(const std::string& agent_url) {
  httplib::Client client(agent_url);
  client.set_read_timeout(std::chrono::seconds(60));
  httplib::Result result = client.Get("/debug/pprof/block");
  if (!result || result->status != 200) return std::nullopt;
  StatusOr<internal::Profile> p = internal::DecodeProfile(result->body);
  if (!p.ok() || p->sample_types.empty()) return std::nullopt;
  std::unordered_map<uint64_t, const std::string*> function_names;
  for (const internal::Function& f : p->functions) {
    function_names[f.id] = &f.name;
  }
  std::unordered_map<uint64_t, const internal::Location*> locations;
  for (const internal::Location& l : p->locations) locations[l.id] = &l;
  WaitCounts counts;
  for (const internal::Sample& s : p->samples) {
    bool dispatch = false;
    bool ledger = false;
    for (uint64_t id : s.location_ids) {
      auto location = locations.find(id);
      if (location == locations.end()) continue;
      for (const internal::Line& line : location->second->lines) {
        auto name = function_names.find(line.function_id);
        if (name == function_names.end()) continue;
        dispatch |= name->second->find(kDispatch) != std::string::npos;
        ledger |= name->second->find(kLedgerWait) != std::string::npos;
      }
    }
    const int64_t contentions = s.values.at(0);  // sample type "contentions"
    if (dispatch && ledger) counts.ledger_in_handler += contentions;
    if (!dispatch) counts.outside_dispatch += contentions;
  }
  return counts;
}

// --- go tool pprof -top output -----------------------------------------------

// The first row whose function name contains `name_part`; nullptr if none.
const test::PprofTopRow* FindRow(const test::PprofTop& top,
                                 std::string_view name_part) {
  for (const test::PprofTopRow& r : top.rows) {
    if (r.name.find(name_part) != std::string::npos) return &r;
  }
  return nullptr;
}

// --- The test ----------------------------------------------------------------

TEST(BlockRecipeTest, Issue12_ReadmeRecipeKeepsHandlerWaitsAndDropsIdle) {
  ASSERT_FALSE(test::RequireGo().empty());
  test::ReadmeRecipes found =
      test::ReadRecipeAfterComment(INPROF_README, kRecipeComment);
  ASSERT_TRUE(found.ok()) << found.error;
  ASSERT_EQ(found.recipes.size(), 1u);
  const test::ReadmeRecipe& recipe = found.recipes.front();
  ASSERT_GE(recipe.words.size(), 3u) << recipe.command;
  ASSERT_EQ(
      std::vector<std::string>(recipe.words.begin(), recipe.words.begin() + 3),
      (std::vector<std::string>{"go", "tool", "pprof"}))
      << recipe.command;

  // The demo as a user runs it, both ports picked by the system. --duration
  // only ends a demo this test failed to stop.
  test::TempDir dir;
  const std::string log_path = dir.Path("demo.log");
  test::LoadedDemo demo(INPROF_DEMO_SERVER, log_path);
  const std::string agent_url = demo.agent_url();
  ASSERT_FALSE(agent_url.empty());

  // Each of the load generator's threads (two by default) picks every
  // request at random, and half of all requests take the ledger's lock
  // (/ledger to append, /audit to audit), so handlers meet on it at random:
  // wait until it has made handlers wait, and idle workers have been woken
  // (a wait is recorded when it ends).
  WaitCounts counts;
  while (counts.ledger_in_handler < kEnoughWaits ||
         counts.outside_dispatch < kEnoughWaits) {
    ASSERT_TRUE(demo.Running())
        << "the demo ended before its block profile held " << kEnoughWaits
        << " waits of each kind: ledger in a handler "
        << counts.ledger_in_handler << ", outside dispatch "
        << counts.outside_dispatch << "; demo output:\n"
        << test::ReadFile(log_path).value_or("(none)");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // pace
    counts = CountWaits(agent_url).value_or(counts);
  }

  // (a) Without a filter the idle workers' wait is the bulk: the recipe is
  // needed. Its frame is the top entry, outside request dispatch.
  test::CommandResult plain =
      test::GoToolPprof({"-top", agent_url + "/debug/pprof/block"});
  ASSERT_EQ(plain.exit_code, 0) << plain.Describe();
  const test::PprofTop unfiltered = test::ParsePprofTop(plain.out);
  ASSERT_FALSE(unfiltered.rows.empty()) << plain.out;
  const test::PprofTopRow idle = unfiltered.rows.front();
  EXPECT_GT(idle.flat_percent, 50.0) << plain.out;
  EXPECT_THAT(idle.name, Not(HasSubstr(kDispatch))) << plain.out;
  EXPECT_THAT(idle.name, Not(HasSubstr(kLedgerWait))) << plain.out;
  // The README names that frame; if it does, it must be the one we see.
  test::RegexGroups named;
  const test::Regex library_frame(R"(libcpp-httplib\S*\+0x[0-9a-f]+)");
  if (library_frame.Search(recipe.comment, &named)) {
    EXPECT_EQ(named[0], idle.name)
        << "README.md names the idle workers' frame " << named[0]
        << " but the profile shows " << idle.name << ":\n"
        << plain.out;
  }

  // (b) The README's command, as written, with the agent's address.
  const std::vector<std::string> args = RecipeArguments(recipe, agent_url);
  ASSERT_FALSE(args.empty());
  test::CommandResult run = test::GoToolPprof(args);
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_THAT(run.err, Not(HasSubstr("arning"))) << run.Describe();
  const test::PprofTop focused = test::ParsePprofTop(run.out);
  SCOPED_TRACE(recipe.command + "\n" + run.out + "\nunfiltered:\n" + plain.out);
  // Something is left, and it is a minority of the whole profile.
  ASSERT_GT(test::PprofMagnitude(focused.shown), 0.0);
  EXPECT_GT(focused.shown_percent, 0.0);
  EXPECT_LT(focused.shown_percent, 50.0);
  // The handler's wait on the ledger's lock, under request dispatch.
  const test::PprofTopRow* ledger = FindRow(focused, kLedgerWait);
  ASSERT_NE(ledger, nullptr);
  EXPECT_GT(test::PprofMagnitude(ledger->cum), 0.0);
  const test::PprofTopRow* dispatch = FindRow(focused, kDispatch);
  ASSERT_NE(dispatch, nullptr);
  EXPECT_GT(test::PprofMagnitude(dispatch->cum), 0.0);
  // And not the idle workers' wait. Their function (the thread pool's
  // worker loop, unnamed in Debian's library and so named by its start) may
  // stay as the caller of request dispatch, since it runs both, but nothing
  // in it waits once the recipe has dropped the idle stacks.
  for (const test::PprofTopRow& r : focused.rows) {
    if (r.name == idle.name) {
      EXPECT_EQ(test::PprofMagnitude(r.flat), 0.0) << r.name;
    }
  }
}

}  // namespace
}  // namespace inprof::e2e
