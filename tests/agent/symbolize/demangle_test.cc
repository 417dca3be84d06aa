#include "agent/symbolize/demangle.h"

#include "gtest/gtest.h"

namespace inprof::internal {
namespace {

TEST(DemangleTest, KeepsParametersAndTemplates) {
  EXPECT_EQ(Demangle("_ZN3app6Worker4SpinEi"), "app::Worker::Spin(int)");
  EXPECT_EQ(Demangle("_ZN3app3runIiEEvRT_i"), "void app::run<int>(int&, int)");
}

TEST(DemangleTest, ReturnsPlainNamesUnchanged) {
  EXPECT_EQ(Demangle("malloc"), "malloc");
  EXPECT_EQ(Demangle("i"), "i");  // would be "int" as a type encoding
  EXPECT_EQ(Demangle(""), "");
}

TEST(DemangleTest, ReturnsInvalidManglingUnchanged) {
  EXPECT_EQ(Demangle("_Z"), "_Z");
  EXPECT_EQ(Demangle("_ZN3app"), "_ZN3app");
}

TEST(DemangleTest, HandlesCloneSuffixes) {
  EXPECT_EQ(Demangle("_Z3foov.cold"), "foo() [clone .cold]");
}

}  // namespace
}  // namespace inprof::internal

namespace inprof::internal {
namespace {

TEST(StripParametersTest, DropsParametersAndTrailingQualifiers) {
  EXPECT_EQ(StripParameters("app::Worker::Spin(int)"), "app::Worker::Spin");
  EXPECT_EQ(StripParameters("app::Worker::Get() const &"), "app::Worker::Get");
  EXPECT_EQ(StripParameters("f(void (*)(int), std::function<void (int)>)"),
            "f");
  EXPECT_EQ(StripParameters("Foo::operator()(int) const"), "Foo::operator()");
  EXPECT_EQ(StripParameters("main::{lambda()#1}::operator()() const"),
            "main::{lambda()#1}::operator()");
}

TEST(StripParametersTest, KeepsTemplatesAndNamesWithoutParameters) {
  EXPECT_EQ(StripParameters(
                "std::vector<int, std::allocator<int> >::push_back(int&&)"),
            "std::vector<int, std::allocator<int> >::push_back");
  EXPECT_EQ(StripParameters("malloc"), "malloc");
  EXPECT_EQ(StripParameters("(anonymous namespace)"), "(anonymous namespace)");
  EXPECT_EQ(StripParameters("(anonymous namespace)::Run(int)"),
            "(anonymous namespace)::Run");
}

TEST(StripParametersTest, DisplayNameDemanglesThenStrips) {
  EXPECT_EQ(FunctionDisplayName("_ZN3app6Worker4SpinEi"), "app::Worker::Spin");
  EXPECT_EQ(FunctionDisplayName("write"), "write");
}

}  // namespace
}  // namespace inprof::internal
