// The HTML flame graph: one self-contained page (inline script and style, no
// network) that draws a profile's stacks as an icicle graph on a canvas, with
// search, zoom and hover, and for two profiles the differential flame graph
// (frames that grew in red, shrank in blue, width by the new or the base
// profile). Usable with 100,000 distinct stacks: frames narrower than a pixel
// are not drawn, and the data is a compact prefix tree.
//
// Example:
//
//   std::string html = RenderFlameGraphPage(
//       BuildFlameTree(stacks, nullptr), {.title = "cpu.pb.gz"});
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_REPORT_FLAMEGRAPH_H_
#define INPROF_REPORT_FLAMEGRAPH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "report/stacks.h"

namespace inprof::report {

// The stacks as a prefix tree, nodes in depth-first order (children by name),
// node 0 the root ("all"). With a base, every node also carries the base
// profile's value on the same path.
struct FlameTree {
  std::vector<std::string> names;  // names[name[i]] is node i's frame
  std::vector<uint32_t> name;
  std::vector<int32_t> parent;  // -1 for the root
  std::vector<int64_t> value;   // cum value in the (new) profile
  std::vector<int64_t> base;    // cum value in the base; empty without one
};

// Builds the tree of `stacks`, and of `base` on the same paths when given
// (both in the same unit: see CompareStacks).
FlameTree BuildFlameTree(const StackSet& stacks, const StackSet* base);

struct FlamePageInfo {
  std::string title;        // shown as the page's heading
  std::string subtitle;     // e.g. "base: a.pb.gz  new: b.pb.gz"
  std::string sample_type;  // "cpu"
  std::string unit;         // "nanoseconds", "bytes", "count"
  // The profile's sample types, for the page's type selector (agent UI);
  // may be empty.
  std::vector<std::string> sample_types;
};

// "cpu: total 1.50s", or with a base "cpu: base 1.20s, new 1.50s (+25%)":
// the page's subtitle.
std::string FlameSubtitle(const StackSet& stacks, const StackSet* base);

// Returns the complete HTML page for `tree`.
std::string RenderFlameGraphPage(const FlameTree& tree,
                                 const FlamePageInfo& info);

// The tree and info as the JSON object the page reads.
std::string FlameTreeJson(const FlameTree& tree, const FlamePageInfo& info);

// The same page with no data, in "UI" mode: it lists the profiles and
// captures of the agent that serves it (/debug/pprof/ui/...), loads the one
// or two chosen and draws them. The agent serves it at /debug/pprof/ui.
std::string FlameGraphUiPage();

}  // namespace inprof::report

#endif  // INPROF_REPORT_FLAMEGRAPH_H_
