#include "report/flamegraph.h"

#include <algorithm>
#include <unordered_map>

#include "agent/base/json_string.h"
#include "report/flamegraph_page.h"
#include "report/format.h"

namespace inprof::report {
namespace {

// The tree while it grows: nodes in creation order, children found by
// (parent, name) in one hash map.
class TreeBuilder {
 public:
  TreeBuilder() { AddNode(0, -1); }

  void Add(const StackSet& stacks, bool base) {
    std::vector<uint32_t> remap(stacks.names.size());
    for (size_t i = 0; i < stacks.names.size(); ++i) {
      auto [it, inserted] =
          name_ids_.try_emplace(stacks.names[i], names_.size());
      if (inserted) names_.push_back(stacks.names[i]);
      remap[i] = it->second;
    }
    for (const StackSet::Stack& s : stacks.stacks) {
      uint32_t node = 0;
      Credit(node, s.value, base);
      for (uint32_t frame : stacks.FramesOf(s)) {
        node = Child(node, remap[frame]);
        Credit(node, s.value, base);
      }
    }
  }

  // Depth-first order, children sorted by name, so that equal profiles lay
  // out identically.
  FlameTree Finish(bool with_base) {
    std::vector<std::vector<uint32_t>> children(name_.size());
    for (uint32_t i = 1; i < name_.size(); ++i) {
      children[parent_[i]].push_back(i);
    }
    FlameTree tree;
    tree.names = std::move(names_);
    std::vector<std::pair<uint32_t, int32_t>> pending = {{0, -1}};
    while (!pending.empty()) {
      auto [node, parent] = pending.back();
      pending.pop_back();
      int32_t id = static_cast<int32_t>(tree.name.size());
      tree.name.push_back(name_[node]);
      tree.parent.push_back(parent);
      tree.value.push_back(value_[node]);
      if (with_base) tree.base.push_back(base_[node]);
      std::vector<uint32_t>& kids = children[node];
      std::sort(kids.begin(), kids.end(), [&](uint32_t a, uint32_t b) {
        return tree.names[name_[a]] > tree.names[name_[b]];  // popped reversed
      });
      for (uint32_t kid : kids) pending.emplace_back(kid, id);
    }
    return tree;
  }

 private:
  uint32_t AddNode(uint32_t name, int32_t parent) {
    name_.push_back(name);
    parent_.push_back(parent);
    value_.push_back(0);
    base_.push_back(0);
    return static_cast<uint32_t>(name_.size() - 1);
  }

  uint32_t Child(uint32_t parent, uint32_t name) {
    uint64_t key = (uint64_t{parent} << 32) | name;
    auto it = children_.find(key);
    if (it != children_.end()) return it->second;
    uint32_t node = AddNode(name, static_cast<int32_t>(parent));
    children_.emplace(key, node);
    return node;
  }

  void Credit(uint32_t node, int64_t value, bool base) {
    (base ? base_ : value_)[node] += value;
  }

  std::vector<std::string> names_ = {"all"};
  std::unordered_map<std::string, uint32_t> name_ids_ = {{"all", 0}};
  std::vector<uint32_t> name_;
  std::vector<int32_t> parent_;
  std::vector<int64_t> value_;
  std::vector<int64_t> base_;
  std::unordered_map<uint64_t, uint32_t> children_;
};

// A JSON string that is also safe inside an HTML <script> element.
std::string ScriptSafeJson(std::string_view text) {
  std::string json = internal::JsonString(text);
  std::string out;
  out.reserve(json.size());
  for (char c : json) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

template <typename T>
void AppendArray(const std::vector<T>& values, std::string* out) {
  *out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) *out += ',';
    *out += std::to_string(values[i]);
  }
  *out += ']';
}

}  // namespace

std::string FlameSubtitle(const StackSet& stacks, const StackSet* base) {
  const std::string& unit = stacks.value_type.unit;
  std::string display = SelectDisplayUnit(unit, stacks.total, stacks.total);
  std::string out = stacks.value_type.type + ": ";
  if (base == nullptr) {
    return out + "total " + ScaledValue(stacks.total, unit, display);
  }
  int64_t delta = stacks.total - base->total;
  return out + "base " + ScaledValue(base->total, unit, display) + ", new " +
         ScaledValue(stacks.total, unit, display) + " (" +
         RelativeChange(delta, base->total) + ")";
}

FlameTree BuildFlameTree(const StackSet& stacks, const StackSet* base) {
  TreeBuilder builder;
  builder.Add(stacks, false);
  if (base != nullptr) builder.Add(*base, true);
  return builder.Finish(base != nullptr);
}

std::string FlameTreeJson(const FlameTree& tree, const FlamePageInfo& info) {
  std::string out = "{\"title\":" + ScriptSafeJson(info.title) +
                    ",\"subtitle\":" + ScriptSafeJson(info.subtitle) +
                    ",\"type\":" + ScriptSafeJson(info.sample_type) +
                    ",\"unit\":" + ScriptSafeJson(info.unit) +
                    ",\"sample_types\":[";
  for (size_t i = 0; i < info.sample_types.size(); ++i) {
    if (i > 0) out += ',';
    out += ScriptSafeJson(info.sample_types[i]);
  }
  out += "],\"names\":[";
  for (size_t i = 0; i < tree.names.size(); ++i) {
    if (i > 0) out += ',';
    out += ScriptSafeJson(tree.names[i]);
  }
  out += "],\"name\":";
  AppendArray(tree.name, &out);
  out += ",\"parent\":";
  AppendArray(tree.parent, &out);
  out += ",\"value\":";
  AppendArray(tree.value, &out);
  if (!tree.base.empty()) {
    out += ",\"base\":";
    AppendArray(tree.base, &out);
  }
  return out + "}";
}

namespace {

// The page with `slot` (a marker in flamegraph.html) replaced.
std::string FillSlot(std::string_view slot, std::string_view value) {
  std::string_view page = kFlameGraphPage;
  size_t at = page.find(slot);
  std::string out(page.substr(0, at));
  out += value;
  out += page.substr(at + slot.size());
  return out;
}

}  // namespace

std::string RenderFlameGraphPage(const FlameTree& tree,
                                 const FlamePageInfo& info) {
  return FillSlot("/*INPROF_FLAME_DATA*/null", FlameTreeJson(tree, info));
}

std::string FlameGraphUiPage() {
  return FillSlot("/*INPROF_UI*/false", "true");
}

}  // namespace inprof::report
