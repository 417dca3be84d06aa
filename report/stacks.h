// StackSet: a profile reduced to what every report reads — per sample, the
// call stack as function nodes (root first) and one value — at google/pprof's
// default "functions" granularity: a node is a function name; file names,
// lines and addresses are dropped; inlined functions stay frames of their own;
// unsymbolized frames become "[<mapping file basename>]" or "<unknown>"
// (pprof internal/graph NodeInfo.NameComponents, pprof-spec.md §3.4).
//
// Example:
//
//   StatusOr<StackSet> stacks = BuildStackSet(profile, {.sample_index =
//   "cpu"}); for (const StackSet::Stack& s : stacks->stacks) ...  // s.value,
//   frames
//
// Thread safety: thread-compatible (plain value types).
#ifndef INPROF_REPORT_STACKS_H_
#define INPROF_REPORT_STACKS_H_

#include <cstdint>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/profile/profile.h"
#include "inprof/status.h"

namespace inprof::report {

// Which value and which samples a report covers.
struct StackOptions {
  // A sample type name ("cpu", "inuse_space") or index ("0"); "" selects the
  // profile's default_sample_type, else its last type (pprof's rule).
  std::string sample_index;
  // ECMAScript regular expressions on node names; "" means none. focus keeps
  // the samples with at least one matching frame, ignore drops them (pprof
  // -focus / -ignore, applied to function names).
  std::string focus;
  std::string ignore;
};

struct StackSet {
  struct Stack {
    uint32_t begin = 0;  // [begin, end) in frames
    uint32_t end = 0;
    int64_t value = 0;  // never 0: samples valued 0 are left out
  };

  internal::ValueType value_type;  // the selected sample type
  std::vector<std::string> names;  // node names; a node id indexes this
  std::vector<uint32_t> frames;    // every stack's node ids, root first
  std::vector<Stack> stacks;       // in sample order
  int64_t total = 0;               // sum of |value| (pprof's report total)

  std::span<const uint32_t> FramesOf(const Stack& s) const {
    return {frames.data() + s.begin, frames.data() + s.end};
  }
};

// "/usr/lib/libc.so.6" -> "libc.so.6": how reports name a mapping's file.
std::string FileBasename(std::string_view path);

// Returns the index into profile.sample_types that `spec` selects (see
// StackOptions::sample_index), or kInvalidArgument naming the available
// types.
[[nodiscard]] StatusOr<size_t> SelectSampleIndex(
    const internal::Profile& profile, std::string_view spec);

// Returns `profile` reduced to stacks of `options`' sample type, with the
// focus/ignore filters applied. Fails with kInvalidArgument for an unknown
// sample type or a malformed regular expression. The profile must be valid
// (internal::CheckValid); references it cannot resolve are skipped.
[[nodiscard]] StatusOr<StackSet> BuildStackSet(const internal::Profile& profile,
                                               const StackOptions& options);

}  // namespace inprof::report

#endif  // INPROF_REPORT_STACKS_H_
