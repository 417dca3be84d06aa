// What inprof-view does with the inputs users hand it, run as users run it:
// bad files end with one line naming the file and exit status 2 (never a
// crash or a hang); http:// URLs of a running agent work as go tool pprof's
// do; gperftools' own CPU and heap profiles read with the numbers go tool
// pprof gives them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/profile/encode.h"
#include "agent/profile/gzip.h"
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
using test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

CommandResult View(std::vector<std::string> args) {
  args.insert(args.begin(), INPROF_VIEW_BINARY);
  return test::RunCommand(args, {}, std::chrono::seconds(60));
}

std::string ValidProfileBytes() {
  return internal::EncodeProfile(viewer::test::FoldedProfile(
      {{"main;foo", {10, 100000000}}, {"main;bar", {5, 50000000}}}));
}

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  return out + static_cast<char>(v);
}

// Expects the one-line failure for `file` (exit 2, nothing on stdout).
void ExpectRefused(const std::string& file, const std::string& reason,
                   const std::string& command = "top") {
  SCOPED_TRACE(file);
  CommandResult r = View({command, file});
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith("inprof-view: " + file + ": "));
  EXPECT_THAT(r.err, HasSubstr(reason));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(ViewerInputTest, BadFilesGetOneLineNamingTheFileAndExitTwo) {
  TempDir dir;
  std::string valid = ValidProfileBytes();
  std::string gz = internal::Gzip(valid);
  std::string corrupt_gz = gz;
  corrupt_gz[gz.size() / 2] ^= 0x5a;
  corrupt_gz[gz.size() - 6] ^= 0x5a;  // the CRC too

  ExpectRefused(dir.Path("missing.pb.gz"), "No such file or directory");
  ExpectRefused(dir.path(), "is a directory");
  ExpectRefused(dir.WriteFile("empty.pb.gz", ""), "empty (0 bytes)");
  ExpectRefused(
      dir.WriteFile("truncated.pb", valid.substr(0, valid.size() / 2)),
      "not a valid profile.proto");
  ExpectRefused(dir.WriteFile("truncated.pb.gz", gz.substr(0, gz.size() - 9)),
                "gzip");
  ExpectRefused(dir.WriteFile("corrupt.pb.gz", corrupt_gz), "gzip");
  ExpectRefused(dir.WriteFile("notes.txt", "hello, this is not a profile\n"),
                "not a profile: it is text starting \"hello");
  ExpectRefused(
      dir.WriteFile("image.png", std::string("\x89PNG\r\n\x1a\n\0\0", 10)),
      "not a profile");
  // Hostile: a sample declaring a 2^60-byte body; a group wire type; a
  // string index past the table; a location no sample can resolve.
  ExpectRefused(dir.WriteFile("huge.pb", "\x12" + Varint(uint64_t{1} << 60)),
                "not a valid profile.proto");
  ExpectRefused(dir.WriteFile("group.pb", "\x13\x14"),
                "not a valid profile.proto");
  ExpectRefused(dir.WriteFile("index.pb", "\x0a\x04\x08\x07\x10\x08" +
                                              std::string("\x32\x00", 2)),
                "out of range");
  internal::Profile dangling = viewer::test::FoldedProfile({{"main", {1, 1}}});
  dangling.samples[0].location_ids = {99};
  ExpectRefused(dir.WriteFile("dangling.pb", internal::EncodeProfile(dangling)),
                "invalid profile");
  // Deep nesting: 100,000 nested length-delimited layers in an unknown
  // field are skipped whole, without recursion.
  std::vector<std::string> headers;
  uint64_t length = 1;
  for (int i = 0; i < 100000; ++i) {
    headers.push_back("\xa2\x06" + Varint(length));  // field 100, bytes
    length += headers.back().size();
  }
  std::string nested;
  for (auto h = headers.rbegin(); h != headers.rend(); ++h) nested += *h;
  nested += "x";
  CommandResult deep =
      View({"top", dir.WriteFile("nested.pb", valid + nested)});
  EXPECT_FALSE(deep.timed_out);
  EXPECT_EQ(deep.exit_code, 0) << deep.Describe();
  ExpectRefused(dir.WriteFile("elf", *test::ReadFile("/bin/true")),
                "not a valid profile.proto");
  ExpectRefused(dir.WriteFile("cpu.prof", std::string(40, '\0') + "\x01"),
                "not a valid profile.proto");
}

