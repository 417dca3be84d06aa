#include "agent/symbolize/symbolizer.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "agent/symbolize/demangle.h"
#include "agent/symbolize/mappings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "report/format.h"
#include "tests/agent/symbolize/test_functions.h"

namespace inprof::internal {
namespace {

using ::testing::AnyOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The real libc entry point (not a PLT stub or a sanitizer interceptor).
uint64_t LibcAddress(const char* symbol) {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  if (libc == nullptr) return 0;
  void* address = dlsym(libc, symbol);
  dlclose(libc);
  return reinterpret_cast<uint64_t>(address);
}

TEST(SymbolizerTest, NamesANoinlineFunctionWithFileAndLine) {
  Symbolizer symbolizer;
  std::vector<SourceFrame> frames = symbolizer.Symbolize(app::Worker::Spin(1));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_THAT(frames[0].name, HasSubstr("app::Worker::Spin"));
  EXPECT_EQ(frames[0].name, "app::Worker::Spin");
  EXPECT_THAT(frames[0].system_name, StartsWith("_ZN"));
  EXPECT_EQ(frames[0].system_name, "_ZN3app6Worker4SpinEi");
  EXPECT_THAT(frames[0].file, EndsWith("test_functions.cc"));
  EXPECT_TRUE(app::Worker::SpinIntLines().Contains(frames[0].line))
      << frames[0].line;
  EXPECT_TRUE(app::Worker::SpinIntLines().Contains(frames[0].start_line))
      << frames[0].start_line;
}

// Internal linkage: GCC emits no DW_AT_linkage_name, so DWARF alone would
// name it "HiddenHelper".
__attribute__((noinline)) uint64_t HiddenHelper(int n) {
  uint64_t x = 1;
  for (int i = 0; i < n; ++i) x = x * 31 + static_cast<uint64_t>(i);
  return x;
}

TEST(SymbolizerTest, QualifiesFunctionsInAnonymousNamespaces) {
  Symbolizer symbolizer;
  std::vector<SourceFrame> frames =
      symbolizer.Symbolize(reinterpret_cast<uint64_t>(&HiddenHelper) + 4);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().name,
            "inprof::internal::(anonymous namespace)::HiddenHelper");
  EXPECT_THAT(frames.back().system_name, StartsWith("_ZN"));
  EXPECT_GT(HiddenHelper(3), 0u);
}

// A cancelled request (client gone, agent stopping) skips the DWARF work:
// addresses not cached yet come back unknown at once, and are not cached,
// so the next request names them (issue 12, item 6).
TEST(SymbolizerTest, CancelledSymbolizationNamesNothingNewAndCachesNothing) {
  Symbolizer symbolizer;
  int asked = 0;
  symbolizer.set_cancel([&] {
    ++asked;
    return true;
  });
  const uint64_t address = reinterpret_cast<uint64_t>(&HiddenHelper) + 4;
  std::vector<SourceFrame> frames = symbolizer.Symbolize(address);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].unknown) << frames[0].name;
  EXPECT_EQ(asked, 1);
  symbolizer.set_cancel(nullptr);
  frames = symbolizer.Symbolize(address);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().name,
            "inprof::internal::(anonymous namespace)::HiddenHelper");
}

TEST(SymbolizerTest, TellsOverloadsApart) {
  Symbolizer symbolizer;
  std::vector<SourceFrame> d = symbolizer.Symbolize(app::Worker::Spin(2.0));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].name, "app::Worker::Spin");
  EXPECT_EQ(d[0].system_name, "_ZN3app6Worker4SpinEd");
  EXPECT_TRUE(app::Worker::SpinDoubleLines().Contains(d[0].line)) << d[0].line;
}

// The agent's own code is named from the symbol table: reading its DWARF
// (line table, unit index) cost the host megabytes (issue 16, item 3). The
// test's own functions, linked beside it, keep file and line.
TEST(SymbolizerTest, NamesTheAgentsOwnCodeByFunctionOnly) {
  Symbolizer symbolizer;
  std::string (*agent_function)(std::string_view) = &FunctionDisplayName;
  std::vector<SourceFrame> frames =
      symbolizer.Symbolize(reinterpret_cast<uint64_t>(agent_function) + 4);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].name, "inprof::internal::FunctionDisplayName");
  EXPECT_EQ(frames[0].file, "");
  EXPECT_EQ(frames[0].line, 0);
  EXPECT_EQ(symbolizer.stats().unit_indexes, 0u);
  // The report layer the agent embeds too.
  std::string (*report_function)(int64_t, int64_t) = &report::Percentage;
  frames =
      symbolizer.Symbolize(reinterpret_cast<uint64_t>(report_function) + 4);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].name, "inprof::report::Percentage");
  EXPECT_EQ(frames[0].file, "");
  EXPECT_EQ(symbolizer.stats().unit_indexes, 0u);

  frames = symbolizer.Symbolize(app::Worker::Spin(1));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_THAT(frames[0].file, EndsWith("test_functions.cc"));
  EXPECT_EQ(symbolizer.stats().unit_indexes, 1u);
}

