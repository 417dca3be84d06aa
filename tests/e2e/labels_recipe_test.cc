// The README's label recipes (section "Labels: which endpoint did it"; issue
// 13, items 4 and 6), run as a user runs them: the demo server under its own
// load generator (scripts/demo.sh runs `demo_server --load`), each command
// line read from README.md and handed to the real `go tool pprof` with only
// the agent's address changed. The demo runs each handler in a RequestScope
// named after its route; through pprof's -tagfocus, -tagignore and -tags,
// every profile (CPU, heap, allocs, mutex, block) must tell the endpoints
// apart: focused on one endpoint, -top shows that endpoint's functions and
// none of the others'. A README edit that breaks a recipe fails here, and so
// does a demo (or agent) whose samples lose their labels.
//
// The CPU recipes read profiles this test took (?seconds=2 windows, as many
// as it takes) instead of the README's ?seconds=10 URL: one command then
// judges enough samples of both endpoints, however busy the machine. The
// other profiles are cumulative and are read at their URLs.
//
// Nothing is judged by the clock: the test waits until each profile holds
// enough samples of the endpoints it checks, counted by their functions (so
// that missing labels fail the checks instead of stalling the wait), looking
// again at a steady pace; ctest's timeout ends a run that would hang.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
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

// The README section's heading.
constexpr std::string_view kSectionHeading = "### Labels";
constexpr std::string_view kCpuPath = "/debug/pprof/profile";

// The demo's endpoints this test tells apart, each by a function that only
// its requests run (examples/demo_server/work.cc). demo::CountPrimes also
// names demo::CountPrimesBetween, which runs on the worker pool's threads
// under AdoptRequest.
struct Endpoint {
  std::string_view route;
  std::string_view marker;
};
constexpr std::array<Endpoint, 5> kEndpoints = {{
    {"GET /primes", "demo::CountPrimes"},
    {"GET /sort", "demo::SortRandom"},
    {"GET /cache", "SessionCache::Put"},
    {"GET /ledger", "Ledger::Append"},
    {"GET /audit", "Ledger::Audit"},
}};

// Each profile, the sample type counted while waiting for data, and the two
// endpoints it must separate (each the other's partner).
struct ProfileKind {
  std::string_view path;
  std::string_view count_type;
  std::array<std::string_view, 2> pair;
};
constexpr std::array<ProfileKind, 5> kProfiles = {{
    {kCpuPath, "samples", {"GET /primes", "GET /ledger"}},
    {"/debug/pprof/heap", "inuse_objects", {"GET /cache", "GET /ledger"}},
    {"/debug/pprof/allocs", "alloc_objects", {"GET /cache", "GET /ledger"}},
    {"/debug/pprof/mutex", "contentions", {"GET /audit", "GET /ledger"}},
    {"/debug/pprof/block", "contentions", {"GET /ledger", "GET /audit"}},
}};

// What each endpoint of a pair must weigh in a profile (in its count_type)
// before pprof reads it.
constexpr int64_t kEnough = 10;
// CPU window of each profile this test takes.
constexpr int kCpuSeconds = 2;

std::string_view MarkerOf(std::string_view route) {
  for (const Endpoint& e : kEndpoints) {
    if (e.route == route) return e.marker;
  }
  return {};
}

const ProfileKind* FindProfile(std::string_view path) {
  for (const ProfileKind& p : kProfiles) {
    if (p.path == path) return &p;
  }
  return nullptr;
}

std::string_view PartnerOf(const ProfileKind& profile, std::string_view route) {
  return profile.pair[0] == route ? profile.pair[1] : profile.pair[0];
}

// --- The recipes, from README.md ---------------------------------------------

struct Recipe {
  std::string command;            // the line as written
  std::vector<std::string> args;  // the words after `go tool pprof`
  size_t url_arg = 0;             // args[url_arg] is the agent URL
  const ProfileKind* profile = nullptr;
  std::string focus;   // -tagfocus value, "" if none
  std::string ignore;  // -tagignore value, "" if none
  bool tags = false;   // -tags
  bool web = false;    // -http=...: serves a UI, not run here
};

