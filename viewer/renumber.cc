#include "viewer/renumber.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace inprof::viewer {
namespace {

using IdMap = std::unordered_map<uint64_t, uint64_t>;

// Maps each entry's id to its 1-based index and rewrites the id to it.
template <typename T>
StatusOr<IdMap> Renumber(std::vector<T>& table, const char* what) {
  IdMap map;
  map.reserve(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    uint64_t id = table[i].id;
    if (id == 0) {
      return InvalidArgumentError(std::string(what) + "[" + std::to_string(i) +
                                  "] has id 0 (ids must be nonzero)");
    }
    auto [it, inserted] = map.emplace(id, i + 1);
    if (!inserted) {
      return InvalidArgumentError(
          std::string(what) + " id " + std::to_string(id) + " is used by " +
          what + "[" + std::to_string(it->second - 1) + "] and " + what + "[" +
          std::to_string(i) + "]");
    }
  }
  for (size_t i = 0; i < table.size(); ++i) table[i].id = i + 1;
  return map;
}

// Rewrites `*id` through `map`; 0 stays 0 unless `zero_ok` is false.
Status Resolve(const IdMap& map, uint64_t* id, bool zero_ok,
               const std::string& where, const char* what) {
  if (*id == 0 && zero_ok) return OkStatus();
  auto it = map.find(*id);
  if (it == map.end()) {
    return InvalidArgumentError(where + ": " + what + " " +
                                std::to_string(*id) + " does not exist");
  }
  *id = it->second;
  return OkStatus();
}

}  // namespace

Status RenumberIds(internal::Profile* profile) {
  StatusOr<IdMap> mappings = Renumber(profile->mappings, "mapping");
  if (!mappings.ok()) return mappings.status();
  StatusOr<IdMap> functions = Renumber(profile->functions, "function");
  if (!functions.ok()) return functions.status();
  // Location ids are renumbered after their own references are resolved,
  // so that error messages name the ids the file uses.
  for (internal::Location& loc : profile->locations) {
    std::string where = "location " + std::to_string(loc.id);
    Status s = Resolve(*mappings, &loc.mapping_id, /*zero_ok=*/true, where,
                       "mapping_id");
    if (!s.ok()) return s;
    for (internal::Line& line : loc.lines) {
      s = Resolve(*functions, &line.function_id, /*zero_ok=*/true, where,
                  "function_id");
      if (!s.ok()) return s;
    }
  }
  StatusOr<IdMap> locations = Renumber(profile->locations, "location");
  if (!locations.ok()) return locations.status();
  for (size_t i = 0; i < profile->samples.size(); ++i) {
    std::string where = "sample[" + std::to_string(i) + "]";
    for (uint64_t& id : profile->samples[i].location_ids) {
      Status s =
          Resolve(*locations, &id, /*zero_ok=*/false, where, "location_id");
      if (!s.ok()) return s;
    }
  }
  return OkStatus();
}

}  // namespace inprof::viewer
