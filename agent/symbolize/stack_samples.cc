#include "agent/symbolize/stack_samples.h"

#include <utility>

namespace inprof::internal {

StackSampleBuilder::StackSampleBuilder(Symbolizer* symbolizer, Profile* profile)
    : symbolizer_(symbolizer),
      profile_(profile),
      locations_(symbolizer, profile) {}

Sample& StackSampleBuilder::Add(std::span<const uint64_t> pcs, Leaf leaf,
                                std::string_view empty_stack_frame,
                                std::vector<int64_t> values) {
  if (pcs.empty()) return AddPseudoFrame(empty_stack_frame, std::move(values));
  Sample sample;
  sample.location_ids.reserve(pcs.size());
  for (size_t i = 0; i < pcs.size(); ++i) {
    // A return address points after the call; pc − 1 is inside it.
    const bool exact = i == 0 && leaf == kInterruptedPc;
    sample.location_ids.push_back(
        locations_.LocationId(exact ? pcs[i] : pcs[i] - 1));
  }
  sample.values = std::move(values);
  profile_->samples.push_back(std::move(sample));
  return profile_->samples.back();
}

Sample& StackSampleBuilder::AddPseudoFrame(std::string_view frame,
                                           std::vector<int64_t> values) {
  Sample sample;
  sample.location_ids = {locations_.SyntheticLocationId(frame)};
  sample.values = std::move(values);
  profile_->samples.push_back(std::move(sample));
  return profile_->samples.back();
}

}  // namespace inprof::internal
