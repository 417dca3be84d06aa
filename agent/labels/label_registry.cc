#include "agent/labels/label_registry.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "agent/base/agent_thread.h"

namespace inprof::internal {
namespace {

// Little-endian loads that also work in constant evaluation (for the
// precomputed hash of "endpoint").
constexpr uint64_t Load(const char* p, int bytes) noexcept {
  if (std::is_constant_evaluated()) {
    uint64_t word = 0;
    for (int i = 0; i < bytes; ++i) {
      word |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    }
    return word;
  }
  if (bytes == 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    return word;
  }
  uint32_t word;
  std::memcpy(&word, p, 4);
  return word;
}

constexpr uint64_t Mix(uint64_t h) noexcept {
  h *= 0xff51afd7ed558ccdu;
  return h ^ (h >> 32);
}

// A fast hash of a short string: 8 bytes at a time, the tail in at most two
// overlapping loads (no variable-length copy: this runs on every scope).
constexpr uint64_t HashBytes(std::string_view s) noexcept {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = 0x9E3779B97F4A7C15u ^ n;
  for (; n > 8; p += 8, n -= 8) h = Mix(h ^ Load(p, 8));
  uint64_t tail = 0;
  if (n >= 4) {
    tail = Load(p, 4) | Load(p + n - 4, 4) << 32;
  } else if (n > 0) {
    tail = uint64_t{static_cast<unsigned char>(p[0])} |
           uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 |
           uint64_t{static_cast<unsigned char>(p[n - 1])} << 16;
  }
  return Mix(Mix(h ^ tail) * 0xc4ceb9fe1a85ec53u);
}

// A set's hash is the sum of its pairs' hashes: independent of their order,
// and a pair can be taken out again by subtracting it.
constexpr uint64_t PairHash(uint64_t key_hash, uint64_t value_hash) noexcept {
  uint64_t h = key_hash * 0x9E3779B97F4A7C15u ^ value_hash;
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9u;
  return h ^ (h >> 27);
}

constexpr uint64_t kEndpointKeyHash = HashBytes(kEndpointKey);

std::string_view Cut(std::string_view s) noexcept {
  return s.substr(0, std::min(s.size(), kMaxLabelBytes));
}

constexpr LabelPair kOverflowPairs[] = {
    {kEndpointKey, LabelRegistry::kOverflowEndpoint, 0}};
// Never looked up by hash: Derive returns its id directly.
constexpr LabelSet kOverflow = {0, kOverflowPairs};

constinit LabelRegistry g_registry;

}  // namespace

// A pair Derive was given. Trivially constructible, so that Derive's array
// of them costs nothing until used.
struct PendingPair {
  const char* key_data;
  size_t key_size;
  const char* value_data;
  size_t value_size;
  uint64_t key_hash;

  std::string_view key() const noexcept { return {key_data, key_size}; }
  std::string_view value() const noexcept { return {value_data, value_size}; }
};

// The set Derive looks for: `outer`'s pairs, those whose key is in `added`
// replaced by `added`'s.
struct LabelRegistry::Candidate {
  const LabelSet* outer = nullptr;
  PendingPair added[kMaxPending];
  uint64_t added_hash[kMaxPending];  // PairHash of added[i], once counted
  size_t added_count = 0;
  size_t size = 0;
  uint64_t hash = 0;

  const PendingPair* FindAdded(std::string_view key) const noexcept {
    for (size_t i = 0; i < added_count; ++i) {
      if (added[i].key() == key) return &added[i];
    }
    return nullptr;
  }
  // Adds or replaces a pair of `added`; false when there are too many.
  bool Add(std::string_view key, uint64_t key_hash,
           std::string_view value) noexcept {
    for (size_t i = 0; i < added_count; ++i) {
      if (added[i].key() == key) {
        added[i].value_data = value.data();
        added[i].value_size = value.size();
        return true;
      }
    }
    if (added_count == kMaxPending) return false;
    added[added_count++] = {key.data(), key.size(), value.data(), value.size(),
                            key_hash};
    return true;
  }
  bool Matches(const LabelSet& set) const noexcept {
    if (set.hash != hash || set.pairs.size() != size) return false;
    for (const LabelPair& pair : set.pairs) {
      std::string_view want;
      if (const PendingPair* added_pair = FindAdded(pair.key)) {
        want = added_pair->value();
      } else if (const LabelPair* outer_pair = FindOuter(pair.key)) {
        want = outer_pair->value;
      } else {
        return false;
      }
      if (want != pair.value) return false;
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
  bool fits = endpoint.empty() ||
              candidate.Add(kEndpointKey, kEndpointKeyHash, Cut(endpoint));
  for (const inprof::Label& label : labels) {
    if (!fits) break;
    const std::string_view key = Cut(label.key);
    fits = candidate.Add(key, HashBytes(key), Cut(label.value));
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
        candidate.hash -= pair.hash;
      } else {
        ++candidate.size;
      }
    }
  }
  for (size_t i = 0; i < candidate.added_count; ++i) {
    const PendingPair& pair = candidate.added[i];
    candidate.added_hash[i] = PairHash(pair.key_hash, HashBytes(pair.value()));
    candidate.hash += candidate.added_hash[i];
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

  std::vector<LabelPair> pairs;
  for (size_t i = 0; i < candidate.added_count; ++i) {
    const PendingPair& pair = candidate.added[i];
    pairs.push_back({pair.key(), pair.value(), candidate.added_hash[i]});
  }
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
    new (&stored_pairs[i]) LabelPair{key, value, pairs[i].hash};
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

std::string_view EndpointOf(uint64_t label_set) {
  const LabelSet* set = LabelRegistry::Global().Find(label_set);
  if (set == nullptr) return {};
  for (const LabelPair& pair : set->pairs) {
    if (pair.key == kEndpointKey) return pair.value;
  }
  return {};
}

}  // namespace inprof::internal
