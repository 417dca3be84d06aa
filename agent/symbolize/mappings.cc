#include "agent/symbolize/mappings.h"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <mutex>
#include <unordered_map>

namespace inprof::internal {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

// libelf refuses to work until elf_version() was called once per process.
void InitLibelf() {
  static std::once_flag once;
  std::call_once(once, [] { elf_version(EV_CURRENT); });
}

std::string ToHex(const void* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::string hex;
  hex.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 0xf]);
  }
  return hex;
}

std::string BuildIdOfElf(Elf* elf) {
  if (elf == nullptr) return "";
  const void* id = nullptr;
  ssize_t size = dwelf_elf_gnu_build_id(elf, &id);
  return size > 0 ? ToHex(id, static_cast<size_t>(size)) : "";
}

// The vDSO has no file: read its note from a private copy of the mapped image
// (libelf may touch the buffer it is given, and the vDSO is read-only).
std::string ReadVdsoBuildId(const ProcessMapping& m) {
  InitLibelf();
  uint64_t ehdr = getauxval(AT_SYSINFO_EHDR);
  if (ehdr == 0 || ehdr < m.start || ehdr >= m.limit) return "";
  std::string image(reinterpret_cast<const char*>(ehdr), m.limit - ehdr);
  Elf* elf = elf_memory(image.data(), image.size());
  std::string id = BuildIdOfElf(elf);
  if (elf != nullptr) elf_end(elf);
  return id;
}

bool ParseHex(std::string_view s, uint64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, 16);
  return ec == std::errc() && end == s.data() + s.size();
}

// Splits off the next space-delimited field of `rest`.
std::string_view NextField(std::string_view* rest) {
  size_t begin = rest->find_first_not_of(' ');
  if (begin == std::string_view::npos) {
    *rest = {};
    return {};
  }
  size_t end = rest->find(' ', begin);
  if (end == std::string_view::npos) end = rest->size();
  std::string_view field = rest->substr(begin, end - begin);
  rest->remove_prefix(end);
  return field;
}

std::string ExecutablePath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string path(buf, static_cast<size_t>(n));
  if (path.ends_with(kDeletedSuffix)) {
    path.resize(path.size() - kDeletedSuffix.size());
  }
  return path;
}

}  // namespace

bool ParseExecutableMapsLine(std::string_view line, ProcessMapping* out) {
  // "start-limit perms offset dev inode   path" (path optional, may hold
  // spaces).
  std::string_view rest = line;
  std::string_view range = NextField(&rest);
  std::string_view perms = NextField(&rest);
  std::string_view offset = NextField(&rest);
  std::string_view dev = NextField(&rest);
  std::string_view inode = NextField(&rest);
  if (inode.empty() || perms.size() < 4 || dev.empty()) return false;
  if (perms[2] != 'x') return false;
  size_t dash = range.find('-');
  if (dash == std::string_view::npos) return false;
  ProcessMapping m;
  if (!ParseHex(range.substr(0, dash), &m.start) ||
      !ParseHex(range.substr(dash + 1), &m.limit) ||
      !ParseHex(offset, &m.offset) || m.limit <= m.start) {
    return false;
  }
  size_t path_begin = rest.find_first_not_of(' ');
  std::string_view path =
      path_begin == std::string_view::npos ? "" : rest.substr(path_begin);
  if (path.ends_with(kDeletedSuffix)) {
    path.remove_suffix(kDeletedSuffix.size());
    m.deleted = true;
  }
  // Go's readMapping: anonymous executable memory (JIT code, huge-page text
  // copies) has inode 0 and no name; pseudo files like [vdso] are kept.
  if (inode == "0" && path.empty()) return false;
  m.path = std::string(path);
  *out = std::move(m);
  return true;
}

std::string ReadBuildIdFromFile(const std::string& path) {
  InitLibelf();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  std::string id = BuildIdOfElf(elf);
  if (elf != nullptr) elf_end(elf);
  close(fd);
  return id;
}

std::vector<ProcessMapping> ReadExecutableMappings() {
  std::vector<ProcessMapping> mappings;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    ProcessMapping m;
    if (ParseExecutableMapsLine(line, &m)) mappings.push_back(std::move(m));
  }
  std::unordered_map<std::string, std::string> build_ids;  // path -> id
  for (ProcessMapping& m : mappings) {
    if (m.path == "[vdso]") {
      m.build_id = ReadVdsoBuildId(m);
    } else if (m.path.starts_with('/') && !m.deleted) {
      auto [it, inserted] = build_ids.try_emplace(m.path);
      if (inserted) it->second = ReadBuildIdFromFile(m.path);
      m.build_id = it->second;
    }
  }
  // pprof-spec.md §2.4: pprof treats mapping[0] as the main binary.
  std::string exe = ExecutablePath();
  if (!exe.empty()) {
    std::stable_partition(
        mappings.begin(), mappings.end(),
        [&exe](const ProcessMapping& m) { return m.path == exe; });
  }
  return mappings;
}

}  // namespace inprof::internal
