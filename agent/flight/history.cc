#include "agent/flight/history.h"

#include <algorithm>

namespace inprof::internal {

void HistoryRing::Add(const RawSample& sample) {
  if (sample.request_id == 0 || sample.depth == 0 || samples_.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  samples_[next_] = sample;
  next_ = (next_ + 1) % samples_.size();
  ++kept_;
}

HistoryRing::Window HistoryRing::ForRequest(uint64_t request_id,
                                            uint64_t since_ns) const {
  Window window;
  std::lock_guard<std::mutex> lock(mu_);
  const size_t held =
      static_cast<size_t>(std::min<uint64_t>(kept_, samples_.size()));
  const size_t oldest = kept_ > samples_.size() ? next_ : 0;
  for (size_t i = 0; i < held; ++i) {
    const RawSample& s = samples_[(oldest + i) % samples_.size()];
    if (s.request_id == request_id && s.timestamp_ns >= since_ns) {
      window.samples.push_back(s);
    }
  }
  if (kept_ > samples_.size() && samples_[oldest].timestamp_ns > since_ns) {
    window.history_starts_ns = samples_[oldest].timestamp_ns;
  }
  return window;
}

uint64_t HistoryRing::kept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_;
}

}  // namespace inprof::internal
