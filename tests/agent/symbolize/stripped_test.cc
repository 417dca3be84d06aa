// Stripped binaries and libraries (issue 15, item 4): without .symtab or
// debug information, exported functions are named from .dynsym, and an
// address in a non-exported function is named by its function's start from
// .eh_frame, never after an exported neighbour.
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "agent/symbolize/mappings.h"
#include "agent/symbolize/symbolizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace inprof::internal {
namespace {

using ::testing::StartsWith;

// Debian 12's libcpp-httplib (package libcpp-httplib0.11, pulled in by
// libcpp-httplib-dev in scripts/install-deps.sh). The offsets below were
// read from this exact build with readelf: 0x658a6 is inside the thread
// pool worker's std::thread::_State_impl<...>::_M_run, which .dynsym does
// not export, whose FDE covers [0x65720, 0x65936).
constexpr char kHttplibPath[] =
    "/usr/lib/x86_64-linux-gnu/libcpp-httplib.so.0.11.4";
constexpr char kHttplibBuildId[] = "096cac4ed84493b7d3969e027573dfdab9484527";
constexpr uint64_t kWorkerPc = 0x658a6;
constexpr uint64_t kWorkerStart = 0x65720;
constexpr uint64_t kWorkerLimit = 0x65936;
constexpr char kHttplibListen[] =
    "_ZN7httplib6Server6listenERKNSt7__cxx1112basic_stringIcSt11char_"
    "traitsIcESaIcEEEii";

std::string Basename(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%" PRIx64, value);
  return buf;
}

// The name an unnamed function at runtime address `start` gets.
std::string OffsetName(const ProcessMapping& m, uint64_t start) {
  return Basename(m.path) + "+" + Hex(start - m.start + m.offset);
}

// The runtime address of file offset `offset` of the file mapped by `m`.
uint64_t AddressOfOffset(const ProcessMapping& m, uint64_t offset) {
  return m.start + offset - m.offset;
}

// What names the functions of the ELF file at `path`.
struct SymbolSources {
  bool readable = false;
  bool symtab = false;      // .symtab, or MiniDebugInfo carrying one
  bool dynsym = false;      // .dynsym
  bool debug_info = false;  // .debug_info
};

SymbolSources ReadSymbolSources(const std::string& path) {
  SymbolSources sources;
  elf_version(EV_CURRENT);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sources;
  if (Elf* elf = elf_begin(fd, ELF_C_READ, nullptr)) {
    size_t names = 0;
    if (elf_getshdrstrndx(elf, &names) == 0) {
      sources.readable = true;
      for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr;
           scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) == nullptr) continue;
        const char* name = elf_strptr(elf, names, shdr.sh_name);
        std::string section = name == nullptr ? "" : name;
        sources.symtab |=
            shdr.sh_type == SHT_SYMTAB || section == ".gnu_debugdata";
        sources.dynsym |= shdr.sh_type == SHT_DYNSYM;
        sources.debug_info |=
            section == ".debug_info" || section == ".zdebug_info";
      }
    }
    elf_end(elf);
  }
  close(fd);
  return sources;
}

// True when the installed library is the build whose offsets these tests
// know and no debug file for it is installed (DWARF would name everything).
bool KnownStrippedHttplib() {
  std::string build_id = ReadBuildIdFromFile(kHttplibPath);
  if (build_id != kHttplibBuildId) return false;
  std::string debug_file = "/usr/lib/debug/.build-id/" + build_id.substr(0, 2) +
                           "/" + build_id.substr(2) + ".debug";
  return access(debug_file.c_str(), F_OK) != 0;
}

void ExpectOnlyDynamicSymbols(const std::string& path) {
  SymbolSources sources = ReadSymbolSources(path);
  ASSERT_TRUE(sources.readable) << path;
  EXPECT_FALSE(sources.symtab) << path << " has a .symtab";
  EXPECT_FALSE(sources.debug_info) << path << " has debug information";
  EXPECT_TRUE(sources.dynsym) << path << " has no .dynsym";
}

