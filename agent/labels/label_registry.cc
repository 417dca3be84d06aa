#include "agent/labels/label_registry.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include "agent/base/agent_thread.h"

namespace inprof::internal {
namespace {

// A fast hash of a short string, 8 bytes at a time.
uint64_t HashBytes(std::string_view s) noexcept {
  uint64_t h = 0x9E3779B97F4A7C15u ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    h = (h ^ word) * 0xff51afd7ed558ccdu;
    h ^= h >> 32;
  }
  if (i < s.size()) {
    uint64_t word = 0;
    std::memcpy(&word, s.data() + i, s.size() - i);
    h = (h ^ word) * 0xc4ceb9fe1a85ec53u;
    h ^= h >> 29;
  }
  return h;
}

// A set's hash is the sum of its pairs' hashes: independent of their order,
// and a pair can be taken out again by subtracting it.
uint64_t PairHash(std::string_view key, std::string_view value) noexcept {
  uint64_t h = HashBytes(key) * 0x9E3779B97F4A7C15u ^ HashBytes(value);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9u;
  return h ^ (h >> 27);
}

std::string_view Cut(std::string_view s) noexcept {
  return s.substr(0, std::min(s.size(), kMaxLabelBytes));
}

constexpr LabelPair kOverflowPairs[] = {
    {kEndpointKey, LabelRegistry::kOverflowEndpoint}};
// Never looked up by hash: Derive returns its id directly.
constexpr LabelSet kOverflow = {0, kOverflowPairs};

constinit LabelRegistry g_registry;

}  // namespace

// The set Derive looks for: `outer`'s pairs, those whose key is in `added`
// replaced by `added`'s.
struct LabelRegistry::Candidate {
  const LabelSet* outer = nullptr;
  LabelPair added[kMaxPending];
  size_t added_count = 0;
  size_t size = 0;
  uint64_t hash = 0;

  const LabelPair* FindAdded(std::string_view key) const noexcept {
    for (size_t i = 0; i < added_count; ++i) {
      if (added[i].key == key) return &added[i];
    }
    return nullptr;
  }
  // Adds or replaces a pair of `added`; false when there are too many.
  bool Add(std::string_view key, std::string_view value) noexcept {
    for (size_t i = 0; i < added_count; ++i) {
      if (added[i].key == key) {
        added[i].value = value;
        return true;
      }
    }
    if (added_count == kMaxPending) return false;
    added[added_count++] = {key, value};
    return true;
  }
  bool Matches(const LabelSet& set) const noexcept {
    if (set.hash != hash || set.pairs.size() != size) return false;
    for (const LabelPair& pair : set.pairs) {
      const LabelPair* want = FindAdded(pair.key);
      if (want == nullptr) want = FindOuter(pair.key);
      if (want == nullptr || want->value != pair.value) return false;
    }
    return true;
  }
  const LabelPair* FindOuter(std::string_view key) const noexcept {
    if (outer == nullptr) return nullptr;
    for (const LabelPair& pair : outer->pairs) {
      if (pair.key == key) return &pair;
    }
    return nullptr;
  }
};

LabelRegistry& LabelRegistry::Global() { return g_registry; }

LabelRegistry::~LabelRegistry() {
  // The global registry outlives every thread that may still read it at
  // exit; only a test's own registry frees its sets.
  if (this == &g_registry) return;
  for (auto& entry : entries_) {
    const LabelSet* set = entry.load(std::memory_order_relaxed);
    if (set != nullptr) ::operator delete(const_cast<LabelSet*>(set));
  }
}

const LabelSet* LabelRegistry::Find(uint64_t id) const noexcept {
  if (id == kOverflowSet) return &kOverflow;
  if (id < 2 || id >= kMaxLabelSets + 2) return nullptr;
  return entries_[id].load(std::memory_order_acquire);
}

