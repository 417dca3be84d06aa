#include "agent/sources/shared_symbolizer.h"

#include <vector>

namespace inprof::internal {

Status SharedSymbolizer::Run(const std::function<bool()>& cancelled,
                             const std::function<void(Symbolizer*)>& build) {
  const auto gone = [&] {
    return stopping_->load() || (cancelled && cancelled());
  };
  std::lock_guard<std::mutex> lock(mu_);
  if (gone()) return UnavailableError(kProfileCancelled);
  RefreshLocked();
  struct CancelScope {
    Symbolizer& symbolizer;
    ~CancelScope() { symbolizer.set_cancel(nullptr); }
  } scope{symbolizer_};
  symbolizer_.set_cancel(gone);
  build(&symbolizer_);
  // The file pages the build read are not kept between profiles.
  symbolizer_.TrimMappedFiles();
  SaveStatsLocked();
  if (gone()) return UnavailableError(kProfileCancelled);
  return OkStatus();
}

std::string SharedSymbolizer::FunctionName(uint64_t address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_->load()) return "";
  if (symbolizer_.MappingFor(address) == nullptr) return "";
  std::vector<SourceFrame> frames = symbolizer_.Symbolize(address);
  return frames.empty() ? "" : frames.back().name;
}

bool SharedSymbolizer::ReleaseIfIdle(int64_t idle_nanos) {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || !symbolizer_.ReleaseIfIdle(idle_nanos)) {
    return false;
  }
  SaveStatsLocked();
  return true;
}

SymbolizerStats SharedSymbolizer::stats() {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

void SharedSymbolizer::SaveStatsLocked() {
  SymbolizerStats stats = symbolizer_.stats();
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_ = stats;
}

void SharedSymbolizer::RefreshLocked() {
  LoaderGeneration generation = CurrentLoaderGeneration();
  if (!(generation == loader_generation_)) {
    symbolizer_.Refresh();  // modules were loaded or unloaded
    loader_generation_ = generation;
  }
}

}  // namespace inprof::internal
