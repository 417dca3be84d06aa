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
