// The stack part of Go's legacy text profiles (debug=1), shared by the heap
// and contention profiles: " @ 0x.. 0x.." after a record's values, then one
// "#\t<pc>\t<function>\t<file>:<line>" line per (inlined) frame, as pprof's
// legacy parser reads them; between the two, Go's "# labels: {...}" line
// when the record has labels.
#ifndef INPROF_AGENT_SYMBOLIZE_LEGACY_TEXT_H_
#define INPROF_AGENT_SYMBOLIZE_LEGACY_TEXT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace inprof::internal {

class Symbolizer;

// Appends " @ <pcs in hex>\n", the labels line of `label_set` (none for
// LabelRegistry::kNoLabels), then the frame lines of `pcs` (return
// addresses, symbolized at pc - 1). `synthetic`, when not empty, is the
// name of the one frame of a record without pcs (an overflow bucket).
void AppendLegacyStack(std::string& out, std::span<const uint64_t> pcs,
                       std::string_view synthetic, uint64_t label_set,
                       Symbolizer* symbolizer);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_LEGACY_TEXT_H_
