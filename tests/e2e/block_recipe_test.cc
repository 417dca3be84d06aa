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
#include <cstdlib>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/profile/decode.h"
#include "agent/profile/profile.h"
#include "inprof/status.h"
#include "tests/support/go_tool.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
// The first words of the recipe's comment in README.md, and the agent
// address the README's commands use.
constexpr std::string_view kRecipeComment = "# Where request handlers wait.";
constexpr std::string_view kReadmeAddress = "http://127.0.0.1:6060";

constexpr std::string_view kDispatch = "httplib::Server::dispatch_request";
constexpr std::string_view kLedgerWait = "Ledger::Append";

// Waits of each kind the block profile must hold before pprof reads it.
constexpr int64_t kEnoughWaits = 10;

// --- The recipe, from README.md ----------------------------------------------

struct Recipe {
  std::string comment;             // the comment lines above the command
  std::string command;             // the command line as written
  std::vector<std::string> words;  // the command split as sh splits it
};

// Splits `line` into words as sh does for what the README's commands use:
// blanks separate words, '...' and "..." quote, and a '#' that starts a word
// starts a comment. Returns nullopt on an unterminated quote or a character
// whose meaning this splitter does not model ($ ` \ outside single quotes).
std::optional<std::vector<std::string>> SplitShellWords(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == '\'' || c == '"') {
      const size_t close = line.find(c, i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view quoted = line.substr(i + 1, close - i - 1);
      if (c == '"' && quoted.find_first_of("$`\\") != std::string_view::npos) {
        return std::nullopt;
      }
      word += quoted;
      in_word = true;
      i = close;
    } else if (c == '$' || c == '`' || c == '\\') {
      return std::nullopt;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// Returns the recipe: the comment block that starts with kRecipeComment and
// the first `go tool pprof` line after it; kNotFound when README.md has no
// such block, kInvalidArgument when the command cannot be split.
StatusOr<Recipe> ReadRecipe(const std::string& readme_path) {
  std::optional<std::string> text = test::ReadFile(readme_path);
  if (!text) return NotFoundError(readme_path + ": cannot be read");
  std::istringstream in(*text);
  std::string line;
  bool in_comment = false;
  Recipe recipe;
  while (std::getline(in, line)) {
    if (!in_comment) {
      in_comment = line.starts_with(kRecipeComment);
      if (!in_comment) continue;
    }
    if (line.starts_with("#")) {
      recipe.comment += line + "\n";
      continue;
    }
    if (!line.starts_with("go tool pprof ")) {
      return NotFoundError(readme_path + ": the line after \"" +
                           std::string(kRecipeComment) +
                           "...\" is not a go tool pprof command: " + line);
    }
    recipe.command = line;
    std::optional<std::vector<std::string>> words = SplitShellWords(line);
    if (!words) {
      return InvalidArgumentError("cannot split the recipe as sh would: " +
                                  line);
    }
    recipe.words = std::move(*words);
    return recipe;
  }
  return NotFoundError(readme_path + ": no comment starting \"" +
                       std::string(kRecipeComment) + "\"");
}

// The recipe's pprof arguments (the words after `go tool pprof`), with the
// README's agent address replaced by `agent_url`. Fails the test unless
// exactly one argument is the README's block profile URL.
std::vector<std::string> RecipeArguments(const Recipe& recipe,
                                         const std::string& agent_url) {
  EXPECT_GT(recipe.words.size(), 3u) << recipe.command;
  if (recipe.words.size() <= 3) return {};
  std::vector<std::string> args(recipe.words.begin() + 3, recipe.words.end());
  int urls = 0;
  for (std::string& arg : args) {
    if (!arg.starts_with(kReadmeAddress)) continue;
    ++urls;
    EXPECT_EQ(arg.substr(kReadmeAddress.size()), "/debug/pprof/block")
        << "the recipe should read the block profile: " << recipe.command;
    arg = agent_url + arg.substr(kReadmeAddress.size());
  }
  EXPECT_EQ(urls, 1) << "one agent URL expected in: " << recipe.command;
  return args;
}

// --- The demo server ---------------------------------------------------------

// Waits until the demo prints the agent's address ("inprof agent:
// http://127.0.0.1:N/debug/pprof/") and returns "http://127.0.0.1:N"; returns
// "" if the demo exits first.
std::string WaitForAgentUrl(test::BackgroundProcess& demo,
                            const std::string& log_path) {
  const std::regex agent_line(
      R"(inprof agent: (http://127\.0\.0\.1:[0-9]+)/debug/pprof/)");
  for (;;) {
    std::smatch m;
    std::string log = test::ReadFile(log_path).value_or("");
    if (std::regex_search(log, m, agent_line)) return m[1].str();
    if (!demo.Running()) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // pace
  }
}

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

struct TopRow {
  std::string flat;  // as printed, with its unit ("810.21ms", "0")
  double flat_percent = 0;
  std::string cum;
  std::string name;
};

struct Top {
  std::string shown;          // "Showing nodes accounting for <shown>, ..."
  double shown_percent = -1;  // "..., <shown_percent>% of <total> total"
  std::vector<TopRow> rows;   // in pprof's order (by flat)
};

// Parses `go tool pprof -top` output; shown_percent stays -1 without the
// "Showing nodes" line.
Top ParseTop(const std::string& out) {
  const std::regex showing(
      R"(Showing nodes accounting for (\S+), ([0-9.]+)% of \S+ total)");
  const std::regex header(R"(\s*flat\s+flat%\s+sum%\s+cum\s+cum%\s*)");
  const std::regex row(
      R"(\s*(\S+)\s+([0-9.]+)%\s+[0-9.]+%\s+(\S+)\s+[0-9.]+%\s+(.+))");
  Top top;
  std::istringstream in(out);
  std::string line;
  bool rows = false;
  while (std::getline(in, line)) {
    std::smatch m;
    if (rows && std::regex_match(line, m, row)) {
      top.rows.push_back(
          {m[1].str(), std::stod(m[2].str()), m[3].str(), m[4].str()});
    } else if (std::regex_search(line, m, showing)) {
      top.shown = m[1].str();
      top.shown_percent = std::stod(m[2].str());
    } else if (std::regex_match(line, header)) {
      rows = true;
    }
  }
  return top;
}

// The number in a pprof value ("810.21ms" -> 810.21, "0" -> 0).
double Magnitude(const std::string& value) {
  return std::strtod(value.c_str(), nullptr);
}

const TopRow* FindRow(const Top& top, std::string_view name_part) {
  for (const TopRow& r : top.rows) {
    if (r.name.find(name_part) != std::string::npos) return &r;
  }
  return nullptr;
}

// --- The test ----------------------------------------------------------------

TEST(BlockRecipeTest, Issue12_ReadmeRecipeKeepsHandlerWaitsAndDropsIdle) {
  ASSERT_FALSE(test::RequireGo().empty());
  StatusOr<Recipe> recipe = ReadRecipe(INPROF_README);
  ASSERT_TRUE(recipe.ok()) << recipe.status().ToString();
  ASSERT_GE(recipe->words.size(), 3u) << recipe->command;
  ASSERT_EQ(std::vector<std::string>(recipe->words.begin(),
                                     recipe->words.begin() + 3),
            (std::vector<std::string>{"go", "tool", "pprof"}))
      << recipe->command;

  // The demo as a user runs it, both ports picked by the system. --duration
  // only ends a demo this test failed to stop.
  test::TempDir dir;
  const std::string log_path = dir.Path("demo.log");
  test::BackgroundProcess demo(
      {"env", "INPROF_ADDR=127.0.0.1:0", INPROF_DEMO_SERVER, "--port=0",
       "--load", "--duration=900"},
      log_path);
  ASSERT_TRUE(demo.started());
  const std::string agent_url = WaitForAgentUrl(demo, log_path);
  ASSERT_FALSE(agent_url.empty())
      << "the demo did not report its agent's address; its output:\n"
      << test::ReadFile(log_path).value_or("(none)");

  // The load generator sends every other request to /ledger from two
  // threads: wait until the ledger's lock has made handlers wait, and idle
  // workers have been woken (a wait is recorded when it ends).
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
  const Top unfiltered = ParseTop(plain.out);
  ASSERT_FALSE(unfiltered.rows.empty()) << plain.out;
  const TopRow idle = unfiltered.rows.front();
  EXPECT_GT(idle.flat_percent, 50.0) << plain.out;
  EXPECT_THAT(idle.name, Not(HasSubstr(kDispatch))) << plain.out;
  EXPECT_THAT(idle.name, Not(HasSubstr(kLedgerWait))) << plain.out;
  // The README names that frame; if it does, it must be the one we see.
  std::smatch named;
  const std::regex library_frame(R"(libcpp-httplib\S*\+0x[0-9a-f]+)");
  if (std::regex_search(recipe->comment, named, library_frame)) {
    EXPECT_EQ(named.str(), idle.name)
        << "README.md names the idle workers' frame " << named.str()
        << " but the profile shows " << idle.name << ":\n"
        << plain.out;
  }

  // (b) The README's command, as written, with the agent's address.
  const std::vector<std::string> args = RecipeArguments(*recipe, agent_url);
  ASSERT_FALSE(args.empty());
  test::CommandResult run = test::GoToolPprof(args);
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_THAT(run.err, Not(HasSubstr("arning"))) << run.Describe();
  const Top focused = ParseTop(run.out);
  SCOPED_TRACE(recipe->command + "\n" + run.out + "\nunfiltered:\n" +
               plain.out);
  // Something is left, and it is a minority of the whole profile.
  ASSERT_GT(Magnitude(focused.shown), 0.0);
  EXPECT_GT(focused.shown_percent, 0.0);
  EXPECT_LT(focused.shown_percent, 50.0);
  // The handler's wait on the ledger's lock, under request dispatch.
  const TopRow* ledger = FindRow(focused, kLedgerWait);
  ASSERT_NE(ledger, nullptr);
  EXPECT_GT(Magnitude(ledger->cum), 0.0);
  const TopRow* dispatch = FindRow(focused, kDispatch);
  ASSERT_NE(dispatch, nullptr);
  EXPECT_GT(Magnitude(dispatch->cum), 0.0);
  // And not the idle workers' wait.
  for (const TopRow& r : focused.rows) EXPECT_NE(r.name, idle.name);
}

}  // namespace
}  // namespace inprof::e2e
