// Past inprof::kMaxLabelSets distinct sets, scopes get the one visible
// overflow set and memory stops growing: endpoints that are URLs, not routes,
// must not grow the process forever.
#include <gtest/gtest.h>

#include <string>

#include "agent/base/thread_labels.h"
#include "agent/labels/label_registry.h"
#include "inprof/request.h"

namespace inprof {
namespace {

std::string CurrentEndpoint() {
  const internal::LabelSet* set =
      internal::LabelRegistry::Global().Find(internal::CurrentLabelSet());
  if (set == nullptr) return "";
  for (const internal::LabelPair& p : set->pairs) {
    if (p.key == "endpoint") return std::string(p.value);
  }
  return "";
}

TEST(RegistryFullTest, UrlsAsEndpointsEndInTheOverflowSet) {
  internal::LabelRegistry& registry = internal::LabelRegistry::Global();
  const size_t before = registry.size();
  for (size_t i = 0; i < kMaxLabelSets * 2; ++i) {
    const std::string url = "GET /users/" + std::to_string(i);
    RequestScope scope(url);
    const std::string endpoint = CurrentEndpoint();
    if (before + i < kMaxLabelSets) {
      ASSERT_EQ(endpoint, url);
    } else {
      ASSERT_EQ(endpoint, "inprof.LabelSetsFull") << i;
    }
  }
  EXPECT_EQ(registry.size(), kMaxLabelSets);
  EXPECT_EQ(registry.overflows(), kMaxLabelSets + before);
  // A route seen before the registry filled keeps its own labels.
  RequestScope scope("GET /users/7");
  EXPECT_EQ(CurrentEndpoint(), "GET /users/7");
}

}  // namespace
}  // namespace inprof
