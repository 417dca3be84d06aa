#include "agent/labels/label_registry.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace inprof::internal {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs PairsOf(const LabelRegistry& registry, uint64_t id) {
  Pairs out;
  const LabelSet* set = registry.Find(id);
  if (set == nullptr) return out;
  for (const LabelPair& p : set->pairs) {
    out.emplace_back(std::string(p.key), std::string(p.value));
  }
  return out;
}

uint64_t Derive(LabelRegistry& registry, uint64_t outer,
                std::string_view endpoint,
                std::initializer_list<inprof::Label> labels) {
  return registry.Derive(
      outer, endpoint,
      std::span<const inprof::Label>(labels.begin(), labels.size()));
}

TEST(LabelRegistryTest, EqualSetsShareOneIdWhateverTheOrder) {
  auto registry = std::make_unique<LabelRegistry>();
  const uint64_t a =
      Derive(*registry, 0, "GET /users", {{"tenant", "acme"}, {"zone", "eu"}});
  const uint64_t b =
      Derive(*registry, 0, "GET /users", {{"zone", "eu"}, {"tenant", "acme"}});
  EXPECT_GE(a, 2u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(
      PairsOf(*registry, a),
      (Pairs{{"endpoint", "GET /users"}, {"tenant", "acme"}, {"zone", "eu"}}));
  EXPECT_NE(a, Derive(*registry, 0, "GET /users", {{"tenant", "acme"}}));
  EXPECT_EQ(registry->size(), 2u);
}

TEST(LabelRegistryTest, NestedSetsAddAndOverride) {
  auto registry = std::make_unique<LabelRegistry>();
  const uint64_t outer =
      Derive(*registry, 0, "GET /users", {{"tenant", "acme"}});
  const uint64_t inner =
      Derive(*registry, outer, "", {{"tenant", "initech"}, {"phase", "db"}});
  EXPECT_EQ(PairsOf(*registry, inner), (Pairs{{"endpoint", "GET /users"},
                                              {"phase", "db"},
                                              {"tenant", "initech"}}));
  // The same set reached directly is the same id: ids name sets, not paths.
  EXPECT_EQ(inner, Derive(*registry, 0, "GET /users",
                          {{"phase", "db"}, {"tenant", "initech"}}));
  // A nested endpoint replaces the outer one.
  const uint64_t renamed = Derive(*registry, outer, "POST /orders", {});
  EXPECT_EQ(PairsOf(*registry, renamed),
            (Pairs{{"endpoint", "POST /orders"}, {"tenant", "acme"}}));
  // Nothing added: the outer set itself.
  EXPECT_EQ(Derive(*registry, outer, "", {}), outer);
  // A later label of the same key wins.
  const uint64_t twice = Derive(*registry, 0, "x", {{"k", "1"}, {"k", "2"}});
  EXPECT_EQ(PairsOf(*registry, twice), (Pairs{{"endpoint", "x"}, {"k", "2"}}));
}

TEST(LabelRegistryTest, LongStringsAreCut) {
  auto registry = std::make_unique<LabelRegistry>();
  const std::string long_value(1000, 'v');
  const uint64_t id = Derive(*registry, 0, long_value, {});
  EXPECT_EQ(PairsOf(*registry, id)[0].second, std::string(kMaxLabelBytes, 'v'));
  EXPECT_EQ(id, Derive(*registry, 0, std::string(kMaxLabelBytes, 'v'), {}));
}

TEST(LabelRegistryTest, TooManyLabelsGetTheOverflowSet) {
  auto registry = std::make_unique<LabelRegistry>();
  std::vector<std::string> keys;
  for (size_t i = 0; i < kMaxLabelsPerSet; ++i)
    keys.push_back("k" + std::to_string(i));
  std::vector<inprof::Label> labels;
  for (const std::string& key : keys) labels.push_back({key, "v"});
  // endpoint + 16 labels = 17 > 16.
  EXPECT_EQ(registry->Derive(0, "e", labels), LabelRegistry::kOverflowSet);
  labels.pop_back();
  const uint64_t full = registry->Derive(0, "e", labels);
  EXPECT_GE(full, 2u);
  EXPECT_EQ(PairsOf(*registry, full).size(), kMaxLabelsPerSet);
  // One more on top of a full set overflows too.
  EXPECT_EQ(Derive(*registry, full, "", {{"extra", "1"}}),
            LabelRegistry::kOverflowSet);
  EXPECT_EQ(registry->overflows(), 2u);
}

TEST(LabelRegistryTest, PastTheCapNewSetsShareTheVisibleOverflowSet) {
  auto registry = std::make_unique<LabelRegistry>();
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < kMaxLabelSets; ++i) {
    ids.push_back(Derive(*registry, 0, "GET /item/" + std::to_string(i), {}));
    ASSERT_GE(ids.back(), 2u) << i;
  }
  EXPECT_EQ(registry->size(), kMaxLabelSets);
  EXPECT_EQ(Derive(*registry, 0, "GET /one-too-many", {}),
            LabelRegistry::kOverflowSet);
  EXPECT_EQ(PairsOf(*registry, LabelRegistry::kOverflowSet),
            (Pairs{{"endpoint", "inprof.LabelSetsFull"}}));
  // Known sets are still found, and nested scopes under the overflow set
  // stay in it.
  EXPECT_EQ(Derive(*registry, 0, "GET /item/17", {}), ids[17]);
  EXPECT_EQ(Derive(*registry, LabelRegistry::kOverflowSet, "x", {}),
            LabelRegistry::kOverflowSet);
  EXPECT_EQ(registry->overflows(), 1u);
}