// Fills the recipe's flags and its profile from its words; kInvalidArgument
// names what is wrong.
Status ClassifyRecipe(Recipe& recipe) {
  int urls = 0;
  for (size_t i = 0; i < recipe.args.size(); ++i) {
    const std::string& arg = recipe.args[i];
    auto value_of =
        [&arg](std::string_view flag) -> std::optional<std::string> {
      for (std::string_view dashes : {"-", "--"}) {
        const std::string prefix =
            std::string(dashes) + std::string(flag) + "=";
        if (arg.starts_with(prefix)) return arg.substr(prefix.size());
      }
      return std::nullopt;
    };
    if (arg.starts_with(test::kReadmeAgentUrl)) {
      ++urls;
      recipe.url_arg = i;
      const std::string rest = arg.substr(test::kReadmeAgentUrl.size());
      const std::string path = rest.substr(0, rest.find('?'));
      recipe.profile = FindProfile(path);
      if (recipe.profile == nullptr) {
        return InvalidArgumentError("not a labeled profile: " + arg);
      }
      if (path != rest &&
          !(path == kCpuPath && test::Regex(R"(\?seconds=[1-9][0-9]*)")
                                    .Matches(rest.substr(path.size())))) {
        return InvalidArgumentError("unexpected query in " + arg);
      }
    } else if (auto focus = value_of("tagfocus")) {
      recipe.focus = *focus;
    } else if (auto ignore = value_of("tagignore")) {
      recipe.ignore = *ignore;
    } else if (arg == "-tags" || arg == "--tags") {
      recipe.tags = true;
    } else if (value_of("http")) {
      recipe.web = true;
    } else if (!arg.starts_with("-")) {
      return InvalidArgumentError("neither a flag nor the agent's URL: " + arg +
                                  " in: " + recipe.command);
    }
  }
  if (urls != 1) {
    return InvalidArgumentError("one agent URL expected in: " + recipe.command);
  }
  return OkStatus();
}

// Returns every `go tool pprof` line of README.md's Labels section, split
// and classified; kInvalidArgument, naming the reason, without the section
// or for a line that cannot be split or classified.
StatusOr<std::vector<Recipe>> ReadRecipes(const std::string& readme_path) {
  test::ReadmeRecipes found =
      test::ReadRecipesInSection(readme_path, kSectionHeading);
  if (!found.ok()) return InvalidArgumentError(found.error);
  std::vector<Recipe> recipes;
  for (const test::ReadmeRecipe& readme : found.recipes) {
    Recipe recipe;
    recipe.command = readme.command;
    recipe.args.assign(readme.words.begin() + 3, readme.words.end());
    if (Status s = ClassifyRecipe(recipe); !s.ok()) return s;
    recipes.push_back(std::move(recipe));
  }
  return recipes;
}

// The demo routes a -tagfocus or -tagignore value "endpoint=REGEXP" selects
// (pprof matches the regexp anywhere in the value); kInvalidArgument for
// another key or a bad regexp.
StatusOr<std::vector<std::string_view>> SelectedRoutes(
    const std::string& value) {
  constexpr std::string_view kKey = "endpoint=";
  if (!value.starts_with(kKey)) {
    return InvalidArgumentError("expected endpoint=REGEXP, got " + value);
  }
  std::optional<test::Regex> rx;
  try {
    rx.emplace(value.substr(kKey.size()));
  } catch (const std::runtime_error&) {  // std::regex_error
    return InvalidArgumentError("bad regexp in " + value);
  }
  std::vector<std::string_view> routes;
  for (const Endpoint& e : kEndpoints) {
    if (rx->Search(e.route)) routes.push_back(e.route);
  }
  return routes;
}

// --- The demo server ---------------------------------------------------------

// Fetches `path_and_query` from the agent; nullopt unless it answers 200.
std::optional<std::string> Fetch(const std::string& agent_url,
                                 const std::string& path_and_query) {
  httplib::Client client(agent_url);
  client.set_read_timeout(std::chrono::seconds(120));
  httplib::Result result = client.Get(path_and_query.c_str());
  if (!result || result->status != 200) return std::nullopt;
  return result->body;
}

