#include "agent/symbolize/mappings.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace inprof::internal {
namespace {

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The build id as binutils' readelf prints it: an independent ELF reader.
std::string ReadelfBuildId(const std::string& path) {
  std::string command = "readelf -n '" + path + "' 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char line[1024];
  std::string id;
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    std::string s(line);
    size_t at = s.find("Build ID: ");
    if (at == std::string::npos) continue;
    id = s.substr(at + 10);
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) {
      id.pop_back();
    }
  }
  pclose(pipe);
  return id;
}

TEST(MappingsTest, MainExecutableComesFirstWithReadelfBuildId) {
  std::vector<ProcessMapping> mappings = ReadExecutableMappings();
  ASSERT_FALSE(mappings.empty());
  const ProcessMapping& main = mappings.front();
  EXPECT_EQ(main.path, SelfExe());
  std::string expected = ReadelfBuildId(main.path);
  if (expected.empty()) GTEST_SKIP() << "readelf unavailable or no build id";
  EXPECT_EQ(main.build_id, expected);
}

TEST(MappingsTest, OnlyExecutableRangesContainingThisCode) {
  std::vector<ProcessMapping> mappings = ReadExecutableMappings();
  auto here = reinterpret_cast<uint64_t>(&SelfExe);
  int containing = 0;
  for (const ProcessMapping& m : mappings) {
    EXPECT_LT(m.start, m.limit);
    EXPECT_FALSE(m.path.empty());
    EXPECT_THAT(m.build_id, ::testing::MatchesRegex("[0-9a-f]*"));
    if (here >= m.start && here < m.limit) ++containing;
  }
  EXPECT_EQ(containing, 1);
}

TEST(MappingsTest, LibcBuildIdMatchesReadelf) {
  for (const ProcessMapping& m : ReadExecutableMappings()) {
    if (m.path.find("/libc.so") == std::string::npos) continue;
    std::string expected = ReadelfBuildId(m.path);
    if (expected.empty()) GTEST_SKIP() << "readelf unavailable";
    EXPECT_EQ(m.build_id, expected);
    return;
  }
  GTEST_SKIP() << "libc not found in the maps";
}

TEST(MappingsTest, VdsoIsKeptWithItsBuildIdFromMemory) {
  for (const ProcessMapping& m : ReadExecutableMappings()) {
    if (m.path != "[vdso]") continue;
    // Most distribution kernels link the vDSO with a build id.
    EXPECT_THAT(m.build_id, ::testing::MatchesRegex("([0-9a-f][0-9a-f])*"));
    return;
  }
  GTEST_SKIP() << "no vDSO";
}

TEST(MappingsTest, ParsesLinesLikeGoReadMapping) {
  ProcessMapping m;
  ASSERT_TRUE(ParseExecutableMapsLine(
      "55d0c1a00000-55d0c1a42000 r-xp 00002000 fd:01 1234   /usr/bin/my app",
      &m));
  EXPECT_EQ(m.start, 0x55d0c1a00000u);
  EXPECT_EQ(m.limit, 0x55d0c1a42000u);
  EXPECT_EQ(m.offset, 0x2000u);
  EXPECT_EQ(m.path, "/usr/bin/my app");
  EXPECT_FALSE(m.deleted);

  ASSERT_TRUE(ParseExecutableMapsLine(
      "7f0000000000-7f0000001000 r-xp 00000000 fd:01 99 /tmp/lib.so (deleted)",
      &m));
  EXPECT_EQ(m.path, "/tmp/lib.so");
  EXPECT_TRUE(m.deleted);

  ASSERT_TRUE(ParseExecutableMapsLine(
      "7ffd1a3f0000-7ffd1a3f2000 r-xp 00000000 00:00 0   [vdso]", &m));
  EXPECT_EQ(m.path, "[vdso]");

  // Not executable; anonymous executable memory; garbage.
  EXPECT_FALSE(ParseExecutableMapsLine(
      "55d0c1a00000-55d0c1a42000 r--p 00000000 fd:01 1234 /usr/bin/app", &m));
  EXPECT_FALSE(ParseExecutableMapsLine(
      "7f0000000000-7f0000200000 r-xp 00000000 00:00 0", &m));
  EXPECT_FALSE(ParseExecutableMapsLine("not a maps line", &m));
  EXPECT_FALSE(ParseExecutableMapsLine("", &m));
}

}  // namespace
}  // namespace inprof::internal
