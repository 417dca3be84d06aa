#include "agent/symbolize/location_table.h"

#include <utility>

#include "agent/symbolize/utf8.h"

namespace inprof::internal {
namespace {

// Fake addresses of synthetic frames live in [kSyntheticBase, 2^64): never
// user-space code (which ends below 2^47 on x86_64) and above the kernel's
// text (0xffffffff8...) only in the top byte's lowest bit, so a collision
// with a real frame would need a kernel address in that exact window.
constexpr uint64_t kSyntheticBase = 0xfffe000000000000;
constexpr uint64_t kSyntheticMask = 0x0000ffffffffffff;

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3;
  }
  return h;
}

}  // namespace

LocationTable::LocationTable(Symbolizer* symbolizer, Profile* profile)
    : symbolizer_(symbolizer), profile_(profile) {
  for (const ProcessMapping& m : symbolizer_->mappings()) AddMapping(m);
}

uint64_t LocationTable::AddMapping(const ProcessMapping& m) {
  auto [it, inserted] = mapping_ids_.try_emplace(
      std::make_tuple(m.start, m.limit, m.offset, m.path), 0);
  if (!inserted) return it->second;
  Mapping mapping;
  mapping.id = profile_->mappings.size() + 1;
  mapping.memory_start = m.start;
  mapping.memory_limit = m.limit;
  mapping.file_offset = m.offset;
  mapping.filename = SanitizeUtf8(m.path);
  mapping.build_id = m.build_id;
  profile_->mappings.push_back(std::move(mapping));
  it->second = profile_->mappings.back().id;
  return it->second;
}

uint64_t LocationTable::MappingId(uint64_t address) {
  // Mappings that appeared after construction (Symbolizer::Refresh after a
  // dlopen) are appended on first use.
  const ProcessMapping* m = symbolizer_->MappingFor(address);
  return m == nullptr ? 0 : AddMapping(*m);
}

uint64_t LocationTable::FunctionId(const SourceFrame& frame) {
  std::string key = frame.name;
  key.push_back('\0');
  key.append(frame.system_name);
  key.push_back('\0');
  key.append(frame.file);
  key.push_back('\0');
  key.append(std::to_string(frame.start_line));
  auto [it, inserted] = function_ids_.try_emplace(std::move(key), 0);
  if (inserted) {
    Function function;
    function.id = profile_->functions.size() + 1;
    function.name = frame.name;
    function.system_name = frame.system_name;
    function.filename = frame.file;
    function.start_line = frame.start_line;
    profile_->functions.push_back(std::move(function));
    it->second = profile_->functions.back().id;
  }
  return it->second;
}

uint64_t LocationTable::AddLocation(uint64_t mapping_id, uint64_t address,
                                    const std::vector<SourceFrame>& frames) {
  Location location;
  location.id = profile_->locations.size() + 1;
  location.mapping_id = mapping_id;
  location.address = address;
  location.lines.reserve(frames.size());
  for (const SourceFrame& frame : frames) {
    location.lines.push_back(
        Line{.function_id = FunctionId(frame), .line = frame.line});
  }
  profile_->locations.push_back(std::move(location));
  return profile_->locations.back().id;
}

uint64_t LocationTable::LocationId(uint64_t address) {
  auto it = location_ids_.find(address);
  if (it != location_ids_.end()) return it->second;
  uint64_t mapping_id = MappingId(address);
  uint64_t id =
      AddLocation(mapping_id, address, symbolizer_->Symbolize(address));
  location_ids_.emplace(address, id);
  return id;
}

uint64_t LocationTable::SyntheticLocationId(std::string_view function_name) {
  std::string name = SanitizeUtf8(function_name);
  auto it = synthetic_ids_.find(name);
  if (it != synthetic_ids_.end()) return it->second;
  uint64_t address = kSyntheticBase | (Fnv1a(name) & kSyntheticMask);
  while (!synthetic_addresses_.insert(address).second) {
    address = kSyntheticBase | ((address + 1) & kSyntheticMask);
  }
  SourceFrame frame;
  frame.name = name;
  frame.system_name = name;
  uint64_t id = AddLocation(/*mapping_id=*/0, address, {frame});
  synthetic_ids_.emplace(std::move(name), id);
  return id;
}

void LocationTable::Finish() {
  struct Coverage {
    bool any = false;
    bool files = true;
    bool lines = true;
    bool inlines = false;
  };
  std::vector<Coverage> coverage(profile_->mappings.size());
  for (const Location& location : profile_->locations) {
    if (location.mapping_id == 0 ||
        location.mapping_id > profile_->mappings.size()) {
      continue;
    }
    Coverage& c = coverage[location.mapping_id - 1];
    c.any = true;
    c.inlines |= location.lines.size() > 1;
    if (location.lines.empty()) c.files = c.lines = false;
    for (const Line& line : location.lines) {
      const Function& f = profile_->functions[line.function_id - 1];
      c.files &= !f.filename.empty();
      c.lines &= line.line > 0;
    }
  }
  for (size_t i = 0; i < profile_->mappings.size(); ++i) {
    Mapping& m = profile_->mappings[i];
    m.has_functions = true;
    m.has_filenames = coverage[i].any && coverage[i].files;
    m.has_line_numbers = coverage[i].any && coverage[i].lines;
    m.has_inline_frames = coverage[i].inlines;
  }
}

}  // namespace inprof::internal