// Expects the one frame at `address` to be the unnamed function starting at
// `start`.
void ExpectUnnamed(Symbolizer* symbolizer, const ProcessMapping& m,
                   uint64_t address, uint64_t start) {
  std::vector<SourceFrame> frames = symbolizer->Symbolize(address);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].name, OffsetName(m, start));
  EXPECT_EQ(frames[0].system_name, frames[0].name);
  EXPECT_TRUE(frames[0].unknown);
}

// The fixture library, dlopen'd for the whole test.
class StrippedLibraryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lib_ = dlopen(STRIPPED_LIB_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(lib_, nullptr) << dlerror();
    exported_ =
        reinterpret_cast<uint64_t>(dlsym(lib_, "_ZN8stripped8ExportedEi"));
    entry_ = reinterpret_cast<uint64_t>(dlsym(lib_, "StrippedEntry"));
    sizeless_ = reinterpret_cast<uint64_t>(dlsym(lib_, "StrippedSizelessAsm"));
    auto hidden_address =
        reinterpret_cast<void* (*)()>(dlsym(lib_, "StrippedHiddenAddress"));
    auto after_asm_address = reinterpret_cast<void* (*)()>(
        dlsym(lib_, "StrippedHiddenAfterAsmAddress"));
    ASSERT_NE(exported_, 0u);
    ASSERT_NE(entry_, 0u);
    ASSERT_NE(sizeless_, 0u);
    ASSERT_NE(hidden_address, nullptr);
    ASSERT_NE(after_asm_address, nullptr);
    hidden_ = reinterpret_cast<uint64_t>(hidden_address());
    after_asm_ = reinterpret_cast<uint64_t>(after_asm_address());
    // -fno-toplevel-reorder keeps source order: an exported function lies
    // just below each hidden one, the trap for a nearest-symbol lookup.
    ASSERT_LT(exported_, hidden_) << "fixture layout changed";
    ASSERT_LT(hidden_, sizeless_) << "fixture layout changed";
    ASSERT_LT(sizeless_, after_asm_) << "fixture layout changed";
    ASSERT_LT(after_asm_, entry_) << "fixture layout changed";
  }
  void TearDown() override {
    if (lib_ != nullptr) dlclose(lib_);
  }

  // Checks the names of the fixture's functions at their runtime addresses
  // plus `delta` in `symbolizer`, whose mapping of the library is `m`.
  void ExpectNames(Symbolizer* symbolizer, const ProcessMapping& m,
                   uint64_t delta) {
    std::vector<SourceFrame> frames =
        symbolizer->Symbolize(exported_ + delta + 4);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "stripped::Exported");
    EXPECT_EQ(frames[0].system_name, "_ZN8stripped8ExportedEi");
    EXPECT_EQ(frames[0].file, "");
    EXPECT_FALSE(frames[0].unknown);

    frames = symbolizer->Symbolize(entry_ + delta + 1);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "StrippedEntry");
    EXPECT_EQ(frames[0].system_name, "StrippedEntry");

    // Two addresses inside the hidden function: one function, named by its
    // start, not by the exported function below it.
    for (uint64_t offset : {uint64_t{1}, uint64_t{9}}) {
      ExpectUnnamed(symbolizer, m, hidden_ + delta + offset, hidden_ + delta);
    }

    // A symbol without a size names its own code, but not the function
    // .eh_frame shows starting after it.
    frames = symbolizer->Symbolize(sizeless_ + delta);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "StrippedSizelessAsm");
    for (uint64_t offset : {uint64_t{0}, uint64_t{1}, uint64_t{9}}) {
      ExpectUnnamed(symbolizer, m, after_asm_ + delta + offset,
                    after_asm_ + delta);
    }
  }

  void* lib_ = nullptr;
  uint64_t exported_ = 0;
  uint64_t entry_ = 0;
  uint64_t hidden_ = 0;
  uint64_t sizeless_ = 0;
  uint64_t after_asm_ = 0;
};

TEST_F(StrippedLibraryTest, FixtureHasOnlyDynamicSymbols) {
  ExpectOnlyDynamicSymbols(STRIPPED_LIB_PATH);
}

