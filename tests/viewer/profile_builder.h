// Small profiles for the viewer's tests, written as folded stacks:
//
//   Profile p = FoldedProfile({{"main;foo", {10, 100000000}},
//                              {"main;bar", {5, 50000000}}});
//
// Each name becomes one Function and one Location (in /usr/bin/demo) unless
// written "outer+inner", which is one location with `inner` inlined into
// `outer`; "[lib]" makes an unsymbolized location in /usr/lib/lib.
#ifndef INPROF_TESTS_VIEWER_PROFILE_BUILDER_H_
#define INPROF_TESTS_VIEWER_PROFILE_BUILDER_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "agent/profile/profile.h"

namespace inprof::viewer::test {

struct FoldedSample {
  std::string stack;  // root first, ';'-separated
  std::vector<int64_t> values;
};

inline std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    size_t end = text.find(sep, begin);
    parts.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

// A CPU-like profile (samples/count, cpu/nanoseconds, period 10 ms,
// duration 5 s) unless `types` says otherwise.
inline internal::Profile FoldedProfile(
    const std::vector<FoldedSample>& samples,
    std::vector<internal::ValueType> types = {{"samples", "count"},
                                              {"cpu", "nanoseconds"}},
    int64_t period = 10000000) {
  internal::Profile p;
  p.sample_types = std::move(types);
  p.period_type = {"cpu", "nanoseconds"};
  p.period = period;
  p.duration_nanos = 5000000000;
  p.time_nanos = 1700000000000000000;
  p.mappings = {
      {1, 0x400000, 0x500000, 0, "/usr/bin/demo", "", true, true, true, true},
      {2, 0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/lib", "", false, false,
       false, false}};
  std::map<std::string, uint64_t> functions;
  std::map<std::string, uint64_t> locations;
  auto function = [&](const std::string& name) {
    auto [it, inserted] = functions.try_emplace(name, functions.size() + 1);
    if (inserted) p.functions.push_back({it->second, name, name, "x.cc", 1});
    return it->second;
  };
  auto location = [&](const std::string& frame) {
    auto [it, inserted] = locations.try_emplace(frame, locations.size() + 1);
    if (!inserted) return it->second;
    internal::Location loc;
    loc.id = it->second;
    loc.address = 0x401000 + 16 * it->second;
    loc.mapping_id = 1;
    if (frame.front() == '[') {
      loc.mapping_id = 2;
      loc.address = 0x7f0000000000 + 16 * it->second;
    } else {
      std::vector<std::string> names = Split(frame, '+');
      for (auto n = names.rbegin(); n != names.rend(); ++n) {
        loc.lines.push_back({function(*n), 1, 0});
      }
    }
    p.locations.push_back(std::move(loc));
    return it->second;
  };
  for (const FoldedSample& s : samples) {
    internal::Sample sample;
    std::vector<std::string> frames = Split(s.stack, ';');
    for (auto f = frames.rbegin(); f != frames.rend(); ++f) {
      sample.location_ids.push_back(location(*f));
    }
    sample.values = s.values;
    p.samples.push_back(std::move(sample));
  }
  return p;
}

// `p` with its mapping, function and location ids replaced, in array
// order, by the ones given (which must be as many as the entries), and every
// reference rewritten to match: a profile as a writer other than ours may
// produce it (ids unique and nonzero, not 1..N in order).
inline internal::Profile WithIds(internal::Profile p,
                                 const std::vector<uint64_t>& mapping_ids,
                                 const std::vector<uint64_t>& function_ids,
                                 const std::vector<uint64_t>& location_ids) {
  auto id = [](const std::vector<uint64_t>& ids, uint64_t old) {
    return old == 0 ? 0 : ids.at(old - 1);
  };
  for (size_t i = 0; i < p.mappings.size(); ++i) {
    p.mappings[i].id = mapping_ids.at(i);
  }
  for (size_t i = 0; i < p.functions.size(); ++i) {
    p.functions[i].id = function_ids.at(i);
  }
  for (size_t i = 0; i < p.locations.size(); ++i) {
    internal::Location& loc = p.locations[i];
    loc.id = location_ids.at(i);
    loc.mapping_id = id(mapping_ids, loc.mapping_id);
    for (internal::Line& line : loc.lines) {
      line.function_id = id(function_ids, line.function_id);
    }
  }
  for (internal::Sample& s : p.samples) {
    for (uint64_t& loc : s.location_ids) loc = id(location_ids, loc);
  }
  return p;
}

}  // namespace inprof::viewer::test

#endif  // INPROF_TESTS_VIEWER_PROFILE_BUILDER_H_