TEST(SymbolizerTest, NamesTheFunctionEntryAddress) {
  Symbolizer symbolizer;
  uint64_t (*spin)(int) = &app::Worker::Spin;
  std::vector<SourceFrame> frames =
      symbolizer.Symbolize(reinterpret_cast<uint64_t>(spin));
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().name, "app::Worker::Spin");
  EXPECT_TRUE(app::Worker::SpinIntLines().Contains(frames.back().line));
}

// The program's entry point comes from crt1.o, which carries no DWARF: libdw
// answers the unit lookup with a neighbouring compile unit all the same
// (this test's own, here), and indexing that unit for an address it does
// not hold costs its line table and index for nothing. `_start` gets its
// name, no source and no index.
extern "C" void _start();

TEST(SymbolizerTest, CodeNoUnitDescribesIndexesNoUnit) {
  Symbolizer symbolizer;
  std::vector<SourceFrame> frames =
      symbolizer.Symbolize(reinterpret_cast<uint64_t>(&_start) + 4);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].name, "_start");
  EXPECT_EQ(frames[0].file, "");
  EXPECT_EQ(frames[0].line, 0);
  EXPECT_EQ(symbolizer.stats().unit_indexes, 0u);
  // Code a unit does describe keeps its file and line.
  frames = symbolizer.Symbolize(app::Worker::Spin(1));
  ASSERT_FALSE(frames.empty());
  EXPECT_THAT(frames.back().file, EndsWith("test_functions.cc"));
  EXPECT_EQ(symbolizer.stats().unit_indexes, 1u);
}

TEST(SymbolizerTest, InlinedFunctionComesFirst) {
  Symbolizer symbolizer;
  std::vector<SourceFrame> frames =
      symbolizer.Symbolize(app::OuterWithInline());
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].name, "app::InlinedLeaf");
  EXPECT_EQ(frames[0].system_name, "_ZN3app11InlinedLeafEv");
  EXPECT_THAT(frames[0].file, EndsWith("test_functions.cc"));
  EXPECT_TRUE(app::InlinedLeafLines().Contains(frames[0].line))
      << frames[0].line;
  EXPECT_EQ(frames[1].name, "app::OuterWithInline");
  EXPECT_THAT(frames[1].file, EndsWith("test_functions.cc"));
  EXPECT_TRUE(app::OuterWithInlineLines().Contains(frames[1].line))
      << frames[1].line;
}

TEST(SymbolizerTest, NamesLibcFunctions) {
  Symbolizer symbolizer;
  uint64_t write_address = LibcAddress("write");
  ASSERT_NE(write_address, 0u);
  std::vector<SourceFrame> frames = symbolizer.Symbolize(write_address);
  ASSERT_FALSE(frames.empty());
  EXPECT_THAT(frames.back().name, HasSubstr("write")) << frames.back().name;

  frames = symbolizer.Symbolize(LibcAddress("malloc"));
  ASSERT_FALSE(frames.empty());
  EXPECT_THAT(frames.back().name,
              AnyOf(HasSubstr("malloc"), HasSubstr("alloc")))
      << frames.back().name;
}

TEST(SymbolizerTest, UnknownAddressesGetAHexName) {
  Symbolizer symbolizer;
  std::vector<SourceFrame> frames = symbolizer.Symbolize(0x10);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].name, "0x10");
  EXPECT_EQ(frames[0].file, "");
  EXPECT_EQ(symbolizer.MappingFor(0x10), nullptr);
}

TEST(SymbolizerTest, MappingForFindsTheMainExecutable) {
  Symbolizer symbolizer;
  const ProcessMapping* m = symbolizer.MappingFor(app::Worker::Spin(3));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m, &symbolizer.mappings().front());
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  ASSERT_GT(n, 0);
  EXPECT_EQ(m->path, std::string(exe, static_cast<size_t>(n)));
}

