// inprof-view's command line: parsing arguments into a Command and running
// it. Kept out of main.cc so that tests can check the parser.
//
// Exit codes: 0 success; 2 bad input or usage (one line on stderr:
// "inprof-view: SOURCE: reason"); 1 failure to write the output.
//
// Thread safety: thread-compatible.
#ifndef INPROF_VIEWER_CLI_H_
#define INPROF_VIEWER_CLI_H_

#include <string>
#include <vector>

#include "inprof/status.h"
#include "report/output.h"
#include "report/stacks.h"
#include "viewer/source.h"

namespace inprof::viewer {

struct Command {
  std::string name;                 // top, diff, folded, flame, help
  std::vector<std::string> inputs;  // paths or URLs
  report::StackOptions stacks;
  report::OutputOptions output;
  std::string color = "auto";  // auto, always, never
  std::string html_path;       // --html
  LoadOptions load;
};

// Parses argv[1..]. Fails with kInvalidArgument and a one-line reason.
[[nodiscard]] StatusOr<Command> ParseCommandLine(
    const std::vector<std::string>& args);

// The usage text printed by `inprof-view help`.
std::string UsageText();

// Runs `args` (argv without argv[0]) and returns the exit code.
int RunViewer(const std::vector<std::string>& args);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_CLI_H_
