#include "report/stacks.h"

#include <charconv>
#include <optional>
#include <unordered_map>

namespace inprof::report {
namespace {

using internal::Location;
using internal::Profile;

std::string TypeList(const Profile& profile) {
  std::string list;
  for (const internal::ValueType& t : profile.sample_types) {
    if (!list.empty()) list += ", ";
    list += t.type;
  }
  return list.empty() ? "none" : list;
}

// Interns node names and maps every location to its node ids, root first,
// so that each sample's stack is a concatenation of precomputed runs.
class NodeIndex {
 public:
  explicit NodeIndex(const Profile& profile, StackSet* out)
      : profile_(profile), out_(*out) {
    for (size_t i = 0; i < profile.mappings.size(); ++i) {
      mapping_index_[profile.mappings[i].id] = i;
    }
    for (size_t i = 0; i < profile.functions.size(); ++i) {
      function_index_[profile.functions[i].id] = i;
    }
    location_runs_.reserve(profile.locations.size());
    for (size_t i = 0; i < profile.locations.size(); ++i) {
      location_index_[profile.locations[i].id] = i;
      AddLocation(profile.locations[i]);
    }
  }

  // Node ids of location `id`, root first; empty for an unknown id.
  std::span<const uint32_t> Run(uint64_t location_id) const {
    auto it = location_index_.find(location_id);
    if (it == location_index_.end()) return {};
    const auto& [begin, end] = location_runs_[it->second];
    return {run_frames_.data() + begin, run_frames_.data() + end};
  }

 private:
  uint32_t Intern(std::string name) {
    auto [it, inserted] =
        ids_.try_emplace(name, static_cast<uint32_t>(out_.names.size()));
    if (inserted) out_.names.push_back(std::move(name));
    return it->second;
  }

  std::string UnsymbolizedName(const Location& loc) const {
    auto it = mapping_index_.find(loc.mapping_id);
    if (loc.mapping_id == 0 || it == mapping_index_.end()) return "<unknown>";
    const std::string& file = profile_.mappings[it->second].filename;
    return file.empty() ? "<unknown>" : "[" + FileBasename(file) + "]";
  }

  void AddLocation(const Location& loc) {
    uint32_t begin = static_cast<uint32_t>(run_frames_.size());
    if (loc.lines.empty()) {
      run_frames_.push_back(Intern(UnsymbolizedName(loc)));
    }
    // Lines are innermost first; a stack reads root first.
    for (auto line = loc.lines.rbegin(); line != loc.lines.rend(); ++line) {
      auto it = function_index_.find(line->function_id);
      std::string name;
      if (it != function_index_.end()) {
        name = profile_.functions[it->second].name;
      }
      run_frames_.push_back(
          Intern(name.empty() ? UnsymbolizedName(loc) : std::move(name)));
    }
    location_runs_.emplace_back(begin,
                                static_cast<uint32_t>(run_frames_.size()));
  }

  const Profile& profile_;
  StackSet& out_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::unordered_map<uint64_t, size_t> mapping_index_;
  std::unordered_map<uint64_t, size_t> function_index_;
  std::unordered_map<uint64_t, size_t> location_index_;
  std::vector<std::pair<uint32_t, uint32_t>> location_runs_;
  std::vector<uint32_t> run_frames_;
};

StatusOr<std::optional<std::regex>> CompileFilter(std::string_view option,
                                                  const std::string& pattern) {
  if (pattern.empty()) return std::optional<std::regex>();
  try {
    return std::optional<std::regex>(std::regex(pattern));
  } catch (const std::regex_error& e) {
    return InvalidArgumentError(std::string(option) + "=" + pattern +
                                ": not a valid regular expression (" +
                                e.what() + ")");
  }
}

// Per node: does its name match the filter? Decided once per name.
std::vector<bool> Matches(const std::vector<std::string>& names,
                          const std::optional<std::regex>& re) {
  std::vector<bool> match(names.size(), false);
  if (!re) return match;
  for (size_t i = 0; i < names.size(); ++i) {
    match[i] = std::regex_search(names[i], *re);
  }
  return match;
}

bool AnyFrame(std::span<const uint32_t> frames, const std::vector<bool>& hit) {
  for (uint32_t f : frames) {
    if (hit[f]) return true;
  }
  return false;
}

// Bounds that keep a hostile file from taking the viewer's memory: stacks
// expand each location's lines once per sample, so a small file can ask for
// billions of frames.
constexpr size_t kMaxFrames = size_t{1} << 28;   // 1 GiB of node ids
constexpr int64_t kMaxTotal = int64_t{1} << 62;  // differences stay in range

}  // namespace

std::string FileBasename(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path
                                                     : path.substr(slash + 1));
}

