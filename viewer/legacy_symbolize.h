// Names the addresses of a legacy (gperftools) profile, which carries only
// addresses and the process's memory map, from the mapped files as they are
// on this machine — what `go tool pprof` does with addr2line, done in-process
// with the agent's symbolizer (libdwfl: DWARF, inlined calls, symbol tables,
// separate debug files by build id).
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_LEGACY_SYMBOLIZE_H_
#define INPROF_VIEWER_LEGACY_SYMBOLIZE_H_

#include "agent/profile/profile.h"

namespace inprof::viewer {

// Gives every location whose address a mapped file names its lines
// (innermost inlined function first), adding Functions, and sets the
// mappings' build ids and has_* flags from what was found. Locations in
// files that are missing or have no symbol for them are left without lines.
void SymbolizeLegacyProfile(internal::Profile* profile);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_LEGACY_SYMBOLIZE_H_
