// top, diff and folded over small profiles, checked against the numbers
// go tool pprof prints for them (pprof-spec.md §3.8, verified with Go 1.19).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "report/diff.h"
#include "tests/viewer/profile_builder.h"
#include "viewer/folded.h"
#include "viewer/top.h"

namespace inprof::viewer {
namespace {

using report::BuildStackSet;
using report::ComparedStacks;
using report::CompareStacks;
using report::DiffReport;
using report::DiffRow;
using report::FlatCum;
using report::MakeDiff;
using report::OutputFormat;
using report::OutputOptions;
using report::RenderDiff;
using report::SourceInfo;
using report::StackOptions;
using report::StackSet;
using test::FoldedProfile;
using ::testing::HasSubstr;

constexpr int64_t kMs = 1000000;

// Spelled out: GCC 12 warns on designated initializers that skip fields.
StackOptions Index(std::string index) {
  StackOptions o;
  o.sample_index = std::move(index);
  return o;
}
StackOptions Filter(std::string focus, std::string ignore = "") {
  StackOptions o;
  o.focus = std::move(focus);
  o.ignore = std::move(ignore);
  return o;
}
SourceInfo Src(std::string name) {
  SourceInfo s;
  s.source = std::move(name);
  return s;
}
OutputOptions Out(size_t rows, OutputFormat format = OutputFormat::kText,
                  bool color = false) {
  OutputOptions o;
  o.rows = rows;
  o.format = format;
  o.color = color;
  return o;
}

internal::Profile Source() {  // pprof-spec.md §3.8 "src"
  return FoldedProfile({{"main;foo", {10, 100 * kMs}},
                        {"main;bar", {5, 50 * kMs}},
                        {"main;bar;baz", {3, 30 * kMs}}});
}

internal::Profile Base() {  // pprof-spec.md §3.8 "base"
  return FoldedProfile({{"main;foo", {2, 20 * kMs}},
                        {"main;bar", {5, 50 * kMs}},
                        {"main;qux", {2, 20 * kMs}}});
}

StackSet Stacks(const internal::Profile& p, StackOptions options = {}) {
  StatusOr<StackSet> s = BuildStackSet(p, options);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : StackSet{};
}

TEST(TopTest, MatchesPprofTopOfTheWorkedExample) {
  TopReport top = MakeTop(Stacks(Source()), Src("src"), false);
  EXPECT_EQ(top.total, 180 * kMs);
  EXPECT_EQ(RenderTop(top, {}),
            "Type: cpu\n"
            "Showing nodes accounting for 180ms,   100% of 180ms total\n"
            " flat  flat%   sum%   cum   cum%\n"
            "100ms 55.56% 55.56% 100ms 55.56%  foo\n"
            " 50ms 27.78% 83.33%  80ms 44.44%  bar\n"
            " 30ms 16.67%   100%  30ms 16.67%  baz\n"
            "    0     0%   100% 180ms   100%  main\n");
}

TEST(TopTest, RowLimitSaysHowManyWereLeftOut) {
  TopReport top = MakeTop(Stacks(Source()), Src("src"), false);
  std::string text = RenderTop(top, Out(2));
  EXPECT_THAT(text, HasSubstr("Showing nodes accounting for 150ms, 83.33% of "
                              "180ms total\nShowing top 2 nodes out of 4\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("baz")));
}

TEST(TopTest, CumOrderAndSampleIndexByNameOrNumber) {
  TopReport top = MakeTop(Stacks(Source(), Index("samples")), {}, true);
  ASSERT_EQ(top.rows.size(), 4u);
  EXPECT_EQ(top.rows[0].name, "main");
  EXPECT_EQ(top.rows[0].values.cum, 18);
  EXPECT_EQ(top.rows[1].name, "foo");
  EXPECT_EQ(top.rows[2].name, "bar");
  EXPECT_EQ(top.rows[2].values.cum, 8);
  EXPECT_EQ(Stacks(Source(), Index("0")).total, 18);
  EXPECT_EQ(Stacks(Source(), {}).value_type.type, "cpu");  // the last type
}

TEST(TopTest, UnknownSampleTypeNamesTheAvailableOnes) {
  StatusOr<StackSet> s = BuildStackSet(Source(), Index("alloc"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "sample_index=alloc: the profile has no such sample type (it "
            "has: samples, cpu)");
  EXPECT_FALSE(BuildStackSet(Source(), Index("2")).ok());
}

TEST(TopTest, DefaultSampleTypeWins) {
  internal::Profile p = Source();
  p.default_sample_type = "samples";
  EXPECT_EQ(Stacks(p).value_type.type, "samples");
}

TEST(TopTest, RecursionCountsOnceInCumAndInlinedFunctionsAreNodes) {
  internal::Profile p = FoldedProfile({{"main;f;g;f", {1, 10}},
                                       {"main;h+inl", {1, 5}},
                                       {"main;[lib]", {1, 7}}});
  TopReport top = MakeTop(Stacks(p), {}, false);
  std::map<std::string, FlatCum> rows;
  for (const TopRow& r : top.rows) rows[r.name] = r.values;
  EXPECT_EQ(rows["f"].flat, 10);
  EXPECT_EQ(rows["f"].cum, 10);  // not 20
  EXPECT_EQ(rows["g"].cum, 10);
  EXPECT_EQ(rows["inl"].flat, 5);
  EXPECT_EQ(rows["h"].cum, 5);
  EXPECT_EQ(rows["h"].flat, 0);
  EXPECT_EQ(rows["[lib]"].flat, 7);  // unsymbolized: the mapping's file
  EXPECT_EQ(rows["main"].cum, 22);
}

TEST(TopTest, FocusAndIgnoreSelectSamplesByFrame) {
  EXPECT_EQ(Stacks(Source(), Filter("^bar$")).total, 80 * kMs);
  EXPECT_EQ(Stacks(Source(), Filter("", "baz")).total, 150 * kMs);
  EXPECT_EQ(Stacks(Source(), Filter("ba", "z")).total, 50 * kMs);
  StatusOr<StackSet> bad = BuildStackSet(Source(), Filter("("));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("focus=(: not a valid regular expression"));
}

TEST(TopTest, JsonAndCsvCarryRawValues) {
  TopReport top = MakeTop(Stacks(Source()), Src("a \"b\".pb"), false);
  std::string json = RenderTop(top, Out(0, OutputFormat::kJson));
  EXPECT_THAT(json, HasSubstr("\"source\":\"a \\\"b\\\".pb\""));
  EXPECT_THAT(json, HasSubstr("\"sample_type\":{\"type\":\"cpu\",\"unit\":"
                              "\"nanoseconds\"},\"total\":180000000"));
  EXPECT_THAT(
      json, HasSubstr("{\"name\":\"bar\",\"flat\":50000000,\"cum\":80000000}"));
  EXPECT_EQ(RenderTop(top, Out(1, OutputFormat::kCsv)),
            "function,flat,cum,unit\nfoo,100000000,100000000,nanoseconds\n");
}

TEST(DiffTest, MatchesPprofDiffBaseOfTheWorkedExample) {
  StatusOr<ComparedStacks> c = CompareStacks(Base(), Source(), {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  DiffReport d = MakeDiff(*c, Src("base"), Src("src"), false);
  std::map<std::string, std::pair<int64_t, int64_t>> delta;
  for (const DiffRow& r : d.rows)
    delta[r.name] = {r.delta_flat(), r.delta_cum()};
  // go tool pprof -top -diff_base=base src: foo 80/80, baz 30/30,
  // qux -20/-20, bar 0/30, main 0/90 (ms).
  EXPECT_EQ(delta["foo"], std::make_pair(80 * kMs, 80 * kMs));
  EXPECT_EQ(delta["baz"], std::make_pair(30 * kMs, 30 * kMs));
  EXPECT_EQ(delta["qux"], std::make_pair(-20 * kMs, -20 * kMs));
  EXPECT_EQ(delta["bar"], std::make_pair(int64_t{0}, 30 * kMs));
  EXPECT_EQ(delta["main"], std::make_pair(int64_t{0}, 90 * kMs));
  ASSERT_EQ(d.rows.size(), 5u);
  EXPECT_EQ(d.rows[0].name, "foo");  // biggest change first
  EXPECT_EQ(d.rows[1].name, "baz");
  EXPECT_EQ(d.rows[2].name, "qux");
  EXPECT_EQ(d.base_total, 90 * kMs);
  EXPECT_EQ(d.next_total, 180 * kMs);
}

TEST(DiffTest, TextShowsBothValuesTheChangeAndItsPercent) {
  StatusOr<ComparedStacks> c = CompareStacks(Base(), Source(), {});
  ASSERT_TRUE(c.ok());
  DiffReport d = MakeDiff(*c, Src("base.pb.gz"), Src("src.pb.gz"), false);
  EXPECT_EQ(RenderDiff(d, Out(3)),
            "Base: base.pb.gz (total 90ms)\n"
            "New:  src.pb.gz (total 180ms)\n"
            "Type: cpu, total change +90ms (+100%)\n"
            "Showing 3 of 5 changed functions, biggest flat change first\n"
            "base flat  new flat  flat change  change%  cum change\n"
            "     20ms     100ms        +80ms    +400%       +80ms  foo\n"
            "        0      30ms        +30ms      new       +30ms  baz\n"
            "     20ms         0        -20ms    -100%       -20ms  qux\n");
  std::string colored = RenderDiff(d, Out(3, OutputFormat::kText, true));
  EXPECT_THAT(colored, HasSubstr("\x1b[31m     20ms     100ms        +80ms"));
  EXPECT_THAT(colored, HasSubstr("\x1b[34m     20ms         0        -20ms"));
}

TEST(DiffTest, TextLeavesOutUnchangedFunctions) {
  internal::Profile base =
      FoldedProfile({{"main;same", {1, 10}}, {"main;grew", {1, 10}}});
  internal::Profile next =
      FoldedProfile({{"main;same", {1, 10}}, {"main;grew", {2, 20}}});
  StatusOr<ComparedStacks> c = CompareStacks(base, next, {});
  ASSERT_TRUE(c.ok());
  std::string text = RenderDiff(MakeDiff(*c, {}, {}, false), {});
  EXPECT_THAT(text,
              HasSubstr("Showing 2 of 2 changed functions (1 unchanged)"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("same")));
  std::string csv =
      RenderDiff(MakeDiff(*c, {}, {}, false), Out(0, OutputFormat::kCsv));
  EXPECT_THAT(csv, HasSubstr("same,10,10,0,10,10,0,"));
}

TEST(DiffTest, CsvAndJsonCarryFlatAndCumOfBoth) {
  StatusOr<ComparedStacks> c = CompareStacks(Base(), Source(), {});
  ASSERT_TRUE(c.ok());
  DiffReport d = MakeDiff(*c, {}, {}, false);
  EXPECT_THAT(RenderDiff(d, Out(0, OutputFormat::kCsv)),
              HasSubstr("bar,50000000,50000000,0,50000000,80000000,30000000,"
                        "nanoseconds\n"));
  EXPECT_THAT(RenderDiff(d, Out(0, OutputFormat::kJson)),
              HasSubstr("{\"name\":\"qux\",\"base_flat\":20000000,"
                        "\"base_cum\":20000000,\"new_flat\":0,\"new_cum\":0,"
                        "\"delta_flat\":-20000000,\"delta_cum\":-20000000}"));
}

TEST(DiffTest, ConvertsUnitsToTheFinerOne) {
  internal::Profile base = FoldedProfile(
      {{"main;foo", {1, 20}}}, {{"samples", "count"}, {"cpu", "milliseconds"}});
  StatusOr<ComparedStacks> c = CompareStacks(base, Source(), {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->base.value_type.unit, "nanoseconds");
  EXPECT_EQ(c->base.total, 20 * kMs);
}

TEST(DiffTest, RefusesWhatCannotBeCompared) {
  internal::Profile heap =
      FoldedProfile({{"main;foo", {1, 1024}}},
                    {{"inuse_objects", "count"}, {"inuse_space", "bytes"}});
  StatusOr<ComparedStacks> c = CompareStacks(heap, Source(), {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "cannot compare: the new profile's sample type cpu is not in the "
            "base profile (it has: inuse_objects, inuse_space)");

  internal::Profile bytes_cpu = FoldedProfile(
      {{"main;foo", {1, 1024}}}, {{"samples", "count"}, {"cpu", "bytes"}});
  c = CompareStacks(bytes_cpu, Source(), {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("is in nanoseconds in the new "
                                              "profile and in bytes"));

  internal::Profile other_period = Base();
  other_period.period_type = {"space", "bytes"};
  c = CompareStacks(other_period, Source(), {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("measure different things (period type space/bytes "
                        "in the base, cpu/nanoseconds in the new one)"));

  // Sample counts at 100 Hz and 1000 Hz are not comparable; CPU time is.
  internal::Profile fast = Base();
  fast.period = 1000000;
  c = CompareStacks(fast, Source(), Index("samples"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("cannot compare sample counts taken at different "
                        "periods (1000000 vs 10000000 nanoseconds"));
  EXPECT_TRUE(CompareStacks(fast, Source(), Index("cpu")).ok());
}

TEST(FoldedTest, OneSortedLinePerDistinctStack) {
  internal::Profile p = FoldedProfile({{"main;bar", {1, 5}},
                                       {"main;foo", {1, 10}},
                                       {"main;bar", {1, 2}},
                                       {"main;a;b", {1, 0}}});
  for (internal::Function& f : p.functions) {
    if (f.name == "main") f.name = "ma;in";
  }
  EXPECT_EQ(RenderFolded(Stacks(p)), "ma:in;bar 7\nma:in;foo 10\n");
}

}  // namespace
}  // namespace inprof::viewer