uint64_t LabelRegistry::Derive(uint64_t outer, std::string_view endpoint,
                               std::span<const inprof::Label> labels) noexcept {
  if (outer == kOverflowSet) return kOverflowSet;
  Candidate candidate;
  candidate.outer = Find(outer);
  bool fits = endpoint.empty() || candidate.Add(kEndpointKey, Cut(endpoint));
  for (const inprof::Label& label : labels) {
    if (!fits) break;
    fits = candidate.Add(Cut(label.key), Cut(label.value));
  }
  if (!fits) {
    overflows_.fetch_add(1, std::memory_order_relaxed);
    return kOverflowSet;
  }
  if (candidate.added_count == 0) return outer;
  candidate.hash = candidate.outer == nullptr ? 0 : candidate.outer->hash;
  candidate.size = candidate.added_count;
  if (candidate.outer != nullptr) {
    for (const LabelPair& pair : candidate.outer->pairs) {
      if (candidate.FindAdded(pair.key) != nullptr) {
        candidate.hash -= PairHash(pair.key, pair.value);
      } else {
        ++candidate.size;
      }
    }
  }
  for (size_t i = 0; i < candidate.added_count; ++i) {
    candidate.hash +=
        PairHash(candidate.added[i].key, candidate.added[i].value);
  }
  if (candidate.size > kMaxLabelsPerSet) {
    overflows_.fetch_add(1, std::memory_order_relaxed);
    return kOverflowSet;
  }
  if (uint64_t id = FindCandidate(candidate); id != kNoLabels) return id;
  return Intern(candidate);
}

uint64_t LabelRegistry::FindCandidate(
    const Candidate& candidate) const noexcept {
  for (size_t probe = 0; probe < kSlots; ++probe) {
    const uint32_t id = slots_[(candidate.hash + probe) & (kSlots - 1)].load(
        std::memory_order_acquire);
    if (id == 0) return kNoLabels;
    const LabelSet* set = entries_[id].load(std::memory_order_acquire);
    if (set != nullptr && candidate.Matches(*set)) return id;
  }
  return kNoLabels;
}

uint64_t LabelRegistry::Intern(const Candidate& candidate) {
  // The registry's own lock is not the host's contention.
  AgentCodeScope agent_code;
  std::lock_guard<std::mutex> lock(mutex_);
  if (uint64_t id = FindCandidate(candidate); id != kNoLabels) return id;

  std::vector<LabelPair> pairs(candidate.added,
                               candidate.added + candidate.added_count);
  if (candidate.outer != nullptr) {
    for (const LabelPair& pair : candidate.outer->pairs) {
      if (candidate.FindAdded(pair.key) == nullptr) pairs.push_back(pair);
    }
  }
  std::sort(
      pairs.begin(), pairs.end(),
      [](const LabelPair& a, const LabelPair& b) { return a.key < b.key; });
  size_t chars = 0;
  for (const LabelPair& pair : pairs)
    chars += pair.key.size() + pair.value.size();

  const size_t count = count_.load(std::memory_order_relaxed);
  if (count == kMaxLabelSets || string_bytes_ + chars > kMaxStringBytes) {
    overflows_.fetch_add(1, std::memory_order_relaxed);
    return kOverflowSet;
  }
  // One block: the set, its pairs, then their characters.
  void* block = ::operator new(
      sizeof(LabelSet) + sizeof(LabelPair) * pairs.size() + chars,
      std::nothrow);
  if (block == nullptr) return kOverflowSet;
  auto* stored_pairs = reinterpret_cast<LabelPair*>(static_cast<char*>(block) +
                                                    sizeof(LabelSet));
  char* text = reinterpret_cast<char*>(stored_pairs + pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    auto copy = [&text](std::string_view s) {
      if (!s.empty()) std::memcpy(text, s.data(), s.size());
      std::string_view stored(text, s.size());
      text += s.size();
      return stored;
    };
    const std::string_view key = copy(pairs[i].key);
    const std::string_view value = copy(pairs[i].value);
    new (&stored_pairs[i]) LabelPair{key, value};
  }
  auto* set = new (block) LabelSet{
      candidate.hash, std::span<const LabelPair>(stored_pairs, pairs.size())};

  const uint64_t id = count + 2;
  entries_[id].store(set, std::memory_order_release);
  for (size_t probe = 0;; ++probe) {
    auto& slot = slots_[(candidate.hash + probe) & (kSlots - 1)];
    if (slot.load(std::memory_order_relaxed) == 0) {
      slot.store(static_cast<uint32_t>(id), std::memory_order_release);
      break;
    }
  }
  string_bytes_ += chars;
  count_.store(count + 1, std::memory_order_relaxed);
  return id;
}

namespace {

// strconv.Quote's escapes, as Go's %q prints a label.
void AppendGoQuoted(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    char escaped[8];
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7f) {
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

}  // namespace

std::string GoLabelsText(const LabelSet& set) {
  std::string out = "{";
  for (size_t i = 0; i < set.pairs.size(); ++i) {
    if (i > 0) out += ", ";
    AppendGoQuoted(out, set.pairs[i].key);
    out += ':';
    AppendGoQuoted(out, set.pairs[i].value);
  }
  return out + "}";
}

}  // namespace inprof::internal