// Weight, in sample type `type`, of the samples whose stack has a function
// whose name contains each of `markers` (one total per marker); nullopt when
// `body` is no profile or has no such type. Uses our own decoder: cheap
// enough to poll, and blind to labels.
std::optional<std::vector<int64_t>> WeighMarkers(
    const std::string& body, std::string_view type,
    const std::vector<std::string_view>& markers) {
  StatusOr<internal::Profile> p = internal::DecodeProfile(body);
  if (!p.ok()) return std::nullopt;
  size_t index = p->sample_types.size();
  for (size_t i = 0; i < p->sample_types.size(); ++i) {
    if (p->sample_types[i].type == type) index = i;
  }
  if (index == p->sample_types.size()) return std::nullopt;
  std::unordered_map<uint64_t, const std::string*> names;
  for (const internal::Function& f : p->functions) names[f.id] = &f.name;
  std::unordered_map<uint64_t, const internal::Location*> locations;
  for (const internal::Location& l : p->locations) locations[l.id] = &l;
  std::vector<int64_t> weights(markers.size(), 0);
  for (const internal::Sample& s : p->samples) {
    for (size_t m = 0; m < markers.size(); ++m) {
      bool found = false;
      for (uint64_t id : s.location_ids) {
        auto location = locations.find(id);
        if (location == locations.end()) continue;
        for (const internal::Line& line : location->second->lines) {
          auto name = names.find(line.function_id);
          found |= name != names.end() &&
                   name->second->find(markers[m]) != std::string::npos;
        }
      }
      if (found) weights[m] += s.values.at(index);
    }
  }
  return weights;
}

std::vector<std::string_view> PairMarkers(const ProfileKind& profile) {
  return {MarkerOf(profile.pair[0]), MarkerOf(profile.pair[1])};
}

bool Enough(const std::vector<int64_t>& weights) {
  for (int64_t w : weights) {
    if (w < kEnough) return false;
  }
  return true;
}

// --- go tool pprof -top output -----------------------------------------------

// True when a row of `top` names a function containing `marker`, with a
// cumulative value above zero.
bool Shows(const test::PprofTop& top, std::string_view marker) {
  for (const test::PprofTopRow& r : top.rows) {
    if (r.name.find(marker) != std::string::npos &&
        test::PprofMagnitude(r.cum) > 0) {
      return true;
    }
  }
  return false;
}

// Runs go tool pprof with `args` and returns its -top table; records a
// failure (and returns an empty table) when pprof fails or warns.
test::PprofTop RunTop(const std::vector<std::string>& args) {
  test::CommandResult run = test::GoToolPprof(args);
  EXPECT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_THAT(run.err, Not(HasSubstr("matched no samples"))) << run.Describe();
  if (run.exit_code != 0) return {};
  return test::ParsePprofTop(run.out);
}

// --- Checking one recipe -----------------------------------------------------

// The recipe's arguments with its URL replaced by `sources` (the agent's
// URL, or profile files).
std::vector<std::string> WithSources(const Recipe& recipe,
                                     const std::vector<std::string>& sources) {
  std::vector<std::string> args;
  for (size_t i = 0; i < recipe.args.size(); ++i) {
    if (i == recipe.url_arg) {
      args.insert(args.end(), sources.begin(), sources.end());
    } else {
      args.push_back(recipe.args[i]);
    }
  }
  return args;
}

// -tagfocus on one endpoint of the profile's pair: the endpoint's function
// and no other endpoint's; then the same command focused on its partner.
void CheckFocus(const Recipe& recipe, const std::vector<std::string>& sources) {
  StatusOr<std::vector<std::string_view>> selected =
      SelectedRoutes(recipe.focus);
  ASSERT_TRUE(selected.ok()) << selected.status().ToString();
  const ProfileKind& profile = *recipe.profile;
  ASSERT_EQ(selected->size(), 1u)
      << "the recipe should focus on one endpoint, " << profile.pair[0]
      << " or " << profile.pair[1];
  const std::string_view focused = selected->front();
  ASSERT_TRUE(focused == profile.pair[0] || focused == profile.pair[1])
      << "this test checks " << profile.path << " on " << profile.pair[0]
      << " and " << profile.pair[1] << ", not " << focused;
  // As written, then with the partner's route as the value.
  const std::string_view partner = PartnerOf(profile, focused);
  std::vector<std::string> mirrored = WithSources(recipe, sources);
  for (std::string& arg : mirrored) {
    if (arg.find("tagfocus=") != std::string::npos) {
      arg = "-tagfocus=endpoint=" + std::string(partner);
    }
  }
  const std::pair<std::string_view, std::vector<std::string>> runs[] = {
      {focused, WithSources(recipe, sources)}, {partner, mirrored}};
  for (const auto& [route, args] : runs) {
    SCOPED_TRACE("focused on " + std::string(route));
    const test::PprofTop top = RunTop(args);
    EXPECT_TRUE(Shows(top, MarkerOf(route)));
    for (const Endpoint& other : kEndpoints) {
      if (other.route == route) continue;
      EXPECT_FALSE(Shows(top, other.marker)) << other.route;
    }
  }
}