TEST(ViewerInputTest, DiffNamesTheBadOneAndWhyTwoCannotBeCompared) {
  TempDir dir;
  std::string good = dir.WriteFile("good.pb", ValidProfileBytes());
  std::string bad = dir.WriteFile("bad.pb", "garbage\n");
  CommandResult r = View({"diff", good, bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("inprof-view: " + bad + ": "));
  std::string heap = dir.WriteFile(
      "heap.pb", internal::EncodeProfile(viewer::test::FoldedProfile(
                     {{"main", {1, 64}}},
                     {{"inuse_objects", "count"}, {"inuse_space", "bytes"}})));
  r = View({"diff", heap, good});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "inprof-view: " + heap + " vs " + good +
                       ": cannot compare: the new profile's sample type cpu "
                       "is not in the base profile (it has: inuse_objects, "
                       "inuse_space)\n");
  r = View({"top", "--sample_index=bogus", good});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("sample_index=bogus: the profile has no such "
                               "sample type (it has: samples, cpu)"));
  r = View({"top", "--format=xml", good});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "inprof-view: --format=xml: must be text, json or csv\n");
}

TEST(ViewerInputTest, ReadsRawAndGzippedProfilesAlike) {
  TempDir dir;
  std::string raw = dir.WriteFile("p.pb", ValidProfileBytes());
  std::string gz =
      dir.WriteFile("p.pb.gz", internal::Gzip(ValidProfileBytes()));
  CommandResult a = View({"top", raw});
  CommandResult b = View({"top", gz});
  ASSERT_EQ(a.exit_code, 0) << a.Describe();
  EXPECT_EQ(a.out, b.out);
  EXPECT_THAT(a.out, HasSubstr("100ms 66.67% 66.67% 100ms 66.67%  foo"));
  CommandResult folded = View({"folded", gz});
  EXPECT_EQ(folded.out, "main;bar 50000000\nmain;foo 100000000\n");
}

// A port nothing listens on: bound, then closed.
TEST(ViewerInputTest, WritesFlameGraphPagesForOneProfileAndForADiff) {
  TempDir dir;
  std::string a = dir.WriteFile("a.pb.gz", internal::Gzip(ValidProfileBytes()));
  std::string b = dir.WriteFile(
      "b.pb.gz",
      internal::Gzip(internal::EncodeProfile(viewer::test::FoldedProfile(
          {{"main;foo", {1, 10000000}}, {"main;baz", {9, 90000000}}}))));
  CommandResult r = View({"flame", "--html", dir.Path("flame.html"), a});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.err, StartsWith("inprof-view: wrote " + dir.Path("flame.html") +
                                " (3 frames, "));
  std::optional<std::string> page = test::ReadFile(dir.Path("flame.html"));
  ASSERT_TRUE(page.has_value());
  EXPECT_THAT(*page, HasSubstr("\"names\":["));
  EXPECT_THAT(*page, Not(HasSubstr("\"base\":[")));

  r = View({"diff", "--html=" + dir.Path("diff.html"), a, b});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "");
  page = test::ReadFile(dir.Path("diff.html"));
  ASSERT_TRUE(page.has_value());
  EXPECT_THAT(*page, HasSubstr("\"base\":["));
  EXPECT_THAT(*page, HasSubstr("cpu: base 150ms, new 100ms (-33%)"));

  r = View({"flame", "--html", dir.Path("missing/dir/x.html"), a});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot write: No such file or directory"));
}

