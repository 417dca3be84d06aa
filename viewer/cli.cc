#include "viewer/cli.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>

#include "report/diff.h"
#include "report/flamegraph.h"
#include "viewer/folded.h"
#include "viewer/top.h"

namespace inprof::viewer {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitWriteFailed = 1;
constexpr int kExitBadInput = 2;

constexpr const char* kUsage =
    R"(usage: inprof-view <command> [options] <profile>...

Reads pprof profiles (gzipped or raw profile.proto, from inprof or Go) and
gperftools' CPU and heap profiles, from files or http:// URLs of a running
agent or Go service.

commands:
  top PROFILE          flat and cum per function, biggest first
                       (the numbers of go tool pprof -top)
  diff BASE NEW        per function: the value in each, the change and the
                       change in percent, biggest change first (the numbers
                       of go tool pprof -top -diff_base=BASE NEW)
  folded PROFILE       collapsed stacks, one per line, for flamegraph.pl,
                       speedscope or inferno
  flame --html FILE PROFILE
                       an HTML flame graph: one self-contained page with
                       search, zoom and hover
  help                 this text

options:
  --sample_index=TYPE  the value to report: a sample type name (cpu,
                       inuse_space, delay, ...) or index; default: the
                       profile's default type, else its last
  -n, --nodecount=N    show at most N functions (default: all)
  --focus=REGEX        keep only samples with a frame matching REGEX
  --ignore=REGEX       drop samples with a frame matching REGEX
  --cum                sort by cum (diff: show and sort by cum change)
  --html=FILE          diff: write a differential flame graph page to FILE
                       (grown red, shrunk blue) instead of the table;
                       flame: the page to write ("-" for stdout)
  --format=FORMAT      text (default), json or csv
  --color=WHEN         auto (default: when stdout is a terminal), always, never
  --seconds=N          URLs: ask for an N-second profile (sets ?seconds=N)
  --timeout=N          URLs: give up after N seconds
  --no-symbolize       gperftools profiles: keep raw addresses

Options may be written -name or --name, with "=value" or a separate value.
Exit status: 0 success, 2 bad input or usage, 1 output not written.
)";

struct Flag {
  std::string name;
  std::optional<std::string> value;  // from "--name=value"
};

std::optional<Flag> SplitFlag(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-') return std::nullopt;
  std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
  size_t eq = body.find('=');
  if (eq == std::string::npos) return Flag{body, std::nullopt};
  return Flag{body.substr(0, eq), body.substr(eq + 1)};
}

StatusOr<int> ParseInt(const std::string& flag, const std::string& text,
                       int min) {
  int value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min) {
    return InvalidArgumentError(
        "--" + flag + "=" + text +
        ": must be an integer >= " + std::to_string(min));
  }
  return value;
}

// Applies one option that takes a value.
Status ApplyValue(const std::string& name, const std::string& value,
                  Command* cmd) {
  if (name == "sample_index") {
    cmd->stacks.sample_index = value;
  } else if (name == "n" || name == "nodecount") {
    StatusOr<int> n = ParseInt(name, value, 0);
    if (!n.ok()) return n.status();
    cmd->output.rows = static_cast<size_t>(*n);
  } else if (name == "focus") {
    cmd->stacks.focus = value;
  } else if (name == "ignore") {
    cmd->stacks.ignore = value;
  } else if (name == "format") {
    if (value == "text") {
      cmd->output.format = report::OutputFormat::kText;
    } else if (value == "json") {
      cmd->output.format = report::OutputFormat::kJson;
    } else if (value == "csv") {
      cmd->output.format = report::OutputFormat::kCsv;
    } else {
      return InvalidArgumentError("--format=" + value +
                                  ": must be text, json or csv");
    }
  } else if (name == "color") {
    if (value != "auto" && value != "always" && value != "never") {
      return InvalidArgumentError("--color=" + value +
                                  ": must be auto, always or never");
    }
    cmd->color = value;
  } else if (name == "html") {
    if (value.empty()) return InvalidArgumentError("--html needs a file name");
    cmd->html_path = value;
  } else if (name == "seconds") {
    StatusOr<int> s = ParseInt(name, value, 0);
    if (!s.ok()) return s.status();
    cmd->load.fetch.seconds = *s;
  } else if (name == "timeout") {
    StatusOr<int> s = ParseInt(name, value, 1);
    if (!s.ok()) return s.status();
    cmd->load.fetch.timeout_seconds = *s;
  } else {
    return InvalidArgumentError("unknown option -" + name +
                                " (see inprof-view help)");
  }
  return OkStatus();
}

bool IsSwitch(const std::string& name) {
  return name == "cum" || name == "no-symbolize" || name == "h" ||
         name == "help";
}

Status CheckInputCount(const Command& cmd) {
  size_t want = cmd.name == "diff" ? 2 : 1;
  if (cmd.inputs.size() == want) return OkStatus();
  return InvalidArgumentError(
      cmd.name + " takes " +
      (want == 2 ? "two profiles, BASE and NEW" : "one profile") + ", got " +
      std::to_string(cmd.inputs.size()));
}

}  // namespace

std::string UsageText() { return kUsage; }

