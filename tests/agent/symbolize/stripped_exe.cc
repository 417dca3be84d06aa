// An executable for stripped_test: linked with -rdynamic (its global
// functions go into .dynsym, as redis-server's do) and stripped of .symtab
// and debug information after linking. It prints where its functions are and
// the /proc/self/maps line of its code, then exits, so that the test names
// its addresses as a profile of another process is named:
//
//   <Exported> <Hidden> <start>-<limit> <offset>    (hex)
#include <cinttypes>
#include <cstdint>
#include <cstdio>

namespace stripped {

// Exported by -rdynamic, and laid out just before ExeHidden. Both stay in
// the binary because main takes their addresses.
__attribute__((noinline)) uint64_t ExeExported(int n) {
  uint64_t x = 11;
  for (int i = 0; i < n; ++i) x = x * 23 + static_cast<uint64_t>(i);
  return x;
}

// Internal linkage: no dynamic symbol names it.
__attribute__((noinline)) static uint64_t ExeHidden(int n) {
  uint64_t x = 13;
  for (int i = 0; i < n; ++i) x = x * 29 + static_cast<uint64_t>(i) * 7;
  return x ^ (x >> 5);
}

}  // namespace stripped

int main() {
  auto exported = reinterpret_cast<uintptr_t>(&stripped::ExeExported);
  auto hidden = reinterpret_cast<uintptr_t>(&stripped::ExeHidden);
  FILE* maps = std::fopen("/proc/self/maps", "r");
  if (maps == nullptr) return 1;
  char line[4096];
  int status = 1;
  while (std::fgets(line, sizeof(line), maps) != nullptr) {
    uintptr_t start = 0;
    uintptr_t limit = 0;
    uintptr_t offset = 0;
    if (std::sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*s %" SCNxPTR, &start,
                    &limit, &offset) != 3 ||
        hidden < start || hidden >= limit) {
      continue;
    }
    std::printf("%" PRIxPTR " %" PRIxPTR " %" PRIxPTR "-%" PRIxPTR " %" PRIxPTR
                "\n",
                exported, hidden, start, limit, offset);
    status = 0;
    break;
  }
  std::fclose(maps);
  return status;
}