// A port nothing listens on: bound, then closed.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot bind a socket";
  }
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(ViewerInputTest, FetchesFromARunningAgentLikeGoToolPprof) {
  StatusOr<Agent> agent = StartAgentOnAnyPort();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  std::string host = "127.0.0.1:" + std::to_string(agent->port());
  std::atomic<bool> stop{false};
  std::thread burner([&] { HotAlpha(stop); });
  // host:port alone means /debug/pprof/profile; --seconds sets its length.
  // No row limit: under TSan its own functions take the top rows.
  CommandResult r = View({"top", "--seconds=1", host});
  stop = true;
  burner.join();
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("inprof::e2e::HotAlpha"));
  EXPECT_THAT(r.out, HasSubstr("Duration: 1"));

  r = View({"top", "http://" + host + "/debug/pprof/mutex"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("Type: delay"));

  r = View({"top", "http://" + host + "/debug/pprof/nosuch"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("inprof-view: http://" + host +
                                "/debug/pprof/nosuch: HTTP 404 from http://" +
                                host + "/debug/pprof/nosuch: "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  r = View({"top", closed});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot fetch http://" + closed +
                               "/debug/pprof/profile"));
  r = View({"top", "https://" + host + "/debug/pprof/heap"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("https URLs are not supported"));
}

// flat and cum of `function` in go tool pprof -top text; {-1, -1} if absent.
std::pair<std::string, std::string> PprofRow(const std::string& top,
                                             const std::string& function) {
  std::istringstream in(top);
  std::string line;
  static const test::Regex row(
      R"(^\s*(\S+)\s+\S+%\s+\S+%\s+(\S+)\s+\S+%\s+(.*)$)");
  while (std::getline(in, line)) {
    test::RegexGroups m;
    if (row.Matches(line, &m) && m[3] == function) {
      return {m[1], m[2]};
    }
  }
  return {"-1", "-1"};
}

// Builds a C program from tests/testdata/gperftools and runs it with
// `env`; returns false (with a failure) if either step fails.
bool BuildAndRun(const std::string& source, const std::string& library,
                 const TempDir& dir, const test::EnvVars& env) {
  std::string binary = dir.Path("program");
  CommandResult cc =
      test::RunCommand({"cc", "-O1", "-g", "-fno-omit-frame-pointer", "-o",
                        binary, test::TestDataPath("gperftools/" + source),
                        "-Wl,--no-as-needed", library});
  EXPECT_EQ(cc.exit_code, 0) << cc.Describe();
  CommandResult run = test::RunCommand({binary}, env);
  EXPECT_EQ(run.exit_code, 0) << run.Describe();
  return cc.exit_code == 0 && run.exit_code == 0;
}

TEST(ViewerInputTest, GperftoolsCpuProfileReadsAsGoToolPprofReadsIt) {
  TempDir dir;
  std::string prof = dir.Path("cpu.prof");
  ASSERT_TRUE(
      BuildAndRun("cpu_burn.c", "-lprofiler", dir, {{"CPUPROFILE", prof}}));
  CommandResult pprof = test::GoToolPprof(
      {"-top", "-sample_index=cpu", "-unit=ms", "-nodefraction=0", prof});
  ASSERT_EQ(pprof.exit_code, 0) << pprof.Describe();
  CommandResult view = View({"top", "--sample_index=cpu", prof});
  ASSERT_EQ(view.exit_code, 0) << view.Describe();
  CommandResult json =
      View({"top", "--format=json", "--sample_index=cpu", prof});
  for (const char* fn : {"burn_a", "burn_b", "main"}) {
    SCOPED_TRACE(fn);
    auto [flat, cum] = PprofRow(pprof.out, fn);
    if (flat == "-1") {
      // pprof strips a second frame nearly all stack records share (the
      // signal handler's, in old profiles): with few distinct stacks that
      // can be main. Then it must be gone from ours too.
      ASSERT_STREQ(fn, "main") << pprof.out;
      EXPECT_THAT(json.out, Not(HasSubstr("\"name\":\"main\"")));
      continue;
    }
    int64_t flat_ns = std::llround(std::stod(flat) * 1e6);
    int64_t cum_ns = std::llround(std::stod(cum) * 1e6);
    EXPECT_THAT(json.out, HasSubstr("{\"name\":\"" + std::string(fn) +
                                    "\",\"flat\":" + std::to_string(flat_ns) +
                                    ",\"cum\":" + std::to_string(cum_ns) + "}"))
        << pprof.out << "\n"
        << view.out;
  }
  EXPECT_THAT(view.out, HasSubstr("File: program"));
}

TEST(ViewerInputTest, GperftoolsHeapProfileReadsAsGoToolPprofReadsIt) {
  TempDir dir;
  ASSERT_TRUE(BuildAndRun("heap_alloc.c", "-ltcmalloc", dir,
                          {{"HEAPPROFILE", dir.Path("hp")}}));
  std::string prof = dir.Path("hp.0001.heap");
  ASSERT_TRUE(test::ReadFile(prof).has_value());
  for (const char* index : {"inuse_space", "alloc_objects"}) {
    SCOPED_TRACE(index);
    CommandResult pprof =
        test::GoToolPprof({"-top", std::string("-sample_index=") + index,
                           "-unit=B", "-nodefraction=0", prof});
    ASSERT_EQ(pprof.exit_code, 0) << pprof.Describe();
    CommandResult json = View(
        {"top", "--format=json", std::string("--sample_index=") + index, prof});
    ASSERT_EQ(json.exit_code, 0) << json.Describe();
    for (const char* fn : {"alloc_small", "alloc_big", "main"}) {
      auto [flat, cum] = PprofRow(pprof.out, fn);
      ASSERT_NE(flat, "-1") << fn << "\n" << pprof.out;
      auto number = [](const std::string& v) {
        return std::to_string(std::llround(std::stod(v)));
      };
      EXPECT_THAT(json.out, HasSubstr("{\"name\":\"" + std::string(fn) +
                                      "\",\"flat\":" + number(flat) +
                                      ",\"cum\":" + number(cum) + "}"))
          << pprof.out << "\n"
          << json.out;
    }
  }
}

}  // namespace
}  // namespace inprof::e2e
