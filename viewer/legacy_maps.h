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

#include <string_view>

#include "agent/profile/profile.h"

namespace inprof::viewer {

// Parses the map text `maps` into profile->mappings, and sets every
// location's mapping_id by its address. Lines in no known form are skipped,
// as pprof skips them. Mapping ids become 1..N.
void AttachLegacyMappings(std::string_view maps, internal::Profile* profile);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_LEGACY_MAPS_H_
