// Executable mappings of the current process, read from /proc/self/maps the
// way Go's runtime/pprof readMapping does (pprof-spec.md §2.4), with the GNU
// build id of each mapped file.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_AGENT_SYMBOLIZE_MAPPINGS_H_
#define INPROF_AGENT_SYMBOLIZE_MAPPINGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inprof::internal {

// One executable range of /proc/self/maps.
struct ProcessMapping {
  uint64_t start = 0;    // first address
  uint64_t limit = 0;    // one past the last address
  uint64_t offset = 0;   // file offset of `start` (the maps offset column)
  std::string path;      // " (deleted)" removed; "[vdso]" for the vDSO
  std::string build_id;  // lowercase hex of NT_GNU_BUILD_ID; "" if none
  bool deleted = false;  // the file was deleted or replaced since mapped
};

// Returns the executable ('x') entries of /proc/self/maps in address order,
// except that the entries of the main executable (/proc/self/exe) come first.
// " (deleted)" is stripped from paths; entries with inode 0 and no name are
// skipped ([vdso] and [vsyscall] are kept). Build ids are read from the files
// on disk, the vDSO's from memory; deleted files get none (the path may now
// name another file). Returns an empty vector when /proc/self/maps
// cannot be read. Not async-signal-safe.
std::vector<ProcessMapping> ReadExecutableMappings();

// Parses one /proc/<pid>/maps line into `out` (build_id left empty). Returns
// false for malformed lines and for lines ReadExecutableMappings skips.
// Exposed for tests.
bool ParseExecutableMapsLine(std::string_view line, ProcessMapping* out);

// Returns the lowercase-hex GNU build id of the ELF file at `path`, or "" when
// the file cannot be read or has no build-id note.
std::string ReadBuildIdFromFile(const std::string& path);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_MAPPINGS_H_