StatusOr<Command> ParseCommandLine(const std::vector<std::string>& args) {
  Command cmd;
  if (args.empty())
    return InvalidArgumentError("no command (see inprof-view help)");
  cmd.name = args[0];
  if (cmd.name == "help" || cmd.name == "-h" || cmd.name == "--help") {
    cmd.name = "help";
    return cmd;
  }
  if (cmd.name != "top" && cmd.name != "diff" && cmd.name != "folded" &&
      cmd.name != "flame") {
    return InvalidArgumentError("unknown command '" + cmd.name +
                                "' (commands: top, diff, folded, flame, help)");
  }
  bool options_done = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::optional<Flag> flag = options_done ? std::nullopt : SplitFlag(arg);
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (!flag) {
      cmd.inputs.push_back(arg);
      continue;
    }
    if (IsSwitch(flag->name)) {
      if (flag->value) {
        return InvalidArgumentError("-" + flag->name + " takes no value");
      }
      if (flag->name == "cum") cmd.output.by_cum = true;
      if (flag->name == "no-symbolize") cmd.load.symbolize = false;
      if (flag->name == "h" || flag->name == "help") cmd.name = "help";
      continue;
    }
    std::string value;
    if (flag->value) {
      value = *flag->value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return InvalidArgumentError("-" + flag->name + " needs a value");
    }
    if (Status s = ApplyValue(flag->name, value, &cmd); !s.ok()) return s;
  }
  if (cmd.name == "help") return cmd;
  if (Status s = CheckInputCount(cmd); !s.ok()) return s;
  if (cmd.name == "flame" && cmd.html_path.empty()) {
    return InvalidArgumentError("flame writes an HTML page: give --html FILE");
  }
  if (!cmd.html_path.empty() && cmd.name != "flame" && cmd.name != "diff") {
    return InvalidArgumentError("--html goes with flame or diff, not " +
                                cmd.name);
  }
  return cmd;
}

namespace {

int Fail(const std::string& source, const Status& status) {
  std::string line = "inprof-view: ";
  if (!source.empty()) line += source + ": ";
  line += status.message() + "\n";
  std::fputs(line.c_str(), stderr);
  return kExitBadInput;
}

int Write(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
      std::fflush(stdout) != 0) {
    std::fputs("inprof-view: cannot write the output\n", stderr);
    return kExitWriteFailed;
  }
  return kExitOk;
}

// Writes `page` to `path` ("-": stdout) and says where on stderr.
int WritePage(const std::string& path, const std::string& page, size_t frames) {
  if (path == "-") return Write(page);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  bool ok = f != nullptr &&
            std::fwrite(page.data(), 1, page.size(), f) == page.size();
  if (f != nullptr && std::fclose(f) != 0) ok = false;
  if (!ok) {
    std::string line = "inprof-view: " + path +
                       ": cannot write: " + std::strerror(errno) + "\n";
    std::fputs(line.c_str(), stderr);
    return kExitWriteFailed;
  }
  std::string line = "inprof-view: wrote " + path + " (" +
                     std::to_string(frames) + " frames, " +
                     std::to_string(page.size() >> 10) + " KiB)\n";
  std::fputs(line.c_str(), stderr);
  return kExitOk;
}

}  // namespace

int RunViewer(const std::vector<std::string>& args) {
  StatusOr<Command> cmd = ParseCommandLine(args);
  if (!cmd.ok()) return Fail("", cmd.status());
  if (cmd->name == "help") return Write(UsageText());
  cmd->output.color = cmd->color == "always" ||
                      (cmd->color == "auto" && isatty(STDOUT_FILENO) == 1);

  std::vector<LoadedProfile> loaded;
  std::vector<report::SourceInfo> sources;
  for (const std::string& input : cmd->inputs) {
    StatusOr<LoadedProfile> p = LoadProfile(input, cmd->load);
    if (!p.ok()) return Fail(input, p.status());
    sources.push_back(report::DescribeSource(p->profile, input));
    loaded.push_back(std::move(p).value());
  }
  if (cmd->name == "diff") {
    StatusOr<report::ComparedStacks> compared = report::CompareStacks(
        loaded[0].profile, loaded[1].profile, cmd->stacks);
    if (!compared.ok()) {
      return Fail(cmd->inputs[0] + " vs " + cmd->inputs[1], compared.status());
    }
    if (!cmd->html_path.empty()) {
      report::FlameTree tree =
          report::BuildFlameTree(compared->next, &compared->base);
      report::FlamePageInfo info;
      info.title = "diff: " + cmd->inputs[0] + " \u2192 " + cmd->inputs[1];
      info.subtitle = report::FlameSubtitle(compared->next, &compared->base);
      info.sample_type = compared->next.value_type.type;
      info.unit = compared->next.value_type.unit;
      return WritePage(cmd->html_path, report::RenderFlameGraphPage(tree, info),
                       tree.name.size() - 1);
    }
    report::DiffReport diff =
        report::MakeDiff(*compared, sources[0], sources[1], cmd->output.by_cum);
    return Write(report::RenderDiff(diff, cmd->output));
  }
  StatusOr<report::StackSet> stacks =
      report::BuildStackSet(loaded[0].profile, cmd->stacks);
  if (!stacks.ok()) return Fail(cmd->inputs[0], stacks.status());
  if (cmd->name == "folded") return Write(RenderFolded(*stacks));
  if (cmd->name == "flame") {
    report::FlameTree tree = report::BuildFlameTree(*stacks, nullptr);
    report::FlamePageInfo info;
    info.title = cmd->inputs[0];
    info.subtitle = report::FlameSubtitle(*stacks, nullptr);
    info.sample_type = stacks->value_type.type;
    info.unit = stacks->value_type.unit;
    return WritePage(cmd->html_path, report::RenderFlameGraphPage(tree, info),
                     tree.name.size() - 1);
  }
  TopReport report = MakeTop(*stacks, sources[0], cmd->output.by_cum);
  return Write(RenderTop(report, cmd->output));
}

}  // namespace inprof::viewer
