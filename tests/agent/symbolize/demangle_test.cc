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
  // GCC's clones are the function they were cloned from.
  EXPECT_EQ(FunctionDisplayName("_ZN3app6Worker4SpinEi.isra.0"),
            "app::Worker::Spin");
  EXPECT_EQ(FunctionDisplayName("_Z3foov.cold"), "foo");
  EXPECT_EQ(FunctionDisplayName("_Z3fooi.constprop.0.isra.0"), "foo");
  // ABI tags are not part of the name DWARF gives (a function returning
  // std::string is "foo[abi:cxx11]()" demangled).
  EXPECT_EQ(Demangle("_Z3fooB5cxx11v"), "foo[abi:cxx11]()");
  EXPECT_EQ(FunctionDisplayName("_Z3fooB5cxx11v"), "foo");
  EXPECT_EQ(FunctionDisplayName("_ZN3app6Worker4NameB5cxx11Ev"),
            "app::Worker::Name");
}

}  // namespace
}  // namespace inprof::internal

namespace inprof::internal {
namespace {

TEST(StripTemplatesAndReturnTypeTest, ShowsWhatPprofShowsForCpp) {
  EXPECT_EQ(StripTemplatesAndReturnType(
                "std::vector<int, std::allocator<int> >::push_back"),
            "std::vector::push_back");
  EXPECT_EQ(StripTemplatesAndReturnType(
                "__gnu_cxx::__normal_iterator<unsigned long*, "
                "std::vector<unsigned long> > std::__unguarded_partition<"
                "__gnu_cxx::__normal_iterator<unsigned long*, "
                "std::vector<unsigned long> > >"),
            "std::__unguarded_partition");
  EXPECT_EQ(StripTemplatesAndReturnType("void std::__introsort_loop<It, long>"),
            "std::__introsort_loop");
}

TEST(StripTemplatesAndReturnTypeTest, KeepsOperatorsLambdasAndNamespaces) {
  EXPECT_EQ(StripTemplatesAndReturnType("Foo::operator<"), "Foo::operator<");
  EXPECT_EQ(StripTemplatesAndReturnType("Foo::operator<<"), "Foo::operator<<");
  EXPECT_EQ(StripTemplatesAndReturnType("Foo::operator>="), "Foo::operator>=");
  EXPECT_EQ(StripTemplatesAndReturnType("Foo::operator<=>"),
            "Foo::operator<=>");
  EXPECT_EQ(StripTemplatesAndReturnType("bool std::operator< <int>"),
            "std::operator<");
  EXPECT_EQ(StripTemplatesAndReturnType("Foo::operator->"), "Foo::operator->");
  EXPECT_EQ(StripTemplatesAndReturnType("operator new"), "operator new");
  EXPECT_EQ(StripTemplatesAndReturnType("operator delete[]"),
            "operator delete[]");
  EXPECT_EQ(StripTemplatesAndReturnType("(anonymous namespace)::Run"),
            "(anonymous namespace)::Run");
  EXPECT_EQ(StripTemplatesAndReturnType("main::{lambda()#1}::operator()"),
            "main::{lambda()#1}::operator()");
  EXPECT_EQ(StripTemplatesAndReturnType("app::Worker::Spin"),
            "app::Worker::Spin");
  EXPECT_EQ(StripTemplatesAndReturnType("malloc"), "malloc");
}

TEST(StripTemplatesAndReturnTypeTest, DisplayNameOfATemplateFunction) {
  // bool std::operator< <int>(...) style and a member template.
  EXPECT_EQ(FunctionDisplayName("_ZNSt6vectorIiSaIiEE9push_backEOi"),
            "std::vector::push_back");
}

}  // namespace
}  // namespace inprof::internal
