// The "cpu" profile (Go's /debug/pprof/profile): a window of `seconds`
// during which the CPU sampler feeds a recorder of this request's own.
// Several windows may run at once; each sees every sample of its time. The
// CPU time threads used that no sample shows is added as
// inprof.UnsampledCPU (agent/cpu/unsampled_cpu.h).
#ifndef INPROF_AGENT_SOURCES_CPU_SOURCE_H_
#define INPROF_AGENT_SOURCES_CPU_SOURCE_H_

#include <string>
#include <string_view>
#include <vector>

#include "agent/cpu/cpu_profile.h"
#include "agent/cpu/cpu_sampler.h"
#include "agent/cpu/unsampled_cpu.h"
#include "agent/sources/profile_source.h"
#include "agent/sources/shared_symbolizer.h"

namespace inprof::internal {

// The comment that says how long the signal handler ran during the profile:
// "<prefix>12345 us over 998 signals".
inline constexpr char kHandlerCostComment[] =
    "signal handler during the profile: ";
std::string HandlerCostComment(const CpuSamplerStats& start,
                               const CpuSamplerStats& end);

// CpuProfileSource
//
// Ownership: borrows `sampler` and `symbolizer`.
//
// Thread safety: thread-safe.
class CpuProfileSource : public ProfileSource {
 public:
  CpuProfileSource(CpuSampler* sampler, SharedSymbolizer* symbolizer)
      : sampler_(sampler), symbolizer_(symbolizer) {}

  std::string_view name() const override { return "cpu"; }

  // `request.seconds` is the window (at least 1); `debug` is ignored (Go
  // has no text form of a CPU profile).
  StatusOr<Profile> Build(const ProfileRequest& request) override;

 private:
  std::vector<std::string> Comments(const CpuProfileRecorder& recorder,
                                    const UnsampledCpu& unsampled) const;

  CpuSampler* const sampler_;
  SharedSymbolizer* const symbolizer_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SOURCES_CPU_SOURCE_H_
