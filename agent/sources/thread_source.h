// The "goroutine" profile (Go's name, so that scrapers and habits find it;
// /debug/pprof/threads is the same): every thread's stack now, from a
// ThreadDumper, in the three forms of agent/threads/thread_profile.h.
#ifndef INPROF_AGENT_SOURCES_THREAD_SOURCE_H_
#define INPROF_AGENT_SOURCES_THREAD_SOURCE_H_

#include <string>
#include <string_view>

#include "agent/sources/profile_source.h"
#include "agent/sources/shared_symbolizer.h"
#include "agent/threads/thread_dumper.h"

namespace inprof::internal {

// ThreadProfileSource
//
// Ownership: borrows `dumper` and `symbolizer`.
//
// Thread safety: thread-safe (dumps run one at a time: a second one waits
// for the first, up to ThreadDumperOptions::wait_for_other, then gets
// kUnavailable).
class ThreadProfileSource : public ProfileSource {
 public:
  ThreadProfileSource(ThreadDumper* dumper, SharedSymbolizer* symbolizer);

  std::string_view name() const override { return "goroutine"; }
  // A point in time: `seconds` is refused (kInvalidArgument).
  StatusOr<Profile> Build(const ProfileRequest& request) override;
  // debug=1: grouped stacks; debug=2 (and more): one entry per thread.
  StatusOr<std::string> Text(const ProfileRequest& request) override;

 private:
  StatusOr<ThreadDump> Dump(const ProfileRequest& request);

  ThreadDumper* const dumper_;
  SharedSymbolizer* const symbolizer_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SOURCES_THREAD_SOURCE_H_