TEST(SymbolizerTest, SymbolizesTheVdsoWithoutCrashing) {
  Symbolizer symbolizer;
  for (const ProcessMapping& m : symbolizer.mappings()) {
    if (m.path != "[vdso]") continue;
    for (uint64_t a = m.start; a < m.limit; a += 64) {
      std::vector<SourceFrame> frames = symbolizer.Symbolize(a);
      ASSERT_FALSE(frames.empty());
      EXPECT_FALSE(frames.back().name.empty());
    }
  }
}

TEST(SymbolizerTest, DlopenedLibraryAfterRefreshAndDlcloseAfterRefresh) {
  Symbolizer symbolizer;
  symbolizer.Symbolize(app::Worker::Spin(4));  // initialize the session

  void* lib = dlopen(SYMTEST_LIB_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  auto entry = reinterpret_cast<uint64_t>(dlsym(lib, "SymtestEntry"));
  auto triple_address =
      reinterpret_cast<void* (*)()>(dlsym(lib, "SymtestTripleAddress"));
  ASSERT_NE(entry, 0u);
  ASSERT_NE(triple_address, nullptr);
  auto triple = reinterpret_cast<uint64_t>(triple_address());

  const ProcessMapping* stale = symbolizer.MappingFor(entry);
  EXPECT_EQ(stale, nullptr) << stale->path;  // not refreshed yet
  symbolizer.Refresh();
  const ProcessMapping* m = symbolizer.MappingFor(entry);
  ASSERT_NE(m, nullptr);
  EXPECT_THAT(m->path, EndsWith("libsymtest_lib.so"));
  EXPECT_FALSE(m->build_id.empty());

  std::vector<SourceFrame> frames = symbolizer.Symbolize(entry);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().name, "SymtestEntry");
  EXPECT_THAT(frames.back().file, EndsWith("symtest_lib.cc"));
  frames = symbolizer.Symbolize(triple);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().name, "symtest::Triple");
  EXPECT_EQ(frames.back().system_name, "_ZN7symtest6TripleEi");

  // Still mapped in our tables but gone from the process: must not crash.
  ASSERT_EQ(dlclose(lib), 0);
  symbolizer.Symbolize(entry + 1);
  symbolizer.Refresh();
  frames = symbolizer.Symbolize(entry);
  ASSERT_FALSE(frames.empty());
  frames = symbolizer.Symbolize(triple + 2);
  ASSERT_FALSE(frames.empty());
  if (dlopen(SYMTEST_LIB_PATH, RTLD_NOW | RTLD_NOLOAD) == nullptr) {
    EXPECT_EQ(symbolizer.MappingFor(entry), nullptr);
    EXPECT_THAT(symbolizer.Symbolize(entry).back().name, StartsWith("0x"));
  }
  // Other modules keep working after the refresh.
  EXPECT_EQ(symbolizer.Symbolize(app::Worker::Spin(5)).back().name,
            "app::Worker::Spin");
}

TEST(SymbolizerTest, DlopenedSystemLibraryByName) {
  Symbolizer symbolizer;
  void* zlib = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
  if (zlib == nullptr) GTEST_SKIP() << "libz.so.1 not installed";
  auto crc32 = reinterpret_cast<uint64_t>(dlsym(zlib, "crc32"));
  ASSERT_NE(crc32, 0u);
  symbolizer.Refresh();
  EXPECT_THAT(symbolizer.Symbolize(crc32).back().name, HasSubstr("crc32"));
  dlclose(zlib);
  symbolizer.Refresh();
  EXPECT_FALSE(symbolizer.Symbolize(crc32).empty());
}

// Addresses spread over the main executable's code and libc's.
std::vector<uint64_t> SpreadAddresses(Symbolizer* symbolizer, size_t count) {
  std::vector<const ProcessMapping*> targets = {
      &symbolizer->mappings().front(),
      symbolizer->MappingFor(LibcAddress("write"))};
  std::vector<uint64_t> addresses;
  for (const ProcessMapping* m : targets) {
    if (m == nullptr) continue;
    size_t n = count / targets.size();
    uint64_t step = std::max<uint64_t>(1, (m->limit - m->start) / n);
    for (size_t i = 0; i < n; ++i) addresses.push_back(m->start + i * step);
  }
  return addresses;
}

