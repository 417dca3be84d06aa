#include "agent/threads/thread_profile.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <tuple>

#include "agent/base/clock.h"
#include "agent/labels/label_registry.h"
#include "agent/symbolize/legacy_text.h"
#include "agent/symbolize/stack_samples.h"
#include "agent/symbolize/symbolizer.h"
#include "agent/threads/thread_dump_signal.h"

namespace inprof::internal {
namespace {

std::string Seconds(int64_t nanos) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3fs", static_cast<double>(nanos) / 1e9);
  return buf;
}

std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%" PRIx64, value);
  return buf;
}

// The endpoint of `label_set`, or "".
// The bracketed description of a thread in debug=2: kernel state, CPU time,
// request, agent mark.
std::string Describe(const ThreadRecord& r, uint64_t dump_monotonic_ns) {
  std::string out =
      r.state_name.empty() ? std::string(1, r.state) : r.state_name;
  if (r.cpu_nanos >= 0) out += ", " + Seconds(r.cpu_nanos) + " CPU";
  if (r.request_id != 0) {
    out += ", request";
    const std::string_view endpoint = EndpointOf(r.label_set);
    if (!endpoint.empty()) out += " \"" + std::string(endpoint) + "\"";
    if (r.request_start_ns != 0 && r.request_start_ns <= dump_monotonic_ns) {
      out +=
          " running " +
          Seconds(static_cast<int64_t>(dump_monotonic_ns - r.request_start_ns));
    } else {
      out +=
          " (running time unknown: requests are timed while "
          "auto-capture is on)";
    }
  }
  if (r.agent_thread) out += ", inprof agent thread";
  return out;
}

bool LeafIsInterrupted(const ThreadRecord& r) {
  return r.status == ThreadStackStatus::kSampled;
}

}  // namespace

std::string_view NoStackFrame(ThreadStackStatus status) {
  switch (status) {
    case ThreadStackStatus::kSampled:
    case ThreadStackStatus::kSelf:
      return "";
    case ThreadStackStatus::kSignalBlocked:
      return "inprof.ThreadSignalBlocked";
    case ThreadStackStatus::kStopped:
      return "inprof.ThreadStopped";
    case ThreadStackStatus::kExited:
      return "inprof.ThreadExited";
    case ThreadStackStatus::kNoAnswer:
      return "inprof.ThreadNoAnswer";
    case ThreadStackStatus::kNotAsked:
      return "inprof.ThreadNotAsked";
    case ThreadStackStatus::kSignalFailed:
      return "inprof.ThreadSignalFailed";
    case ThreadStackStatus::kNoAgentStack:
      return "inprof.ThreadNoAgentStack";
  }
  return "inprof.ThreadUnknown";
}

std::vector<std::string> ThreadDumpComments(const ThreadDump& dump) {
  size_t with_stacks = 0;
  for (const ThreadRecord& r : dump.threads) with_stacks += r.has_stack();
  std::vector<std::string> comments = {
      "inprof thread dump: " + std::to_string(dump.threads.size()) +
      " threads, " + std::to_string(with_stacks) + " with stacks; signal " +
      (dump.signo != 0 ? std::to_string(dump.signo) : std::string("none")) +
      "; collected in " + Seconds(dump.took_nanos)};
  if (!dump.signal_problem.empty()) comments.push_back(dump.signal_problem);
  return comments;
}

