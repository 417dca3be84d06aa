#include "report/flamegraph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/viewer/profile_builder.h"

namespace inprof::report {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using viewer::test::FoldedProfile;

StackSet Stacks(const internal::Profile& p) {
  StatusOr<StackSet> s = BuildStackSet(p, {});
  EXPECT_TRUE(s.ok());
  return s.ok() ? std::move(s).value() : StackSet{};
}

std::vector<std::string> Paths(const FlameTree& t) {
  std::vector<std::string> out;
  for (size_t i = 0; i < t.name.size(); ++i) {
    std::string path = t.names[t.name[i]];
    for (int32_t p = t.parent[i]; p >= 0; p = t.parent[p]) {
      path = t.names[t.name[p]] + ";" + path;
    }
    out.push_back(path + "=" + std::to_string(t.value[i]) +
                  (t.base.empty() ? "" : "/" + std::to_string(t.base[i])));
  }
  return out;
}

TEST(FlameTreeTest, PrefixTreeInDepthFirstOrderWithChildrenByName) {
  FlameTree t = BuildFlameTree(Stacks(FoldedProfile({
                                   {"main;zeta", {1, 5}},
                                   {"main;alpha;leaf", {1, 3}},
                                   {"main;alpha", {1, 2}},
                                   {"main;f;f", {1, 7}},
                               })),
                               nullptr);
  EXPECT_THAT(Paths(t), ElementsAre("all=17", "all;main=17", "all;main;alpha=5",
                                    "all;main;alpha;leaf=3", "all;main;f=7",
                                    "all;main;f;f=7", "all;main;zeta=5"));
  EXPECT_TRUE(t.base.empty());
}

TEST(FlameTreeTest, DiffTreeCarriesBothValuesOnSharedPaths) {
  StackSet base =
      Stacks(FoldedProfile({{"main;old", {1, 4}}, {"main;both", {1, 6}}}));
  StackSet next =
      Stacks(FoldedProfile({{"main;both", {1, 9}}, {"main;new", {1, 1}}}));
  FlameTree t = BuildFlameTree(next, &base);
  EXPECT_THAT(Paths(t),
              ElementsAre("all=10/10", "all;main=10/10", "all;main;both=9/6",
                          "all;main;new=1/0", "all;main;old=0/4"));
}

TEST(FlameTreeTest, PageEmbedsTheDataSafelyInsideItsScript) {
  internal::Profile p =
      FoldedProfile({{"main;</script><script>alert(1)//", {1, 5}}});
  FlamePageInfo info;
  info.title = "a \"title\" </script>";
  info.unit = "nanoseconds";
  std::string page =
      RenderFlameGraphPage(BuildFlameTree(Stacks(p), nullptr), info);
  EXPECT_THAT(page, StartsWith("<!doctype html>"));
  EXPECT_THAT(page, Not(HasSubstr("/*INPROF_FLAME_DATA*/")));
  EXPECT_THAT(page, HasSubstr("\"\\u003c/script>\\u003cscript>alert(1)//\""));
  // The only closing script tag is the page's own.
  size_t first = page.find("</script>");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(page.find("</script>", first + 1), std::string::npos);
  EXPECT_THAT(page, Not(HasSubstr("http://")));
  EXPECT_THAT(page, Not(HasSubstr("https://")));
}

}  // namespace
}  // namespace inprof::report