// What makes a warm symbolizer fast (how fast is a benchmark's business):
// each compile unit is indexed once, so 10,000 new addresses in modules
// already touched index nothing new, and the same addresses again come from
// the address cache unchanged.
TEST(SymbolizerTest, TenThousandAddressesInAWarmSymbolizerReuseItsIndexes) {
  Symbolizer symbolizer;
  std::vector<uint64_t> addresses = SpreadAddresses(&symbolizer, 10000);
  // Warm: load both modules' ELF and DWARF with other addresses.
  for (uint64_t a : addresses) symbolizer.Symbolize(a + 1);
  const SymbolizerStats warm = symbolizer.stats();

  std::vector<std::vector<SourceFrame>> first;
  for (uint64_t a : addresses) first.push_back(symbolizer.Symbolize(a));
  const SymbolizerStats after_new = symbolizer.stats();
  size_t frames = 0, same = 0;
  for (size_t i = 0; i < addresses.size(); ++i) {
    std::vector<SourceFrame> again = symbolizer.Symbolize(addresses[i]);
    frames += again.size();
    same += std::equal(
        again.begin(), again.end(), first[i].begin(), first[i].end(),
        [](const SourceFrame& a, const SourceFrame& b) {
          return a.name == b.name && a.file == b.file && a.line == b.line;
        });
  }
  EXPECT_GT(frames, addresses.size());
  EXPECT_EQ(same, addresses.size());
  EXPECT_GT(warm.unit_indexes, 0u);
  EXPECT_EQ(after_new.unit_indexes, warm.unit_indexes);
  EXPECT_EQ(symbolizer.stats().unit_indexes, warm.unit_indexes);
  EXPECT_EQ(symbolizer.stats().unit_indexes_evicted, 0u);
}

TEST(SymbolizerTest, SeparateInstancesWorkConcurrently) {
  std::vector<uint64_t> addresses;
  {
    Symbolizer probe;
    addresses = SpreadAddresses(&probe, 2000);
  }
  addresses.push_back(app::Worker::Spin(6));
  addresses.push_back(app::OuterWithInline());
  std::vector<std::vector<SourceFrame>> expected;
  {
    Symbolizer reference;
    for (uint64_t a : addresses) expected.push_back(reference.Symbolize(a));
  }
  auto run = [&](std::vector<std::vector<SourceFrame>>* out) {
    Symbolizer symbolizer;
    for (uint64_t a : addresses) out->push_back(symbolizer.Symbolize(a));
  };
  std::vector<std::vector<SourceFrame>> first, second;
  std::thread t1(run, &first);
  std::thread t2(run, &second);
  t1.join();
  t2.join();
  ASSERT_EQ(first.size(), expected.size());
  ASSERT_EQ(second.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    for (const auto* got : {&first[i], &second[i]}) {
      ASSERT_EQ(got->size(), expected[i].size()) << i;
      for (size_t j = 0; j < got->size(); ++j) {
        EXPECT_EQ((*got)[j].name, expected[i][j].name);
        EXPECT_EQ((*got)[j].file, expected[i][j].file);
        EXPECT_EQ((*got)[j].line, expected[i][j].line);
      }
    }
  }
}

}  // namespace
}  // namespace inprof::internal

namespace inprof::internal {
namespace {

// A debuginfod "server" on loopback that only counts connection attempts.
class ListeningSocket {
 public:
  ListeningSocket() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~ListeningSocket() { close(fd_); }
  int port() const { return port_; }
  bool SomeoneConnected() const {
    int client = accept(fd_, nullptr, nullptr);
    if (client < 0) return false;
    close(client);
    return true;
  }

 private:
  int fd_;
  int port_;
};

TEST(SymbolizerTest, NeverAsksDebuginfodServers) {
  // Hosts often have DEBUGINFOD_URLS set (Debian's profile.d does it); the
  // agent must never turn a profile request into network I/O.
  ListeningSocket server;
  std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  setenv("DEBUGINFOD_URLS", url.c_str(), 1);
  setenv("DEBUGINFOD_TIMEOUT", "2", 1);
  setenv("DEBUGINFOD_CACHE_PATH", "/tmp/inprof-debuginfod-test-cache", 1);
  void* zlib = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(zlib, nullptr);
  void* crc32 = dlsym(zlib, "crc32");
  ASSERT_NE(crc32, nullptr);
  {
    Symbolizer symbolizer;
    std::vector<SourceFrame> frames =
        symbolizer.Symbolize(reinterpret_cast<uint64_t>(crc32));
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(frames.back().name, "crc32");
  }
  EXPECT_FALSE(server.SomeoneConnected());
  unsetenv("DEBUGINFOD_URLS");
  unsetenv("DEBUGINFOD_TIMEOUT");
  unsetenv("DEBUGINFOD_CACHE_PATH");
  dlclose(zlib);
}

}  // namespace
}  // namespace inprof::internal
