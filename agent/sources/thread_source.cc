#include "agent/sources/thread_source.h"

#include "agent/threads/thread_profile.h"

namespace inprof::internal {

ThreadProfileSource::ThreadProfileSource(ThreadDumper* dumper,
                                         SharedSymbolizer* symbolizer)
    : dumper_(dumper), symbolizer_(symbolizer) {}

StatusOr<ThreadDump> ThreadProfileSource::Dump(const ProfileRequest& request) {
  if (request.seconds > 0) {
    return InvalidArgumentError(
        "goroutine: seconds is not supported: a thread dump is a point in "
        "time");
  }
  return dumper_->Dump();
}

StatusOr<Profile> ThreadProfileSource::Build(const ProfileRequest& request) {
  StatusOr<ThreadDump> dump = Dump(request);
  if (!dump.ok()) return dump.status();
  return symbolizer_->Build(request.cancelled, [&](Symbolizer* s) {
    return BuildThreadProfile(*dump, s);
  });
}

StatusOr<std::string> ThreadProfileSource::Text(const ProfileRequest& request) {
  StatusOr<ThreadDump> dump = Dump(request);
  if (!dump.ok()) return dump.status();
  const int debug = request.debug;
  return symbolizer_->Build(request.cancelled, [&](Symbolizer* s) {
    return debug == 1 ? ThreadProfileText(*dump, s) : ThreadDumpText(*dump, s);
  });
}

}  // namespace inprof::internal