StatusOr<size_t> SelectSampleIndex(const Profile& profile,
                                   std::string_view spec) {
  const auto& types = profile.sample_types;
  if (types.empty()) {
    return InvalidArgumentError("the profile has no sample types");
  }
  if (spec.empty()) spec = profile.default_sample_type;
  if (spec.empty()) return types.size() - 1;
  size_t index = 0;
  auto [end, ec] =
      std::from_chars(spec.data(), spec.data() + spec.size(), index);
  if (ec == std::errc() && end == spec.data() + spec.size()) {
    if (index < types.size()) return index;
  } else {
    // pprof also accepts the old "sample_index=inuse" spellings with a
    // trailing unit-less name; names are matched exactly here.
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i].type == spec) return i;
    }
  }
  return InvalidArgumentError("sample_index=" + std::string(spec) +
                              ": the profile has no such sample type "
                              "(it has: " +
                              TypeList(profile) + ")");
}

StatusOr<StackSet> BuildStackSet(const Profile& profile,
                                 const StackOptions& options) {
  StatusOr<size_t> index = SelectSampleIndex(profile, options.sample_index);
  if (!index.ok()) return index.status();
  auto focus = CompileFilter("focus", options.focus);
  if (!focus.ok()) return focus.status();
  auto ignore = CompileFilter("ignore", options.ignore);
  if (!ignore.ok()) return ignore.status();

  StackSet out;
  out.value_type = profile.sample_types[*index];
  NodeIndex nodes(profile, &out);
  out.stacks.reserve(profile.samples.size());
  for (const internal::Sample& sample : profile.samples) {
    if (*index >= sample.values.size()) continue;
    int64_t value = sample.values[*index];
    if (value == 0) continue;
    StackSet::Stack stack;
    stack.begin = static_cast<uint32_t>(out.frames.size());
    // location_ids are leaf first.
    for (auto id = sample.location_ids.rbegin();
         id != sample.location_ids.rend(); ++id) {
      std::span<const uint32_t> run = nodes.Run(*id);
      if (out.frames.size() + run.size() > kMaxFrames) {
        return InvalidArgumentError("the samples' stacks hold more than " +
                                    std::to_string(kMaxFrames) +
                                    " frames in all; refusing to expand them");
      }
      out.frames.insert(out.frames.end(), run.begin(), run.end());
    }
    stack.end = static_cast<uint32_t>(out.frames.size());
    stack.value = value;
    out.stacks.push_back(stack);
  }
  if (*focus || *ignore) {
    std::vector<bool> focus_hit = Matches(out.names, *focus);
    std::vector<bool> ignore_hit = Matches(out.names, *ignore);
    std::erase_if(out.stacks, [&](const StackSet::Stack& s) {
      std::span<const uint32_t> frames = out.FramesOf(s);
      if (*focus && !AnyFrame(frames, focus_hit)) return true;
      return *ignore && AnyFrame(frames, ignore_hit);
    });
  }
  for (const StackSet::Stack& s : out.stacks) {
    uint64_t magnitude = s.value < 0 ? 0 - static_cast<uint64_t>(s.value)
                                     : static_cast<uint64_t>(s.value);
    if (magnitude > static_cast<uint64_t>(kMaxTotal - out.total)) {
      return InvalidArgumentError("sample values of type " +
                                  out.value_type.type +
                                  " add up to more than 2^62; refusing them");
    }
    out.total += static_cast<int64_t>(magnitude);
  }
  return out;
}

}  // namespace inprof::report
