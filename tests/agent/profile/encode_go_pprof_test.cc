// The real consumer reads what we encode: `go tool pprof` on a profile
// produced by EncodeProfile. Requires the Go toolchain (fails without it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "agent/profile/check_valid.h"
#include "agent/profile/encode.h"
#include "tests/agent/profile/test_profiles.h"
#include "tests/support/go_tool.h"
#include "tests/support/temp_dir.h"

namespace inprof::internal {
namespace {

using ::inprof::test::CommandResult;
using ::inprof::test::GoToolPprof;
using ::inprof::test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

// Returns the fields of the `-top` row for function `name` (last column).
std::vector<std::string> TopRow(const std::string& top,
                                const std::string& name) {
  std::istringstream in(top);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f = Fields(line);
    if (f.size() == 6 && f.back() == name) return f;
  }
  return {};
}

// Rewrites the "Samples:" rows of `pprof -raw` output as "count value:
// leaf_function ... root_function", resolving the location ids that pprof
// renumbers through its "Locations" section.
std::vector<std::string> RawSamplesByName(const std::string& raw) {
  std::map<std::string, std::string> names;  // location id -> function
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(raw);
  std::string section;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f = Fields(line);
    if (f.size() == 1 && line[0] != ' ') section = f[0];
    if (section == "Samples:" && f.size() >= 3 && f[1].back() == ':') {
      rows.push_back(f);
    }
    if (section == "Locations" && f.size() >= 4 && f[0].back() == ':') {
      names[f[0].substr(0, f[0].size() - 1)] = f[3];
    }
  }
  std::vector<std::string> out;
  for (const std::vector<std::string>& row : rows) {
    std::string s = row[0] + " " + row[1];
    for (size_t i = 2; i < row.size(); ++i) s += " " + names[row[i]];
    out.push_back(s);
  }
  return out;
}

class EncodeGoPprofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string body = SerializeProfile(MakeCpuProfile());
    ASSERT_TRUE(ValidateEncoded(body).ok());
    path_ = dir_.WriteFile("cpu.pb.gz", body);
    ASSERT_FALSE(path_.empty());
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(EncodeGoPprofTest, RawDumpShowsOurSamplesAndMetadata) {
  CommandResult r = GoToolPprof({"-raw", path_});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("PeriodType: cpu nanoseconds"));
  EXPECT_THAT(r.out, HasSubstr("Period: 10000000"));
  EXPECT_THAT(r.out, HasSubstr("Duration: 5s"));
  EXPECT_THAT(r.out, HasSubstr("samples/count cpu/nanoseconds"));
  EXPECT_THAT(RawSamplesByName(r.out),
              ElementsAre("10 100000000: foo main", "5 50000000: bar main"))
      << r.out;
  EXPECT_THAT(r.out, HasSubstr("0x402000 M=1 foo /src/demo.cc:12 s=10"));
  EXPECT_THAT(r.out, HasSubstr("/usr/bin/demo"));
}

TEST_F(EncodeGoPprofTest, TopShowsFlatAndCumulativeTimes) {
  CommandResult r = GoToolPprof(
      {"-top", "-nodefraction=0", "-unit=ms", "-symbolize=none", path_});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::vector<std::string> foo = TopRow(r.out, "foo");
  std::vector<std::string> bar = TopRow(r.out, "bar");
  std::vector<std::string> main = TopRow(r.out, "main");
  ASSERT_FALSE(foo.empty()) << r.out;
  ASSERT_FALSE(bar.empty()) << r.out;
  ASSERT_FALSE(main.empty()) << r.out;
  EXPECT_EQ(foo[0], "100ms");  // flat
  EXPECT_EQ(bar[0], "50ms");
  EXPECT_EQ(main[0], "0");
  EXPECT_EQ(main[3], "150ms");  // cum
  EXPECT_THAT(r.out, HasSubstr("Duration: 5s, Total samples = 150ms"));
}

}  // namespace
}  // namespace inprof::internal