// -tagignore: no function of an ignored endpoint; those of the pair's other
// endpoints, if any; and something left.
void CheckIgnore(const Recipe& recipe,
                 const std::vector<std::string>& sources) {
  StatusOr<std::vector<std::string_view>> ignored =
      SelectedRoutes(recipe.ignore);
  ASSERT_TRUE(ignored.ok()) << ignored.status().ToString();
  const test::PprofTop top = RunTop(WithSources(recipe, sources));
  EXPECT_GT(test::PprofMagnitude(top.shown), 0.0);
  for (const Endpoint& e : kEndpoints) {
    const bool is_ignored =
        std::find(ignored->begin(), ignored->end(), e.route) != ignored->end();
    if (is_ignored) {
      EXPECT_FALSE(Shows(top, e.marker)) << e.route;
    } else if (e.route == recipe.profile->pair[0] ||
               e.route == recipe.profile->pair[1]) {
      EXPECT_TRUE(Shows(top, e.marker)) << e.route;
    }
  }
}

// -tags: the endpoint key, with both endpoints of the pair among its values.
void CheckTags(const Recipe& recipe, const std::vector<std::string>& sources) {
  test::CommandResult run = test::GoToolPprof(WithSources(recipe, sources));
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_THAT(run.out, HasSubstr("endpoint: Total"));
  for (std::string_view route : recipe.profile->pair) {
    EXPECT_THAT(run.out, HasSubstr("): " + std::string(route)));
  }
}

// --- The waits ---------------------------------------------------------------

// Takes CPU profiles of kCpuSeconds into `dir` until, together, they hold
// kEnough samples of each endpoint of the CPU pair; returns their paths.
std::vector<std::string> TakeCpuProfiles(test::BackgroundProcess& demo,
                                         const std::string& agent_url,
                                         const test::TempDir& dir) {
  const ProfileKind& cpu = *FindProfile(kCpuPath);
  std::vector<int64_t> total(2, 0);
  std::vector<std::string> files;
  while (!Enough(total)) {
    EXPECT_TRUE(demo.Running());
    if (!demo.Running()) return {};
    std::optional<std::string> body =
        Fetch(agent_url, std::string(kCpuPath) +
                             "?seconds=" + std::to_string(kCpuSeconds));
    std::optional<std::vector<int64_t>> w;
    if (body) w = WeighMarkers(*body, cpu.count_type, PairMarkers(cpu));
    if (!w) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));  // pace
      continue;
    }
    for (size_t i = 0; i < total.size(); ++i) total[i] += (*w)[i];
    files.push_back(
        dir.WriteFile("cpu-" + std::to_string(files.size()) + ".pb.gz", *body));
  }
  return files;
}

// Waits until each cumulative profile holds kEnough of each endpoint of its
// pair. Returns false (with a failure recorded) if the demo ends first.
bool WaitForCumulativeProfiles(test::BackgroundProcess& demo,
                               const std::string& agent_url) {
  for (const ProfileKind& profile : kProfiles) {
    if (profile.path == kCpuPath) continue;
    std::vector<int64_t> weights(2, 0);
    while (!Enough(weights)) {
      EXPECT_TRUE(demo.Running())
          << "the demo ended before " << profile.path << " held " << kEnough
          << " of " << profile.pair[0] << " and " << profile.pair[1];
      if (!demo.Running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));  // pace
      std::optional<std::string> body =
          Fetch(agent_url, std::string(profile.path));
      if (!body) continue;
      weights = WeighMarkers(*body, profile.count_type, PairMarkers(profile))
                    .value_or(weights);
    }
  }
  return true;
}