TEST_F(StrippedLibraryTest, NamesFromDynsymAndUnexportedByFunctionStart) {
  Symbolizer symbolizer;
  symbolizer.Refresh();
  const ProcessMapping* m = symbolizer.MappingFor(exported_);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(Basename(m->path), Basename(STRIPPED_LIB_PATH));
  ExpectNames(&symbolizer, *m, 0);
}

// The same file read from disk for a profile of another process, mapped at
// another address.
TEST_F(StrippedLibraryTest, NamesTheSameFromTheFileOfAnotherProcess) {
  Symbolizer live;
  const ProcessMapping* m = live.MappingFor(exported_);
  ASSERT_NE(m, nullptr);
  constexpr uint64_t kDelta = uint64_t{1} << 32;
  ProcessMapping moved = *m;
  moved.start += kDelta;
  moved.limit += kDelta;
  Symbolizer offline({moved});
  ExpectNames(&offline, moved, kDelta);
}

// A stripped executable linked with -rdynamic (as redis-server is), run as a
// process of its own and named from its file, as a profile of another
// process is.
TEST(StrippedExecutableTest, NamedFromDynsymAndEhFrame) {
  ExpectOnlyDynamicSymbols(STRIPPED_EXE_PATH);
  FILE* out = popen(STRIPPED_EXE_PATH, "r");
  ASSERT_NE(out, nullptr);
  uint64_t exported = 0;
  uint64_t hidden = 0;
  ProcessMapping m;
  int fields = std::fscanf(
      out, "%" SCNx64 " %" SCNx64 " %" SCNx64 "-%" SCNx64 " %" SCNx64,
      &exported, &hidden, &m.start, &m.limit, &m.offset);
  ASSERT_EQ(pclose(out), 0);
  ASSERT_EQ(fields, 5);
  ASSERT_LT(exported, hidden) << "fixture layout changed";
  ASSERT_LT(hidden, m.limit);
  m.path = STRIPPED_EXE_PATH;
  m.build_id = ReadBuildIdFromFile(m.path);

  Symbolizer symbolizer({m});
  std::vector<SourceFrame> frames = symbolizer.Symbolize(exported + 2);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].name, "stripped::ExeExported");
  EXPECT_EQ(frames[0].system_name, "_ZN8stripped11ExeExportedEi");
  EXPECT_FALSE(frames[0].unknown);
  for (uint64_t offset : {uint64_t{1}, uint64_t{9}}) {
    ExpectUnnamed(&symbolizer, m, hidden + offset, hidden);
  }
}

// Debian's libcpp-httplib, loaded in this process as the demo loads it.
class DebianHttplibTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kHttplibPath, R_OK) != 0) {
      GTEST_SKIP() << kHttplibPath
                   << " not installed (scripts/install-deps.sh installs "
                      "libcpp-httplib-dev)";
    }
    lib_ = dlopen(kHttplibPath, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(lib_, nullptr) << dlerror();
  }
  void TearDown() override {
    if (lib_ != nullptr) dlclose(lib_);
  }

  // Expects httplib::Server::listen named at its runtime address `listen`,
  // and, when `known_build`, the worker function named by its start.
  void ExpectNames(Symbolizer* symbolizer, const ProcessMapping& m,
                   uint64_t listen, uint64_t listen_size, bool known_build) {
    for (uint64_t offset : {uint64_t{0}, listen_size / 2, listen_size - 1}) {
      std::vector<SourceFrame> frames = symbolizer->Symbolize(listen + offset);
      ASSERT_EQ(frames.size(), 1u);
      EXPECT_EQ(frames[0].name, "httplib::Server::listen") << offset;
      EXPECT_EQ(frames[0].system_name, kHttplibListen);
      EXPECT_FALSE(frames[0].unknown);
    }
    if (!known_build) return;
    ASSERT_LT(AddressOfOffset(m, kWorkerLimit), m.limit);
    const std::string worker = OffsetName(m, AddressOfOffset(m, kWorkerStart));
    EXPECT_EQ(worker, "libcpp-httplib.so.0.11.4+0x65720");
    for (uint64_t offset : {kWorkerStart, kWorkerPc, kWorkerLimit - 1}) {
      std::vector<SourceFrame> frames =
          symbolizer->Symbolize(AddressOfOffset(m, offset));
      ASSERT_EQ(frames.size(), 1u);
      EXPECT_EQ(frames[0].name, worker) << Hex(offset);
      EXPECT_TRUE(frames[0].unknown);
    }
  }

  void* lib_ = nullptr;
};

