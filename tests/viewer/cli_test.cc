#include "viewer/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace inprof::viewer {
namespace {

using ::testing::ElementsAre;

TEST(CliTest, ParsesOptionsInEitherSpelling) {
  StatusOr<Command> cmd = ParseCommandLine(
      {"diff", "-sample_index=cpu", "--nodecount", "5", "base.pb.gz",
       "--focus=^app::", "-ignore", "std::", "--format=json", "--cum",
       "new.pb.gz", "--seconds=3", "--timeout", "9", "--color=never"});
  ASSERT_TRUE(cmd.ok()) << cmd.status().ToString();
  EXPECT_EQ(cmd->name, "diff");
  EXPECT_THAT(cmd->inputs, ElementsAre("base.pb.gz", "new.pb.gz"));
  EXPECT_EQ(cmd->stacks.sample_index, "cpu");
  EXPECT_EQ(cmd->stacks.focus, "^app::");
  EXPECT_EQ(cmd->stacks.ignore, "std::");
  EXPECT_EQ(cmd->output.rows, 5u);
  EXPECT_EQ(cmd->output.format, report::OutputFormat::kJson);
  EXPECT_TRUE(cmd->output.by_cum);
  EXPECT_EQ(cmd->load.fetch.seconds, 3);
  EXPECT_EQ(cmd->load.fetch.timeout_seconds, 9);
  EXPECT_EQ(cmd->color, "never");
}

TEST(CliTest, DoubleDashEndsOptions) {
  StatusOr<Command> cmd = ParseCommandLine({"top", "-n", "3", "--", "-odd"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_THAT(cmd->inputs, ElementsAre("-odd"));
}

TEST(CliTest, MistakesAreOneLineReasons) {
  auto error = [](std::vector<std::string> args) {
    StatusOr<Command> cmd = ParseCommandLine(args);
    return cmd.ok() ? std::string("ok") : cmd.status().message();
  };
  EXPECT_EQ(error({}), "no command (see inprof-view help)");
  EXPECT_EQ(
      error({"show", "x"}),
      "unknown command 'show' (commands: top, diff, folded, flame, help)");
  EXPECT_EQ(error({"top"}), "top takes one profile, got 0");
  EXPECT_EQ(error({"diff", "a"}),
            "diff takes two profiles, BASE and NEW, got 1");
  EXPECT_EQ(error({"top", "--format=xml", "a"}),
            "--format=xml: must be text, json or csv");
  EXPECT_EQ(error({"top", "-n", "-1", "a"}), "--n=-1: must be an integer >= 0");
  EXPECT_EQ(error({"top", "--bogus=1", "a"}),
            "unknown option -bogus (see inprof-view help)");
  EXPECT_EQ(error({"top", "a", "--focus"}), "-focus needs a value");
  EXPECT_EQ(error({"top", "--cum=yes", "a"}), "-cum takes no value");
  EXPECT_EQ(error({"flame", "a"}),
            "flame writes an HTML page: give --html FILE");
  EXPECT_EQ(error({"top", "--html=x.html", "a"}),
            "--html goes with flame or diff, not top");
  EXPECT_EQ(error({"flame", "--html", "x.html", "a"}), "ok");
  EXPECT_EQ(error({"diff", "--html=x.html", "a", "b"}), "ok");
  EXPECT_EQ(error({"help"}), "ok");
}

}  // namespace
}  // namespace inprof::viewer
