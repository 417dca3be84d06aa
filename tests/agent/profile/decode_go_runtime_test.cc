// Our decoder reads what Go's own runtime/pprof writes: a CPU profile and a
// heap profile from tests/testdata/go/cpuprofile/main.go, built and run with
// `go run`. Requires the Go toolchain (fails without it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "agent/profile/check_valid.h"
#include "agent/profile/debug_string.h"
#include "agent/profile/decode.h"
#include "tests/support/go_tool.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_data.h"

namespace inprof::internal {
namespace {

using ::inprof::test::CommandResult;
using ::inprof::test::ReadFile;
using ::inprof::test::TempDir;
using ::inprof::test::TestDataPath;

bool HasFunctionContaining(const Profile& p, std::string_view needle) {
  for (const Function& f : p.functions) {
    if (f.name.find(needle) != std::string::npos) return true;
  }
  return false;
}

// Runs the Go program once for all tests of the suite.
class DecodeGoRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    result_ = new CommandResult(
        test::GoRun(TestDataPath("go/cpuprofile/main.go"),
                    {dir_->Path("cpu.pb.gz"), dir_->Path("heap.pb.gz")},
                    dir_->path(), std::chrono::minutes(3)));
  }
  static void TearDownTestSuite() {
    delete result_;
    delete dir_;
  }

  // Reads and decodes one of the program's outputs.
  static std::optional<Profile> Load(const char* name) {
    EXPECT_EQ(result_->exit_code, 0) << result_->Describe();
    std::optional<std::string> bytes = ReadFile(dir_->Path(name));
    EXPECT_TRUE(bytes.has_value()) << name << ": " << result_->Describe();
    if (!bytes) return std::nullopt;
    StatusOr<Profile> p = DecodeProfile(*bytes);
    EXPECT_TRUE(p.ok()) << name << ": " << p.status().ToString();
    if (!p.ok()) return std::nullopt;
    return std::move(p).value();
  }

  static TempDir* dir_;
  static CommandResult* result_;
};

TempDir* DecodeGoRuntimeTest::dir_ = nullptr;
CommandResult* DecodeGoRuntimeTest::result_ = nullptr;

TEST_F(DecodeGoRuntimeTest, DecodesGoCpuProfile) {
  std::optional<Profile> p = Load("cpu.pb.gz");
  ASSERT_TRUE(p.has_value());
  Status valid = CheckValid(*p);
  EXPECT_TRUE(valid.ok()) << valid.ToString();
  ASSERT_EQ(p->sample_types.size(), 2u);
  EXPECT_EQ(p->sample_types[0].type, "samples");
  EXPECT_EQ(p->sample_types[0].unit, "count");
  EXPECT_EQ(p->sample_types[1].type, "cpu");
  EXPECT_EQ(p->sample_types[1].unit, "nanoseconds");
  EXPECT_EQ(p->period_type.type, "cpu");
  EXPECT_EQ(p->period, 10000000);
  EXPECT_GT(p->time_nanos, 0);
  EXPECT_GT(p->duration_nanos, 0);
  EXPECT_FALSE(p->samples.empty());
  EXPECT_TRUE(HasFunctionContaining(*p, "main.")) << ProfileDebugString(*p);
}

TEST_F(DecodeGoRuntimeTest, DecodesGoHeapProfile) {
  std::optional<Profile> p = Load("heap.pb.gz");
  ASSERT_TRUE(p.has_value());
  Status valid = CheckValid(*p);
  EXPECT_TRUE(valid.ok()) << valid.ToString();
  ASSERT_EQ(p->sample_types.size(), 4u);
  const char* kTypes[][2] = {{"alloc_objects", "count"},
                             {"alloc_space", "bytes"},
                             {"inuse_objects", "count"},
                             {"inuse_space", "bytes"}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(p->sample_types[i].type, kTypes[i][0]);
    EXPECT_EQ(p->sample_types[i].unit, kTypes[i][1]);
  }
  EXPECT_EQ(p->period_type.type, "space");
  EXPECT_EQ(p->period, 4096);  // runtime.MemProfileRate in main.go
  EXPECT_FALSE(p->samples.empty());
  EXPECT_TRUE(HasFunctionContaining(*p, "main.allocate"))
      << ProfileDebugString(*p);
}

}  // namespace
}  // namespace inprof::internal