// --- ?debug=1 ---------------------------------------------------------------

// Every "# labels:" line follows a " @ " addresses line, and the labels of
// each of `routes` appear.
void CheckLegacyLabels(const std::string& agent_url, std::string_view path,
                       const std::array<std::string_view, 2>& routes) {
  SCOPED_TRACE(std::string(path) + "?debug=1");
  std::optional<std::string> text =
      Fetch(agent_url, std::string(path) + "?debug=1");
  ASSERT_TRUE(text.has_value());
  std::istringstream in(*text);
  std::string line;
  std::string previous;
  int labels = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("# labels: ")) {
      ++labels;
      EXPECT_THAT(previous, HasSubstr(" @ 0x")) << line;
    }
    previous = line;
  }
  EXPECT_GT(labels, 0);
  for (std::string_view route : routes) {
    EXPECT_THAT(*text, HasSubstr("# labels: {\"endpoint\":\"" +
                                 std::string(route) + "\"}"));
  }
}

// --- The tests ---------------------------------------------------------------

TEST(LabelsRecipeTest, Issue13_ReadmeHasAFocusRecipeForEveryProfile) {
  StatusOr<std::vector<Recipe>> recipes = ReadRecipes(INPROF_README);
  ASSERT_TRUE(recipes.ok()) << recipes.status().ToString();
  for (const ProfileKind& profile : kProfiles) {
    int focus = 0;
    for (const Recipe& r : *recipes) {
      if (r.profile == &profile && !r.focus.empty() && !r.web) ++focus;
    }
    EXPECT_GT(focus, 0) << "README.md's Labels section has no -tagfocus "
                           "recipe for "
                        << profile.path;
  }
  int tags = 0;
  for (const Recipe& r : *recipes) tags += r.tags ? 1 : 0;
  EXPECT_GT(tags, 0) << "no -tags recipe";
}

TEST(LabelsRecipeTest, Issue13_ReadmeRecipesSeparateTheDemosEndpoints) {
  ASSERT_FALSE(test::RequireGo().empty());
  StatusOr<std::vector<Recipe>> recipes = ReadRecipes(INPROF_README);
  ASSERT_TRUE(recipes.ok()) << recipes.status().ToString();

  // The demo as a user runs it, both ports picked by the system. Denser
  // heap sampling and every contended unlock recorded only make the data
  // arrive sooner; --duration only ends a demo this test failed to stop.
  test::TempDir dir;
  const std::string log_path = dir.Path("demo.log");
  test::BackgroundProcess demo(
      {"env", "INPROF_ADDR=127.0.0.1:0", "INPROF_HEAP_RATE=65536",
       "INPROF_MUTEX_FRACTION=1", INPROF_DEMO_SERVER, "--port=0", "--load",
       "--duration=900"},
      log_path);
  ASSERT_TRUE(demo.started());
  const std::string agent_url = test::WaitForAgentUrl(demo, log_path);
  ASSERT_FALSE(agent_url.empty());

  const std::vector<std::string> cpu_files =
      TakeCpuProfiles(demo, agent_url, dir);
  ASSERT_FALSE(cpu_files.empty());
  ASSERT_TRUE(WaitForCumulativeProfiles(demo, agent_url))
      << test::ReadFile(log_path).value_or("(none)");

  for (const Recipe& recipe : *recipes) {
    if (recipe.web) continue;
    SCOPED_TRACE(recipe.command);
    const std::vector<std::string> sources =
        recipe.profile->path == kCpuPath
            ? cpu_files
            : std::vector<std::string>{agent_url +
                                       std::string(recipe.profile->path)};
    if (!recipe.focus.empty()) CheckFocus(recipe, sources);
    if (!recipe.ignore.empty()) CheckIgnore(recipe, sources);
    if (recipe.tags) CheckTags(recipe, sources);
  }

  CheckLegacyLabels(agent_url, "/debug/pprof/heap",
                    FindProfile("/debug/pprof/heap")->pair);
  CheckLegacyLabels(agent_url, "/debug/pprof/mutex",
                    FindProfile("/debug/pprof/mutex")->pair);
}

}  // namespace
}  // namespace inprof::e2e
