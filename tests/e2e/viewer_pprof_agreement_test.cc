// inprof-view's numbers are go tool pprof's: for every function, flat and cum
// of `inprof-view top` equal `go tool pprof -top`'s, and the changes of
// `inprof-view diff BASE NEW` equal `go tool pprof -top -diff_base=BASE NEW`'s
// (pprof-spec.md §3.9 recipe: explicit sample index, fixed unit, no
// trimming, no symbolization), on profiles written by Go's runtime/pprof and
// by this agent. Requires the Go toolchain (fails without it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/profile/encode.h"
#include "tests/e2e/busy_work.h"
#include "tests/support/go_tool.h"
#include "tests/support/regex.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_data.h"
#include "tests/viewer/profile_builder.h"

namespace inprof::e2e {
namespace {

using test::CommandResult;
using test::RunCommand;
using test::TempDir;

struct FlatCum {
  int64_t flat = 0;
  int64_t cum = 0;
  bool operator==(const FlatCum&) const = default;
};
using Rows = std::map<std::string, FlatCum>;

std::ostream& operator<<(std::ostream& os, const FlatCum& v) {
  return os << "{flat " << v.flat << ", cum " << v.cum << "}";
}

// "13107201B", "-20000000ns", "42", "0" -> the number.
int64_t PprofValue(const std::string& text) {
  size_t end = text.find_first_not_of("-0123456789.");
  return std::llround(std::stod(text.substr(0, end)));
}

// The rows of `go tool pprof -top` output, by function name.
Rows ParsePprofTop(const std::string& out) {
  static const test::Regex row(
      R"(^\s*(-?[0-9.]+[a-zA-Z]*)\s+[0-9.e+-]+%\s+[0-9.e+-]+%\s+)"
      R"((-?[0-9.]+[a-zA-Z]*)\s+[0-9.e+-]+%\s+(.*)$)");
  Rows rows;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    test::RegexGroups m;
    if (!row.Matches(line, &m)) continue;
    std::string name = m[3];
    for (const char* suffix : {" (inline)", " (partial-inline)"}) {
      if (name.ends_with(suffix)) name.resize(name.size() - strlen(suffix));
    }
    rows[name] = {PprofValue(m[1]), PprofValue(m[2])};
  }
  return rows;
}

std::string JsonUnescape(const std::string& quoted) {
  std::string out;
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    if (quoted[i] == '\\' && i + 2 < quoted.size()) ++i;
    out += quoted[i];
  }
  return out;
}

// inprof-view's JSON rows: top's flat/cum, or diff's delta_flat/delta_cum
// (only changed functions, as pprof drops nodes whose merged values are 0).
Rows ParseViewerJson(const std::string& out, bool diff) {
  static const test::Regex top_row(
      R"re(^,?\{"name":(".*"),"flat":(-?\d+),"cum":(-?\d+)\}$)re");
  static const test::Regex diff_row(
      R"re(^,?\{"name":(".*"),.*"delta_flat":(-?\d+),"delta_cum":(-?\d+)\}$)re");
  Rows rows;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.ends_with("]}")) line.resize(line.size() - 2);
    if (!line.empty() && line.back() == ',') line.pop_back();
    test::RegexGroups m;
    if (!(diff ? diff_row : top_row).Matches(line, &m)) continue;
    FlatCum v{std::stoll(m[2]), std::stoll(m[3])};
    if (v.flat == 0 && v.cum == 0) continue;
    rows[JsonUnescape(m[1])] = v;
  }
  return rows;
}

std::string PprofUnit(const std::string& sample_index) {
  if (sample_index == "cpu" || sample_index == "delay") return "ns";
  if (sample_index.find("space") != std::string::npos) return "B";
  return "";
}

// Checks one report both ways. `base` empty: top of `next`.
void ExpectAgreement(const std::string& base, const std::string& next,
                     const std::string& sample_index) {
  SCOPED_TRACE((base.empty() ? "top " : "diff " + base + " ") + next + " " +
               sample_index);
  std::vector<std::string> pprof_args = {"-top", "-symbolize=none",
                                         "-nodefraction=0", "-edgefraction=0",
                                         "-sample_index=" + sample_index};
  if (!PprofUnit(sample_index).empty()) {
    pprof_args.push_back("-unit=" + PprofUnit(sample_index));
  }
  std::vector<std::string> view_args = {
      INPROF_VIEW_BINARY, base.empty() ? "top" : "diff", "--format=json",
      "--sample_index=" + sample_index};
  if (!base.empty()) {
    pprof_args.push_back("-diff_base=" + base);
    view_args.push_back(base);
  }
  pprof_args.push_back(next);
  view_args.push_back(next);
  CommandResult pprof = test::GoToolPprof(pprof_args);
  ASSERT_EQ(pprof.exit_code, 0) << pprof.Describe();
  CommandResult view = RunCommand(view_args);
  ASSERT_EQ(view.exit_code, 0) << view.Describe();
  Rows want = ParsePprofTop(pprof.out);
  Rows got = ParseViewerJson(view.out, !base.empty());
  ASSERT_GE(want.size(), 2u) << pprof.out;
  EXPECT_EQ(got, want) << "go tool pprof said:\n"
                       << pprof.out << "\ninprof-view said:\n"
                       << view.out;
}

class GoProfilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    CommandResult r =
        test::GoRun(test::TestDataPath("go/diffpair/main.go"), {dir_->path()},
                    dir_->path(), std::chrono::minutes(3));
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Path(const char* name) { return dir_->Path(name); }
  static TempDir* dir_;
};
TempDir* GoProfilesTest::dir_ = nullptr;

TEST_F(GoProfilesTest, TopAgreesOnGoCpuAndHeapProfiles) {
  ExpectAgreement("", Path("cpu_new.pb.gz"), "cpu");
  ExpectAgreement("", Path("cpu_base.pb.gz"), "samples");
  ExpectAgreement("", Path("heap_new.pb.gz"), "inuse_space");
  ExpectAgreement("", Path("heap_base.pb.gz"), "alloc_objects");
}

TEST_F(GoProfilesTest, DiffAgreesWithDiffBaseOnGoProfiles) {
  ExpectAgreement(Path("cpu_base.pb.gz"), Path("cpu_new.pb.gz"), "cpu");
  ExpectAgreement(Path("cpu_base.pb.gz"), Path("cpu_new.pb.gz"), "samples");
  ExpectAgreement(Path("heap_base.pb.gz"), Path("heap_new.pb.gz"),
                  "inuse_space");
  ExpectAgreement(Path("heap_base.pb.gz"), Path("heap_new.pb.gz"),
                  "alloc_objects");
  // Reversed: what shrank comes out negative in both.
  ExpectAgreement(Path("cpu_new.pb.gz"), Path("cpu_base.pb.gz"), "cpu");
}

// Ids unique and nonzero but not 1..N in order (mappings 7, 3; locations 7,
// 3, 100, 12; functions 40, 2, 9, 1000), references by id: go tool pprof
// reads such a profile, and inprof-view must read it to the same numbers.
TEST(ForeignIdsTest, Issue12_TopAgreesWhenIdsAreNotOneToN) {
  internal::Profile p = viewer::test::WithIds(
      viewer::test::FoldedProfile({{"main;serve;parse", {30, 300000000}},
                                   {"main;serve;render", {20, 200000000}},
                                   {"main;serve", {4, 40000000}}}),
      {7, 3}, {40, 2, 9, 1000}, {7, 3, 100, 12});
  TempDir dir;
  std::string path =
      dir.WriteFile("foreign_ids.pb.gz", internal::SerializeProfile(p));
  ExpectAgreement("", path, "cpu");
  ExpectAgreement("", path, "samples");
}

std::string Fetch(const Agent& agent, const std::string& path) {
  httplib::Client client("127.0.0.1", agent.port());
  client.set_read_timeout(std::chrono::seconds(60));
  httplib::Result r = client.Get(path);
  return r && r->status == 200 ? r->body : "";
}

// A CPU profile of one second during which `first` and `second` burn CPU,
// each on its own thread.
template <typename First, typename Second>
std::string CpuProfileWhile(const Agent& agent, First first, Second second) {
  std::atomic<bool> stop{false};
  std::thread a([&] { first(stop); });
  std::thread b([&] { second(stop); });
  std::string body = Fetch(agent, "/debug/pprof/profile?seconds=1");
  stop = true;
  a.join();
  b.join();
  return body;
}

TEST(AgentProfilesTest, TopAndDiffAgreeOnAgentCpuAndBlockProfiles) {
  Options options;
  options.port = 0;
  options.block_profile_rate = 1;
  options.mutex_profile_fraction = 1;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  TempDir dir;
  // The base burns in HotAlpha on both threads, the new one moves a thread to
  // HotBeta: the diff has a loss and a gain by construction, never a tie
  // that leaves pprof nothing to show (two runs of the same work can have
  // the same sample count).
  auto alpha = [](auto& stop) { HotAlpha(stop); };
  auto beta = [](auto& stop) { HotBeta(stop); };
  std::string cpu_base =
      dir.WriteFile("cpu_base.pb.gz", CpuProfileWhile(*agent, alpha, alpha));
  std::string cpu_new =
      dir.WriteFile("cpu_new.pb.gz", CpuProfileWhile(*agent, alpha, beta));
  Contend(3, 10);
  std::string block_base =
      dir.WriteFile("block_base.pb.gz", Fetch(*agent, "/debug/pprof/block"));
  Contend(3, 20);
  std::string block_new =
      dir.WriteFile("block_new.pb.gz", Fetch(*agent, "/debug/pprof/block"));
  std::string mutex_new =
      dir.WriteFile("mutex.pb.gz", Fetch(*agent, "/debug/pprof/mutex"));

  ExpectAgreement("", cpu_base, "cpu");
  ExpectAgreement("", mutex_new, "delay");
  ExpectAgreement(cpu_base, cpu_new, "cpu");
  ExpectAgreement(cpu_base, cpu_new, "samples");
  ExpectAgreement(block_base, block_new, "delay");
  ExpectAgreement(block_base, block_new, "contentions");
}

}  // namespace
}  // namespace inprof::e2e
