#include "tests/support/go_tool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "tests/support/temp_dir.h"

namespace inprof::test {
namespace {

std::string FindGo() {
  if (const char* go = std::getenv("INPROF_GO"); go != nullptr && *go) {
    return access(go, X_OK) == 0 ? go : "";
  }
  const char* path = std::getenv("PATH");
  std::string found = FindExecutable("go", path != nullptr ? path : "");
  if (!found.empty()) return found;
  return FindExecutable("go", "/usr/lib/go/bin:/usr/local/go/bin");
}

}  // namespace

std::string RequireGo() {
  std::string go = FindGo();
  if (go.empty()) {
    ADD_FAILURE() << "the Go toolchain is required by this test but `go` was "
                     "not found ($INPROF_GO, PATH, /usr/lib/go/bin, "
                     "/usr/local/go/bin): apt-get install golang-go";
  }
  return go;
}

EnvVars GoEnvironment(const std::string& scratch_dir) {
  return {
      {"HOME", scratch_dir},
      {"GOCACHE", scratch_dir + "/gocache"},
      {"GOPATH", scratch_dir + "/gopath"},
      {"PPROF_TMPDIR", scratch_dir + "/pprof"},
      {"GOPROXY", "off"},
      {"GOFLAGS", ""},
      {"GO111MODULE", "off"},
      {"GOTOOLCHAIN", "local"},
      {"GOTELEMETRY", "off"},
  };
}

CommandResult GoToolPprof(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout) {
  std::string go = RequireGo();
  if (go.empty()) return CommandResult{};
  TempDir scratch;
  std::vector<std::string> argv = {go, "tool", "pprof"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, GoEnvironment(scratch.path()), timeout);
}

CommandResult GoRun(const std::string& go_file,
                    const std::vector<std::string>& args,
                    const std::string& scratch_dir,
                    std::chrono::milliseconds timeout) {
  std::string go = RequireGo();
  if (go.empty()) return CommandResult{};
  std::vector<std::string> argv = {go, "run", go_file};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, GoEnvironment(scratch_dir), timeout);
}

}  // namespace inprof::test