TEST(LabelRegistryTest, StringBytesAreBoundedToo) {
  auto registry = std::make_unique<LabelRegistry>();
  const std::string value(kMaxLabelBytes, 'x');
  uint64_t last = 0;
  size_t made = 0;
  for (size_t i = 0; i < kMaxLabelSets; ++i) {
    std::string endpoint = std::to_string(i) + value;
    std::array<std::string, 8> values;
    std::vector<inprof::Label> labels;
    for (size_t k = 0; k < values.size(); ++k) {
      values[k] = std::string(kMaxLabelBytes - 1, 'a' + k);
      labels.push_back({values[k], values[k]});
    }
    last = registry->Derive(0, endpoint, labels);
    if (last == LabelRegistry::kOverflowSet) break;
    ++made;
  }
  EXPECT_EQ(last, LabelRegistry::kOverflowSet);
  // About 4.3 KiB per set: the 1 MiB bound stops it near 240 sets.
  EXPECT_LT(made,
            LabelRegistry::kMaxStringBytes / (16 * (kMaxLabelBytes - 1)) + 1);
  EXPECT_GT(made, 100u);
}

TEST(LabelRegistryTest, UnknownIdsHaveNoSet) {
  auto registry = std::make_unique<LabelRegistry>();
  EXPECT_EQ(registry->Find(LabelRegistry::kNoLabels), nullptr);
  EXPECT_EQ(registry->Find(2), nullptr);
  EXPECT_EQ(registry->Find(~uint64_t{0}), nullptr);
}

TEST(LabelRegistryTest, ThreadsInterningTheSameSetsAgree) {
  auto registry = std::make_unique<LabelRegistry>();
  constexpr int kThreads = 4;
  constexpr int kSets = 300;
  // ids[t][n]: the id thread t got for set n.
  std::vector<std::vector<uint64_t>> ids(kThreads,
                                         std::vector<uint64_t>(kSets, 0));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSets; ++i) {
        // Each thread walks the sets from its own starting point.
        const int n = (i + t * kSets / kThreads) % kSets;
        const std::string endpoint = "GET /r" + std::to_string(n);
        ids[t][n] = Derive(*registry, 0, endpoint, {{"t", "x"}});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(registry->size(), static_cast<size_t>(kSets));
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(ids[t], ids[0]);
  for (int n = 0; n < kSets; ++n) {
    EXPECT_EQ(PairsOf(*registry, ids[0][n]),
              (Pairs{{"endpoint", "GET /r" + std::to_string(n)}, {"t", "x"}}));
  }
}

TEST(LabelRegistryTest, GoTextQuotesAsGo) {
  auto registry = std::make_unique<LabelRegistry>();
  const uint64_t id =
      Derive(*registry, 0, "GET /a\"b\\c", {{"tenant", "tab\there\x01"}});
  EXPECT_EQ(
      GoLabelsText(*registry->Find(id)),
      "{\"endpoint\":\"GET /a\\\"b\\\\c\", \"tenant\":\"tab\\there\\x01\"}");
}

}  // namespace
}  // namespace inprof::internal
