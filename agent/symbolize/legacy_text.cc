#include "agent/symbolize/legacy_text.h"

#include <cstdio>
#include <vector>

#include "agent/labels/label_registry.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {

void AppendLegacyStack(std::string& out, std::span<const uint64_t> pcs,
                       std::string_view synthetic, uint64_t label_set,
                       Symbolizer* symbolizer) {
  char hex[32];
  out += " @";
  for (uint64_t pc : pcs) {
    std::snprintf(hex, sizeof(hex), " %#llx",
                  static_cast<unsigned long long>(pc));
    out += hex;
  }
  out += '\n';
  if (const LabelSet* set = LabelRegistry::Global().Find(label_set)) {
    out += "# labels: " + GoLabelsText(*set) + '\n';
  }
  if (pcs.empty() && !synthetic.empty()) {
    out += "#\t0x0\t";
    out += synthetic;
    out += '\n';
  }
  for (uint64_t pc : pcs) {
    std::snprintf(hex, sizeof(hex), "#\t%#llx\t",
                  static_cast<unsigned long long>(pc));
    for (const SourceFrame& frame : symbolizer->Symbolize(pc - 1)) {
      // Names and paths may be long: appended, never cut to a buffer.
      out += hex;
      out += frame.name + '\t' + frame.file + ':' + std::to_string(frame.line) +
             '\n';
    }
  }
}

}  // namespace inprof::internal
