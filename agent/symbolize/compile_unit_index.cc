#include "agent/symbolize/compile_unit_index.h"

#include <dwarf.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <utility>

#include "agent/symbolize/demangle.h"
#include "agent/symbolize/utf8.h"

namespace inprof::internal {

struct CompileUnitIndex::BuildState {
  struct FunctionKeyHash {
    size_t operator()(const std::pair<const char*, int>& key) const {
      return std::hash<const char*>()(key.first) * 31 +
             static_cast<size_t>(key.second);
    }
  };
  Dwarf_Files* files = nullptr;  // the unit's file table, for call sites
  std::unordered_map<Dwarf_Word, int32_t> file_ids;
  // (name in the string data, decl line): the linker merges equal strings,
  // so equal names are mostly one pointer.
  std::unordered_map<std::pair<const char*, int>, uint32_t, FunctionKeyHash>
      function_ids;
};

CompileUnitIndex::CompileUnitIndex(Dwarf_Die* cu) {
  BuildState state;
  size_t nfiles = 0;
  if (dwarf_getsrcfiles(cu, &state.files, &nfiles) != 0) state.files = nullptr;
  building_ = &state;
  std::vector<Range> ranges;
  Walk(cu, -1, 0, &ranges);
  building_ = nullptr;
  BuildSegments(ranges);
}

uint32_t CompileUnitIndex::InternFunction(Dwarf_Die* die) {
  // Follows DW_AT_abstract_origin and DW_AT_specification: the linkage name
  // of a member function sits on its in-class declaration.
  Dwarf_Attribute attr;
  const char* linkage =
      dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
  if (linkage == nullptr) {
    linkage = dwarf_formstring(
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
  }
  const char* symbol =
      linkage != nullptr
          ? linkage
          : dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
  int decl_line = 0;
  if (dwarf_decl_line(die, &decl_line) != 0 || decl_line < 0) decl_line = 0;
  // Inlined copies of one function share an entry.
  auto [it, inserted] = building_->function_ids.try_emplace(
      std::make_pair(symbol, decl_line),
      static_cast<uint32_t>(functions_.size()));
  if (!inserted) return it->second;
  FunctionInfo info;
  info.symbol = symbol;
  info.linkage = linkage != nullptr;
  info.start_line = decl_line;
  functions_.push_back(info);
  return it->second;
}

int32_t CompileUnitIndex::InternFile(Dwarf_Word index) {
  auto [it, inserted] = building_->file_ids.try_emplace(index, -1);
  if (!inserted || building_->files == nullptr) return it->second;
  const char* name = dwarf_filesrc(building_->files, index, nullptr, nullptr);
  if (name == nullptr) return -1;
  files_.push_back(SanitizeUtf8(name));
  it->second = static_cast<int32_t>(files_.size() - 1);
  return it->second;
}

void CompileUnitIndex::Walk(Dwarf_Die* die, int parent, int depth,
                            std::vector<Range>* ranges) {
  Dwarf_Die child;
  if (dwarf_child(die, &child) != 0) return;
  do {
    int tag = dwarf_tag(&child);
    int child_parent = parent;
    int child_depth = depth;
    if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
      // Only concrete instances have code; abstract and declaration DIEs
      // have no ranges and create no node.
      size_t first_range = ranges->size();
      int node = static_cast<int>(nodes_.size());
      Dwarf_Addr base = 0, low = 0, high = 0;
      for (ptrdiff_t off = 0;
           (off = dwarf_ranges(&child, off, &base, &low, &high)) > 0;) {
        if (low < high) ranges->push_back({low, high, node});
      }
      if (ranges->size() > first_range) {
        Node n;
        n.inlined = tag == DW_TAG_inlined_subroutine;
        n.parent = n.inlined ? parent : -1;
        n.depth = depth;
        n.function = InternFunction(&child);
        if (n.inlined) {
          Dwarf_Attribute attr;
          Dwarf_Word value = 0;
          if (dwarf_formudata(dwarf_attr(&child, DW_AT_call_file, &attr),
                              &value) == 0) {
            n.call_file = InternFile(value);
          }
          if (dwarf_formudata(dwarf_attr(&child, DW_AT_call_line, &attr),
                              &value) == 0) {
            n.call_line = static_cast<int64_t>(value);
          }
        }
        nodes_.push_back(n);
        child_parent = node;
        child_depth = depth + 1;
      }
    }
    Walk(&child, child_parent, child_depth, ranges);
  } while (dwarf_siblingof(&child, &child) == 0);
}

void CompileUnitIndex::BuildSegments(const std::vector<Range>& ranges) {
  // Sweep over range boundaries; between two boundaries the deepest active
  // node is the innermost function.
  struct Event {
    uint64_t address;
    bool start;
    int node;
  };
  std::vector<Event> events;
  events.reserve(2 * ranges.size());
  for (const Range& r : ranges) {
    events.push_back({r.low, true, r.node});
    events.push_back({r.high, false, r.node});
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.address < b.address;
  });
  std::set<std::pair<int, int>> active;  // (depth, node)
  for (size_t i = 0; i < events.size();) {
    uint64_t address = events[i].address;
    for (; i < events.size() && events[i].address == address; ++i) {
      std::pair<int, int> key(nodes_[events[i].node].depth, events[i].node);
      if (events[i].start) {
        active.insert(key);
      } else {
        active.erase(key);
      }
    }
    int label = active.empty() ? -1 : active.rbegin()->second;
    if (!segment_nodes_.empty() && segment_nodes_.back() == label) continue;
    segment_starts_.push_back(address);
    segment_nodes_.push_back(label);
  }
}

size_t CompileUnitIndex::MemoryBytes() const {
  size_t bytes = files_.capacity() * sizeof(std::string) +
                 functions_.capacity() * sizeof(FunctionInfo) +
                 nodes_.capacity() * sizeof(Node) +
                 segment_starts_.capacity() * sizeof(uint64_t) +
                 segment_nodes_.capacity() * sizeof(int);
  for (const std::string& file : files_) bytes += StringHeapBytes(file);
  return bytes;
}

bool CompileUnitIndex::Lookup(uint64_t pc, std::string* file, int64_t* line,
                              std::vector<SourceFrame>* frames) const {
  auto it =
      std::upper_bound(segment_starts_.begin(), segment_starts_.end(), pc);
  if (it == segment_starts_.begin()) return false;
  int node = segment_nodes_[it - segment_starts_.begin() - 1];
  for (; node >= 0; node = nodes_[node].parent) {
    const Node& n = nodes_[node];
    const FunctionInfo& f = functions_[n.function];
    if (f.symbol == nullptr && !n.inlined) return false;  // symbol table's
    SourceFrame frame;
    if (f.symbol == nullptr) {
      frame.name = frame.system_name = "??";
    } else {
      frame.system_name = SanitizeUtf8(f.symbol);
      // DWARF's plain name of a template instance carries its arguments
      // ("__invoke_impl<void, ...>"): shown as pprof shows C++, without
      // them.
      frame.name =
          SanitizeUtf8(f.linkage ? FunctionDisplayName(f.symbol)
                                 : StripTemplatesAndReturnType(f.symbol));
    }
    frame.start_line = f.start_line;
    frame.file = *file;
    frame.line = *line;
    frames->push_back(std::move(frame));
    if (!n.inlined) return true;
    *file = n.call_file >= 0 ? files_[n.call_file] : "";
    *line = n.call_line;
  }
  return false;
}

}  // namespace inprof::internal
