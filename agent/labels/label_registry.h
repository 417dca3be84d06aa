// LabelRegistry interns the label sets of inprof::RequestScope: each distinct
// set of (key, value) pairs gets a small id once, the thread's TLS carries
// that id (agent/base/thread_labels.h), every sampler stamps it on its
// samples, and the profile builders turn it back into Sample.label.
//
// A set is found by a hash that does not depend on the order of its pairs
// (the sum of the pairs' hashes), so a nested scope's set — its outer set
// with some pairs added or replaced — is hashed from the outer set's hash
// without sorting or copying anything. Looking up a known set takes no lock
// and allocates nothing; a new set is built under a mutex, once.
//
// Bounded: at most inprof::kMaxLabelSets sets and kMaxStringBytes of keys
// and values in all. Past either bound, Derive returns kOverflowSet, whose
// single label endpoint="inprof.LabelSetsFull" shows in every profile.
//
// Ownership: one process-wide instance (Global()), constant-initialized, so
// that it exists before any static constructor may open a scope; sets are
// never freed (they are bounded, and samples refer to them by id at any
// time).
// Thread safety: thread-safe. Find() is lock-free and never blocks.
#ifndef INPROF_AGENT_LABELS_LABEL_REGISTRY_H_
#define INPROF_AGENT_LABELS_LABEL_REGISTRY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "inprof/request.h"

namespace inprof::internal {

// One label of an interned set, with its hash (the set's hash is the sum of
// its pairs').
struct LabelPair {
  std::string_view key;
  std::string_view value;
  uint64_t hash = 0;
};

// An interned set: pairs sorted by key, keys unique. Immutable once
// published; the strings live as long as the set.
struct LabelSet {
  uint64_t hash = 0;
  std::span<const LabelPair> pairs;
};

// The key RequestScope's endpoint is recorded under.
inline constexpr std::string_view kEndpointKey = "endpoint";

class LabelRegistry {
 public:
  // Id of "no labels"; Find(kNoLabels) is nullptr.
  static constexpr uint64_t kNoLabels = 0;
  // Id of the set given once the registry is full.
  static constexpr uint64_t kOverflowSet = 1;
  static constexpr std::string_view kOverflowEndpoint = "inprof.LabelSetsFull";
  // Bytes of keys and values the registry may hold in all.
  static constexpr size_t kMaxStringBytes = size_t{1} << 20;

  static LabelRegistry& Global();

  // The id of the set `outer` with `endpoint` (under kEndpointKey, unless
  // empty) and `labels` added, each replacing a pair of the same key (a
  // later one in `labels` wins). Strings are cut to inprof::kMaxLabelBytes.
  uint64_t Derive(uint64_t outer, std::string_view endpoint,
                  std::span<const inprof::Label> labels) noexcept;

  // The set of `id`, or nullptr for kNoLabels and ids never given out.
  // Lock-free.
  const LabelSet* Find(uint64_t id) const noexcept;

  // Sets interned so far (the overflow set not included).
  size_t size() const noexcept {
    return count_.load(std::memory_order_relaxed);
  }
  // Derive calls that got kOverflowSet.
  uint64_t overflows() const noexcept {
    return overflows_.load(std::memory_order_relaxed);
  }

  // For tests only: a registry of its own, as empty as Global() at start.
  constexpr LabelRegistry() = default;
  LabelRegistry(const LabelRegistry&) = delete;
  LabelRegistry& operator=(const LabelRegistry&) = delete;
  ~LabelRegistry();

 private:
  static constexpr size_t kSlots = 2 * kMaxLabelSets;  // a power of two
  static constexpr size_t kMaxPending = kMaxLabelsPerSet + 1;

  struct Candidate;  // the set Derive looks for (label_registry.cc)

  uint64_t FindCandidate(const Candidate& candidate) const noexcept;
  uint64_t Intern(const Candidate& candidate);

  // entries_[id] for ids 2.. (0 and 1 are never stored).
  std::atomic<const LabelSet*> entries_[kMaxLabelSets + 2] = {};
  // Open addressing by hash; each slot holds an id, 0 when empty.
  std::atomic<uint32_t> slots_[kSlots] = {};
  std::atomic<size_t> count_{0};
  std::atomic<uint64_t> overflows_{0};
  size_t string_bytes_ = 0;  // under mutex_
  std::mutex mutex_;         // writers only
};

// Go's text form of a label set, as `# labels: ` lines print it:
// {"endpoint":"GET /users", "tenant":"acme"} (keys sorted, Go-quoted).
std::string GoLabelsText(const LabelSet& set);

// The `endpoint` label of the registered set `label_set`, empty when it has
// none or is unknown. The view lives as long as the registry (forever).
std::string_view EndpointOf(uint64_t label_set);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_LABELS_LABEL_REGISTRY_H_
