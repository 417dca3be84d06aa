// Helpers for tests that use the Go toolchain as the independent oracle:
// `go tool pprof` reading what we emit, `go run` producing profiles with
// Go's own runtime/pprof. Go is a hard requirement of the e2e tests: when it
// is missing they fail (never skip) with "apt-get install golang-go".
// Everything runs offline and hermetically: HOME, GOCACHE, GOPATH and
// PPROF_TMPDIR point into a temporary directory.
//
// Example:
//
//   std::string go = RequireGo();
//   ASSERT_FALSE(go.empty());
//   CommandResult r = GoToolPprof({"-raw", path});
//   ASSERT_EQ(r.exit_code, 0) << r.Describe();
//
// Thread safety: thread-safe.
#ifndef INPROF_TESTS_SUPPORT_GO_TOOL_H_
#define INPROF_TESTS_SUPPORT_GO_TOOL_H_

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace inprof::test {

// Returns the path of the `go` binary: $INPROF_GO if set, else `go` in
// PATH, else /usr/lib/go/bin/go. If there is none, records a non-fatal
// GoogleTest failure whose message says `apt-get install golang-go`, and
// returns "" (callers then ASSERT_FALSE(go.empty())).
std::string RequireGo();

// Environment that makes `go` work offline with all its state in
// `scratch_dir`: HOME, GOCACHE, GOPATH, PPROF_TMPDIR under it, GOPROXY=off,
// GOFLAGS empty, GO111MODULE=off (so that a lone main.go runs without a
// go.mod), GOTOOLCHAIN=local, GOTELEMETRY=off.
EnvVars GoEnvironment(const std::string& scratch_dir);

// Runs `go tool pprof <args...>` in a fresh scratch directory and returns
// what it did. If go is missing, the failure is recorded as by RequireGo()
// and the result has exit_code -1.
CommandResult GoToolPprof(
    const std::vector<std::string>& args,
    std::chrono::milliseconds timeout = kDefaultCommandTimeout);

// Runs `go run <go_file> <args...>` hermetically (scratch state in
// `scratch_dir`), as GoToolPprof does.
CommandResult GoRun(const std::string& go_file,
                    const std::vector<std::string>& args,
                    const std::string& scratch_dir,
                    std::chrono::milliseconds timeout = kDefaultCommandTimeout);

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_GO_TOOL_H_
