// LocationTable fills a Profile's mapping, location and function tables from
// raw addresses, symbolizing each distinct address once, so that the profile
// ships fully symbolized (pprof-spec.md §2.4, §2.5, §2.8).
//
// Example:
//
//   Symbolizer symbolizer;
//   Profile profile;
//   LocationTable table(&symbolizer, &profile);
//   sample.location_ids.push_back(table.LocationId(pc));
//   sample.location_ids.push_back(table.SyntheticLocationId("inprof.lostSamples"));
//   table.Finish();
//
#ifndef INPROF_AGENT_SYMBOLIZE_LOCATION_TABLE_H_
#define INPROF_AGENT_SYMBOLIZE_LOCATION_TABLE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "agent/profile/profile.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {

// LocationTable
//
// The constructor appends every executable mapping of the process to
// profile->mappings, main executable first (so it is mapping id 1 in an
// empty profile), with the true /proc/self/maps start, limit and offset.
// Locations and functions are appended as they are first seen; ids are
// 1..N in array order (pprof-spec.md §2.3) as long as the table is the only
// writer of those three arrays.
//
// Ownership: borrows `symbolizer` and `profile`, which must outlive it.
//
// Thread safety: not thread-safe; use from one thread (the one owning the
// symbolizer and the profile). Not async-signal-safe.
class LocationTable {
 public:
  LocationTable(Symbolizer* symbolizer, Profile* profile);
  LocationTable(const LocationTable&) = delete;
  LocationTable& operator=(const LocationTable&) = delete;

  // Returns the id of the location for `address` (already adjusted by the
  // caller: return address − 1 for non-leaf frames), creating and
  // symbolizing it on first sight. The location keeps `address` and points
  // to the mapping containing it (mapping_id 0 if none).
  uint64_t LocationId(uint64_t address);

  // Returns the id of a location for a pseudo-frame such as
  // "inprof.lostSamples": mapping_id 0, one line naming `function_name`, and
  // a nonzero fake address above the user-space range that depends only on
  // the name (stable across profiles, as delta consumers need, §4.2).
  uint64_t SyntheticLocationId(std::string_view function_name);

  // Sets the flags of every mapping: has_functions always (every location
  // carries names); has_filenames / has_line_numbers iff the mapping has
  // locations and all of them got a file / a line for every frame;
  // has_inline_frames iff any of its locations has more than one line.
  void Finish();

 private:
  uint64_t AddMapping(const ProcessMapping& m);
  uint64_t MappingId(uint64_t address);
  uint64_t FunctionId(const SourceFrame& frame);
  uint64_t AddLocation(uint64_t mapping_id, uint64_t address,
                       const std::vector<SourceFrame>& frames);

  Symbolizer* const symbolizer_;
  Profile* const profile_;
  // (start, limit, offset, path) -> mapping id.
  std::map<std::tuple<uint64_t, uint64_t, uint64_t, std::string>, uint64_t>
      mapping_ids_;
  std::unordered_map<uint64_t, uint64_t> location_ids_;      // by address
  std::unordered_map<std::string, uint64_t> synthetic_ids_;  // by name
  std::unordered_set<uint64_t> synthetic_addresses_;
  // name '\0' system_name '\0' file '\0' start_line -> function id.
  std::unordered_map<std::string, uint64_t> function_ids_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_LOCATION_TABLE_H_
