// The memory-map section that ends gperftools' legacy profiles (the text of
// /proc/self/maps, or pprof's brief "start-end file (@offset) buildid"
// form), turned into profile Mappings and attached to locations as google/
// pprof's legacy reader does (profile/legacy_profile.go ParseMemoryMap and
// profile.go massageMappings): executable entries only, adjacent entries of
// one file merged, the main binary swapped to the front, every address given
// a mapping (a catch-all one for addresses outside them all).
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_LEGACY_MAPS_H_
#define INPROF_VIEWER_LEGACY_MAPS_H_

#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "agent/profile/profile.h"

namespace inprof::viewer {

// Parses the map text `maps` into profile->mappings, and sets every
// location's mapping_id by its address. Lines in no known form are skipped,
// as pprof skips them. Mapping ids become 1..N.
void AttachLegacyMappings(std::string_view maps, internal::Profile* profile);

// One Location per distinct address, as legacy profiles carry only
// addresses. Not thread-safe; one per parse.
class LegacyLocations {
 public:
  explicit LegacyLocations(internal::Profile* profile) : profile_(*profile) {}

  // The id of the location at `address`, added to the profile on first use.
  uint64_t IdOf(uint64_t address) {
    auto [it, inserted] =
        ids_.try_emplace(address, profile_.locations.size() + 1);
    if (inserted) {
      internal::Location loc;
      loc.id = it->second;
      loc.address = address;
      profile_.locations.push_back(std::move(loc));
    }
    return it->second;
  }

 private:
  internal::Profile& profile_;
  std::unordered_map<uint64_t, uint64_t> ids_;
};

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_LEGACY_MAPS_H_
