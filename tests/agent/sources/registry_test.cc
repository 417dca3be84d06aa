#include "agent/sources/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "agent/sources/shared_symbolizer.h"

namespace inprof::internal {
namespace {

// A source that answers its own name.
class NamedSource : public ProfileSource {
 public:
  explicit NamedSource(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  StatusOr<std::string> Collect(const ProfileRequest&) override {
    return name_;
  }

 private:
  std::string name_;
};

TEST(ProfileRegistryTest, FindsSourcesByNameInTheOrderAdded) {
  ProfileRegistry registry;
  registry.Add(std::make_unique<NamedSource>("cpu"));
  registry.Add(std::make_unique<NamedSource>("heap"));
  ASSERT_NE(registry.Find("heap"), nullptr);
  EXPECT_EQ(registry.Find("heap")->Collect({}).value(), "heap");
  EXPECT_EQ(registry.Find("goroutine"), nullptr);
  EXPECT_EQ(registry.names(), (std::vector<std::string>{"cpu", "heap"}));
}

TEST(ProfileRegistryTest, AWindowEndsEarlyWhenCancelled) {
  int polls = 0;
  // Cancelled at the third look: long before 3,600 s.
  EXPECT_FALSE(WaitForWindow(3600, [&] { return ++polls >= 3; }));
  EXPECT_EQ(polls, 3);
}

TEST(SharedSymbolizerTest, ABuildIsCancelledWhenTheAgentStops) {
  std::atomic<bool> stopping{false};
  SharedSymbolizer symbolizer(&stopping);
  auto built = symbolizer.Build(nullptr, [](Symbolizer*) { return "ok"; });
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(*built, "ok");
  stopping = true;
  auto cancelled =
      symbolizer.Build(nullptr, [](Symbolizer*) { return std::string("ok"); });
  EXPECT_EQ(cancelled.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(symbolizer.FunctionName(0x1234), "");
}

TEST(SharedSymbolizerTest, ABuildIsCancelledWhenTheClientLeavesMidway) {
  std::atomic<bool> stopping{false};
  SharedSymbolizer symbolizer(&stopping);
  bool gone = false;
  auto result = symbolizer.Build([&] { return gone; },
                                 [&](Symbolizer*) {
                                   gone = true;  // the client leaves
                                   return std::string("partial");
                                 });
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace inprof::internal
