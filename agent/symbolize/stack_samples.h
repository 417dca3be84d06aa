// StackSampleBuilder turns raw stacks into profile samples: the one place
// that knows which frames are return addresses (symbolized at pc − 1,
// pprof-spec.md §2.5), how an empty stack or a pseudo-frame such as
// "inprof.LostSamples" is shown, and which labels a sample carries (the
// string labels of its label set, agent/labels/label_registry.h).
// The CPU, heap and contention profile builders all go through it, so a
// rule about stacks is written once.
//
// Example:
//
//   Profile profile;
//   StackSampleBuilder samples(&symbolizer, &profile);
//   for (const Record& r : records) {
//     if (samples.cancelled()) break;
//     samples.Add(r.pcs, StackSampleBuilder::kAllReturnAddresses,
//                 "inprof.StackOverflow", {r.count, r.nanos}, r.label_set);
//   }
//   samples.Finish();
//
#ifndef INPROF_AGENT_SYMBOLIZE_STACK_SAMPLES_H_
#define INPROF_AGENT_SYMBOLIZE_STACK_SAMPLES_H_

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/profile/profile.h"
#include "agent/symbolize/location_table.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {

// StackSampleBuilder
//
// Appends samples to `profile->samples` and fills its mapping, location
// and function tables through a LocationTable (so the mappings are
// appended at construction, main executable first).
//
// Ownership: borrows `symbolizer` and `profile`, which must outlive it.
//
// Thread safety: not thread-safe; one thread, the one owning the symbolizer
// (the agent holds its symbolizer lock while a profile is built).
class StackSampleBuilder {
 public:
  // What the innermost pc of a stack is.
  enum Leaf {
    // A stack walked from a signal: the innermost pc is the interrupted
    // instruction itself, symbolized as is; the others are return
    // addresses.
    kInterruptedPc,
    // A stack walked from a call (an allocation, a lock): every pc is a
    // return address.
    kAllReturnAddresses,
  };

  StackSampleBuilder(Symbolizer* symbolizer, Profile* profile);
  StackSampleBuilder(const StackSampleBuilder&) = delete;
  StackSampleBuilder& operator=(const StackSampleBuilder&) = delete;

  // Appends a sample of `pcs` (innermost first) with `values` and the
  // string labels of `label_set` (none for LabelRegistry::kNoLabels); an
  // empty stack (its frames were not recorded: a full table) becomes the
  // single pseudo-frame `empty_stack_frame`. Returns the sample, valid until
  // the next Add, for the caller to add numeric labels.
  Sample& Add(std::span<const uint64_t> pcs, Leaf leaf,
              std::string_view empty_stack_frame, std::vector<int64_t> values,
              uint64_t label_set);

  // Appends a sample whose only frame is the pseudo-frame `frame` (see
  // LocationTable::SyntheticLocationId).
  Sample& AddPseudoFrame(std::string_view frame, std::vector<int64_t> values);

  // True once the profile's requester left or the agent is stopping
  // (Symbolizer::cancelled()): builders stop adding, the result is dropped.
  bool cancelled() { return symbolizer_->cancelled(); }

  // Call once, after the last Add: sets the mappings' flags.
  void Finish() { locations_.Finish(); }

 private:
  void AddLabels(Sample& sample, uint64_t label_set);

  Symbolizer* const symbolizer_;
  Profile* const profile_;
  LocationTable locations_;
  // Each label set's labels, made once (UTF-8 repaired) per profile.
  std::unordered_map<uint64_t, std::vector<Label>> labels_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_STACK_SAMPLES_H_