Profile BuildThreadProfile(const ThreadDump& dump, Symbolizer* symbolizer) {
  Profile profile;
  profile.sample_types = {{"goroutine", "count"}};
  profile.period_type = {"goroutine", "count"};
  profile.period = 1;
  profile.time_nanos = dump.unix_nanos;
  profile.duration_nanos = 0;
  profile.comments = ThreadDumpComments(dump);

  // Threads alike in stack, labels and name are one sample. The agent's
  // threads come last: a code address they share with the host's threads
  // is then symbolized (and its location made) for the host's, in full.
  using Key = std::tuple<bool, std::vector<uint64_t>, bool, uint64_t,
                         std::string, ThreadStackStatus>;
  std::map<Key, int64_t> counts;
  for (const ThreadRecord& r : dump.threads) {
    ++counts[Key(r.agent_thread, r.pcs, LeafIsInterrupted(r), r.label_set,
                 r.name,
                 r.has_stack() ? ThreadStackStatus::kSampled : r.status)];
  }
  StackSampleBuilder samples(symbolizer, &profile);
  for (const auto& [key, count] : counts) {
    if (samples.cancelled()) break;  // the result is thrown away
    const auto& [agent, pcs, interrupted, label_set, name, status] = key;
    const NamesOnlyScope names_only(symbolizer, agent);
    Sample& sample =
        samples.Add(pcs,
                    interrupted ? StackSampleBuilder::kInterruptedPc
                                : StackSampleBuilder::kAllReturnAddresses,
                    pcs.empty() ? NoStackFrame(status)
                                : std::string_view("inprof.NoFrames"),
                    {count}, label_set);
    sample.labels.push_back(Label{std::string(kThreadNameLabel), name, 0, ""});
    if (agent) {
      sample.labels.push_back(
          Label{std::string(kAgentThreadLabel), "true", 0, ""});
    }
  }
  samples.Finish();
  return profile;
}

std::string ThreadProfileText(const ThreadDump& dump, Symbolizer* symbolizer) {
  // Go groups by stack and labels only: names do not split a group (nor
  // does being the agent's: its threads' stacks are its own anyway).
  using Key =
      std::tuple<std::vector<uint64_t>, uint64_t, std::string_view, bool>;
  std::map<Key, int64_t> counts;
  for (const ThreadRecord& r : dump.threads) {
    ++counts[Key(r.pcs, r.label_set,
                 r.pcs.empty() ? NoStackFrame(r.status) : "", r.agent_thread)];
  }
  std::vector<std::pair<const Key*, int64_t>> order;
  for (const auto& [key, count] : counts) order.emplace_back(&key, count);
  std::stable_sort(
      order.begin(), order.end(),
      [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out =
      "goroutine profile: total " + std::to_string(dump.threads.size()) + "\n";
  for (const std::string& comment : ThreadDumpComments(dump)) {
    out += "# " + comment + "\n";
  }
  for (const auto& [key, count] : order) {
    if (symbolizer->cancelled()) break;  // the result is thrown away
    const auto& [pcs, label_set, frame, agent] = *key;
    const NamesOnlyScope names_only(symbolizer, agent);
    out += std::to_string(count);
    AppendLegacyStack(
        out, pcs, frame.empty() ? std::string_view("inprof.NoFrames") : frame,
        label_set, symbolizer);
    out += '\n';
  }
  return out;
}

std::string ThreadDumpText(const ThreadDump& dump, Symbolizer* symbolizer) {
  std::string out;
  for (const std::string& comment : ThreadDumpComments(dump)) {
    out += "# " + comment + "\n";
  }
  out += '\n';
  for (const ThreadRecord& r : dump.threads) {
    if (symbolizer->cancelled()) break;  // the result is thrown away
    out += "thread " + std::to_string(r.tid) + " \"" + r.name + "\" [" +
           Describe(r, dump.monotonic_nanos) + "]:\n";
    if (const LabelSet* set = LabelRegistry::Global().Find(r.label_set)) {
      out += "# labels: " + GoLabelsText(*set) + '\n';
    }
    if (!r.has_stack()) {
      out += "\tno stack: " + r.reason + "\n\n";
      continue;
    }
    const NamesOnlyScope names_only(symbolizer, r.agent_thread);
    for (size_t i = 0; i < r.pcs.size(); ++i) {
      const uint64_t pc = r.pcs[i];
      // The interrupted pc is symbolized as is; return addresses at pc - 1
      // (pprof-spec.md §2.5), as the profile's locations.
      const bool exact = i == 0 && LeafIsInterrupted(r);
      for (const SourceFrame& frame :
           symbolizer->Symbolize(exact ? pc : pc - 1)) {
        out += frame.name + "\n\t" +
               (frame.file.empty() ? std::string("?") : frame.file) + ':' +
               std::to_string(frame.line) + " pc=" + Hex(pc) + '\n';
      }
    }
    if (r.truncated ||
        r.pcs.size() >= static_cast<size_t>(kThreadDumpMaxDepth)) {
      out += "...additional frames elided...\n";
    }
    out += '\n';
  }
  return out;
}

}  // namespace inprof::internal
