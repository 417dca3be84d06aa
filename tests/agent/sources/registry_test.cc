#include "agent/sources/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "agent/profile/decode.h"
#include "agent/sources/shared_symbolizer.h"

namespace inprof::internal {
namespace {

// A source whose profile and text carry its own name.
class NamedSource : public ProfileSource {
 public:
  explicit NamedSource(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  StatusOr<Profile> Build(const ProfileRequest&) override {
    Profile profile;
    profile.comments = {name_};
    return profile;
  }
  StatusOr<std::string> Text(const ProfileRequest&) override { return name_; }

 private:
  std::string name_;
};

TEST(ProfileRegistryTest, FindsSourcesByNameInTheOrderAdded) {
  ProfileRegistry registry;
  registry.Add(std::make_unique<NamedSource>("cpu"));
  registry.Add(std::make_unique<NamedSource>("heap"));
  ASSERT_NE(registry.Find("heap"), nullptr);
  ProfileRequest text;
  text.debug = 1;
  EXPECT_EQ(registry.Find("heap")->Collect(text).value(), "heap");
  EXPECT_EQ(registry.Find("goroutine"), nullptr);
  EXPECT_EQ(registry.names(), (std::vector<std::string>{"cpu", "heap"}));
}

// HTTP's form of Build(): gzipped profile.proto of the same profile.
TEST(ProfileRegistryTest, CollectSerializesTheBuiltProfile) {
  NamedSource source("heap");
  StatusOr<std::string> bytes = source.Collect({});
  ASSERT_TRUE(bytes.ok());
  StatusOr<Profile> decoded = DecodeProfile(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->comments, (std::vector<std::string>{"heap"}));
  // A source without a text form says so.
  ProfileRequest text;
  text.debug = 1;
  class NoText : public NamedSource {
   public:
    NoText() : NamedSource("cpu") {}
    StatusOr<std::string> Text(const ProfileRequest& r) override {
      return ProfileSource::Text(r);
    }
  } cpu;
  EXPECT_EQ(cpu.Collect(text).status().code(), StatusCode::kInvalidArgument);
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
  auto built =
      symbolizer.Build(nullptr, [](Symbolizer*) { return std::string("ok"); });
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
