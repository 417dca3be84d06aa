#include "agent/base/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace inprof::internal {
namespace {

TEST(PrometheusTextTest, WritesFamiliesSamplesAndEscapes) {
  PrometheusText text;
  text.Family("inprof_x_total", "counter", "Help with \\ and\nnewline.");
  text.Sample("inprof_x_total", {{"route", "/a\"b\\c\nd"}, {"code", "200"}}, 3);
  text.Sample("inprof_x_total", {}, 0.25);
  text.Sample("inprof_x_total", {}, 12345678901234.0);
  text.Sample("inprof_x_total", {}, std::numeric_limits<double>::infinity());
  text.Sample("inprof_x_total", {}, std::nan(""));
  EXPECT_EQ(std::move(text).Take(),
            "# HELP inprof_x_total Help with \\\\ and\\nnewline.\n"
            "# TYPE inprof_x_total counter\n"
            "inprof_x_total{route=\"/a\\\"b\\\\c\\nd\",code=\"200\"} 3\n"
            "inprof_x_total 0.25\n"
            "inprof_x_total 12345678901234\n"
            "inprof_x_total +Inf\n"
            "inprof_x_total NaN\n");
}

// Components write their own metrics; a family several of them write
// (one source each) comes out once, with all its samples together.
TEST(PrometheusTextTest, AFamilyWrittenByTwoComponentsComesOutOnce) {
  PrometheusText text;
  text.Family("inprof_samples_total", "counter", "Samples, by source.");
  text.Sample("inprof_samples_total", {{"source", "cpu"}}, 1);
  text.Single("inprof_cpu_x", "gauge", "X.", 2);
  text.Family("inprof_samples_total", "counter", "Another help.");
  text.Sample("inprof_samples_total", {{"source", "heap"}}, 3);
  EXPECT_EQ(std::move(text).Take(),
            "# HELP inprof_samples_total Samples, by source.\n"
            "# TYPE inprof_samples_total counter\n"
            "inprof_samples_total{source=\"cpu\"} 1\n"
            "inprof_samples_total{source=\"heap\"} 3\n"
            "# HELP inprof_cpu_x X.\n"
            "# TYPE inprof_cpu_x gauge\n"
            "inprof_cpu_x 2\n");
}

}  // namespace
}  // namespace inprof::internal