TEST_F(DebianHttplibTest, ExportedNamedAndThreadPoolWorkerByItsStart) {
  ExpectOnlyDynamicSymbols(kHttplibPath);
  void* listen = dlsym(lib_, kHttplibListen);
  ASSERT_NE(listen, nullptr) << dlerror();
  // The exported symbol's size, from the dynamic loader's own reading.
  Dl_info info;
  void* entry = nullptr;
  ASSERT_NE(dladdr1(listen, &info, &entry, RTLD_DL_SYMENT), 0);
  const auto* sym = static_cast<const ElfW(Sym)*>(entry);
  ASSERT_NE(sym, nullptr);
  ASSERT_GT(sym->st_size, 0u);
  const bool known_build = KnownStrippedHttplib();
  auto address = reinterpret_cast<uint64_t>(listen);

  Symbolizer live;
  live.Refresh();
  const ProcessMapping* m = live.MappingFor(address);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(Basename(m->path), Basename(kHttplibPath));
  ExpectNames(&live, *m, address, sym->st_size, known_build);

  // A profile of another process, read on this machine.
  ProcessMapping moved = *m;
  constexpr uint64_t kDelta = uint64_t{1} << 33;
  moved.start += kDelta;
  moved.limit += kDelta;
  Symbolizer offline({moved});
  ExpectNames(&offline, moved, address + kDelta, sym->st_size, known_build);
  if (!known_build) {
    GTEST_SKIP() << "exported names checked; the worker's offsets are known "
                    "only for build "
                 << kHttplibBuildId << " without an installed debug file";
  }
}

// End to end: the stack of a request handler that httplib's thread pool
// runs, as a profile of the demo server sees it. Every frame in the library
// is named, by its symbol or by its function's start, never by the raw
// return address.
TEST(HttplibServerStackTest, FramesThroughTheThreadPoolAreNamed) {
  if (access(kHttplibPath, R_OK) != 0) {
    GTEST_SKIP() << kHttplibPath << " not installed";
  }
  std::vector<void*> stack(64);
  int depth = 0;
  httplib::Server server;
  server.Get("/", [&](const httplib::Request&, httplib::Response& response) {
    depth = backtrace(stack.data(), static_cast<int>(stack.size()));
    response.set_content("ok", "text/plain");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread listener([&] { server.listen_after_bind(); });
  httplib::Client client("127.0.0.1", port);
  httplib::Result result = client.Get("/");
  server.stop();
  listener.join();
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  ASSERT_GT(depth, 1);

  Symbolizer symbolizer;
  int in_httplib = 0;
  int named_by_symbol = 0;
  std::vector<std::string> names;
  for (int i = 1; i < depth; ++i) {  // [0] is the handler itself
    uint64_t pc = reinterpret_cast<uint64_t>(stack[i]) - 1;
    const ProcessMapping* m = symbolizer.MappingFor(pc);
    if (m == nullptr || Basename(m->path) != Basename(kHttplibPath)) continue;
    ++in_httplib;
    std::vector<SourceFrame> frames = symbolizer.Symbolize(pc);
    ASSERT_FALSE(frames.empty());
    const SourceFrame& frame = frames.back();
    names.push_back(frame.name);
    if (!frame.unknown) {
      ++named_by_symbol;
      continue;
    }
    // A return address minus one is never a function's first byte.
    EXPECT_THAT(frame.name, StartsWith(Basename(kHttplibPath) + "+0x"));
    EXPECT_NE(frame.name, OffsetName(*m, pc)) << "named by its pc";
  }
  EXPECT_GT(in_httplib, 0);
  EXPECT_GT(named_by_symbol, 0) << testing::PrintToString(names);
  if (KnownStrippedHttplib()) {
    EXPECT_THAT(names, testing::Contains("libcpp-httplib.so.0.11.4+0x65720"))
        << "the thread pool worker's _M_run";
  }
}

}  // namespace
}  // namespace inprof::internal
