// Canned profiles for the codec tests: a rich one exercising every field,
// and the small CPU profile the e2e tests feed to `go tool pprof`.
#ifndef INPROF_TESTS_AGENT_PROFILE_TEST_PROFILES_H_
#define INPROF_TESTS_AGENT_PROFILE_TEST_PROFILES_H_

#include "agent/profile/profile.h"

namespace inprof::internal {

// Every field set at least once, with string and numeric labels, an
// inlined location, all mapping flags, comments and negative values.
inline Profile MakeRichProfile() {
  Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.mappings = {
      {1, 0x400000, 0x500000, 0x1000, "/usr/bin/demo", "abc123", true, true,
       true, true},
      {2, 0x7f0000000000, 0x7f0000100000, 0, "/lib/libc.so.6", "", false, false,
       false, false},
  };
  p.functions = {
      {1, "main", "main", "/src/main.cc", 10},
      {2, "app::Foo()", "_ZN3app3FooEv", "/src/foo.cc", 20},
      {3, "app::Inlined()", "_ZN3app7InlinedEv", "/src/foo.h", 5},
      {4, "memcpy", "", "", 0},
  };
  p.locations = {
      {1, 1, 0x401000, {{1, 12, 3}}, false},
      {2, 1, 0x402000, {{3, 7, 0}, {2, 25, 9}}, false},
      {3, 2, 0x7f0000000100, {{4, 0, 0}}, true},
      {4, 0, 0x1234, {}, false},
  };
  p.samples = {
      {{2, 1}, {10, 100000000}, {{"route", "/a", 0, ""}}},
      {{3, 2, 1},
       {-5, -50000000},
       {{"bytes", "", 4096, "bytes"}, {"thread", "worker-1", 0, ""}}},
      {{4}, {0, 0}, {}},
      {{1, 2, 3, 4, 1}, {1, 10000000}, {{"n", "", -7, ""}}},
  };
  p.drop_frames = "^std::";
  p.keep_frames = "app::.*";
  p.time_nanos = 1700000000123456789;
  p.duration_nanos = 5000000000;
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10000000;
  p.comments = {"dropped_samples=0", "", "héllo wörld", "route"};
  p.default_sample_type = "cpu";
  p.doc_url = "https://example.com/doc";
  return p;
}

// A CPU profile as the agent would serve it: main -> foo (10 samples) and
// main -> bar (5 samples), 10 ms period, 5 s duration, one symbolized
// mapping. `go tool pprof` shows foo 100ms, bar 50ms, main 150ms cum.
inline Profile MakeCpuProfile() {
  Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10000000;
  p.time_nanos = 1700000000000000000;
  p.duration_nanos = 5000000000;
  Mapping m;
  m.id = 1;
  m.memory_start = 0x400000;
  m.memory_limit = 0x500000;
  m.filename = "/usr/bin/demo";
  m.has_functions = true;
  p.mappings = {m};
  p.functions = {{1, "main", "main", "/src/demo.cc", 1},
                 {2, "foo", "foo", "/src/demo.cc", 10},
                 {3, "bar", "bar", "/src/demo.cc", 20}};
  p.locations = {{1, 1, 0x401000, {{1, 5, 0}}, false},
                 {2, 1, 0x402000, {{2, 12, 0}}, false},
                 {3, 1, 0x403000, {{3, 22, 0}}, false}};
  p.samples = {{{2, 1}, {10, 100000000}, {}}, {{3, 1}, {5, 50000000}, {}}};
  return p;
}

}  // namespace inprof::internal

#endif  // INPROF_TESTS_AGENT_PROFILE_TEST_PROFILES_H_
