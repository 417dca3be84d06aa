// In-memory model of a pprof profile (proto/profile.proto), with strings
// resolved, as google/pprof's profile/profile.go models it. The agent builds
// one and encodes it; the decoder, the tests and the viewer read one back.
//
// Ids are explicit so that a decoded profile can be checked (CheckValid) for
// the rules every consumer imposes: ids 1..N in array order, every reference
// resolvable (pprof-spec.md §2.3).
//
// Thread safety: thread-compatible (plain value types).
#ifndef INPROF_AGENT_PROFILE_PROFILE_H_
#define INPROF_AGENT_PROFILE_PROFILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inprof/status.h"

namespace inprof::internal {

struct ValueType {
  std::string type;  // "cpu", "samples", "alloc_space", ...
  std::string unit;  // "nanoseconds", "count", "bytes", ...
};

// A label on a sample: either a string value or a number (with optional
// unit). pprof-spec.md §2.7.
struct Label {
  std::string key;
  std::string str;
  int64_t num = 0;
  std::string num_unit;
};

struct Sample {
  std::vector<uint64_t> location_ids;  // leaf first
  std::vector<int64_t> values;         // one per Profile::sample_types
  std::vector<Label> labels;
};

struct Mapping {
  uint64_t id = 0;
  uint64_t memory_start = 0;
  uint64_t memory_limit = 0;
  uint64_t file_offset = 0;
  std::string filename;
  std::string build_id;  // lowercase hex of the GNU build-id note
  bool has_functions = false;
  bool has_filenames = false;
  bool has_line_numbers = false;
  bool has_inline_frames = false;
};

struct Line {
  uint64_t function_id = 0;
  int64_t line = 0;
  int64_t column = 0;
};

struct Location {
  uint64_t id = 0;
  uint64_t mapping_id = 0;  // 0: no mapping (synthetic frames)
  uint64_t address = 0;
  std::vector<Line> lines;  // innermost inlined function first
  bool is_folded = false;
};

struct Function {
  uint64_t id = 0;
  std::string name;         // demangled, human-readable
  std::string system_name;  // as in the symbol table (mangled)
  std::string filename;
  int64_t start_line = 0;
};

struct Profile {
  std::vector<ValueType> sample_types;
  std::vector<Sample> samples;
  std::vector<Mapping> mappings;  // mappings[0] is the main executable
  std::vector<Location> locations;
  std::vector<Function> functions;
  std::string drop_frames;
  std::string keep_frames;
  int64_t time_nanos = 0;      // collection start, ns since the Unix epoch
  int64_t duration_nanos = 0;  // 0 for instant profiles (heap, ...)
  ValueType period_type;
  int64_t period = 0;
  std::vector<std::string> comments;
  std::string default_sample_type;  // "" = unset (pprof uses the last type)
  std::string doc_url;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_PROFILE_H_
