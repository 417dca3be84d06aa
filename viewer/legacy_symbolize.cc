#include "viewer/legacy_symbolize.h"

#include <map>
#include <tuple>
#include <vector>

#include "agent/symbolize/mappings.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::viewer {

void SymbolizeLegacyProfile(internal::Profile* profile) {
  std::vector<internal::ProcessMapping> mapped;
  for (internal::Mapping& m : profile->mappings) {
    if (m.filename.empty() || m.filename[0] != '/') continue;
    if (m.build_id.empty())
      m.build_id = internal::ReadBuildIdFromFile(m.filename);
    internal::ProcessMapping pm;
    pm.start = m.memory_start;
    pm.limit = m.memory_limit;
    pm.offset = m.file_offset;
    pm.path = m.filename;
    pm.build_id = m.build_id;
    mapped.push_back(std::move(pm));
  }
  if (mapped.empty()) return;
  internal::Symbolizer symbolizer(std::move(mapped));

  using FunctionKey = std::tuple<std::string, std::string, std::string>;
  std::map<FunctionKey, uint64_t> function_ids;
  auto function_id = [&](internal::SourceFrame& f) {
    auto [it, inserted] =
        function_ids.try_emplace(FunctionKey{f.name, f.system_name, f.file},
                                 profile->functions.size() + 1);
    if (inserted) {
      internal::Function fn;
      fn.id = it->second;
      fn.name = f.name;
      fn.system_name = f.system_name;
      fn.filename = f.file;
      fn.start_line = f.start_line;
      profile->functions.push_back(std::move(fn));
    }
    return it->second;
  };
  std::vector<bool> symbolized(profile->mappings.size() + 1, false);
  for (internal::Location& loc : profile->locations) {
    if (loc.mapping_id == 0 || loc.mapping_id > profile->mappings.size()) {
      continue;
    }
    const internal::Mapping& m = profile->mappings[loc.mapping_id - 1];
    if (m.filename.empty() || m.filename[0] != '/') continue;
    std::vector<internal::SourceFrame> frames =
        symbolizer.Symbolize(loc.address);
    if (frames.empty() || frames.back().unknown) continue;
    loc.lines.clear();
    for (internal::SourceFrame& f : frames) {
      loc.lines.push_back({function_id(f), f.line, 0});
    }
    symbolized[loc.mapping_id] = true;
  }
  for (internal::Mapping& m : profile->mappings) {
    if (!symbolized[m.id]) continue;
    m.has_functions = m.has_filenames = m.has_line_numbers =
        m.has_inline_frames = true;
  }
}

}  // namespace inprof::viewer
