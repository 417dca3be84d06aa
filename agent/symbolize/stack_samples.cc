#include "agent/symbolize/stack_samples.h"

#include <utility>

#include "agent/labels/label_registry.h"
#include "agent/symbolize/utf8.h"

namespace inprof::internal {

StackSampleBuilder::StackSampleBuilder(Symbolizer* symbolizer, Profile* profile)
    : symbolizer_(symbolizer),
      profile_(profile),
      locations_(symbolizer, profile) {}

Sample& StackSampleBuilder::Add(std::span<const uint64_t> pcs, Leaf leaf,
                                std::string_view empty_stack_frame,
                                std::vector<int64_t> values,
                                uint64_t label_set) {
  if (pcs.empty()) {
    Sample& sample = AddPseudoFrame(empty_stack_frame, std::move(values));
    AddLabels(sample, label_set);
    return sample;
  }
  Sample sample;
  sample.location_ids.reserve(pcs.size());
  for (size_t i = 0; i < pcs.size(); ++i) {
    // A return address points after the call; pc − 1 is inside it.
    const bool exact = i == 0 && leaf == kInterruptedPc;
    sample.location_ids.push_back(
        locations_.LocationId(exact ? pcs[i] : pcs[i] - 1));
  }
  sample.values = std::move(values);
  AddLabels(sample, label_set);
  profile_->samples.push_back(std::move(sample));
  return profile_->samples.back();
}

void StackSampleBuilder::AddLabels(Sample& sample, uint64_t label_set) {
  if (label_set == LabelRegistry::kNoLabels) return;
  auto [it, added] = labels_.try_emplace(label_set);
  if (added) {
    if (const LabelSet* set = LabelRegistry::Global().Find(label_set)) {
      for (const LabelPair& pair : set->pairs) {
        Label label;
        label.key = SanitizeUtf8(pair.key);
        label.str = SanitizeUtf8(pair.value);
        it->second.push_back(std::move(label));
      }
    }
  }
  sample.labels.insert(sample.labels.end(), it->second.begin(),
                       it->second.end());
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
