#include "report/flame_json.h"

#include "agent/profile/check_valid.h"
#include "agent/profile/decode.h"
#include "report/diff.h"
#include "report/flamegraph.h"

namespace inprof::report {
namespace {

StatusOr<internal::Profile> Decode(std::string_view bytes, const char* what) {
  StatusOr<internal::Profile> p = internal::DecodeProfile(bytes);
  if (!p.ok()) {
    return InvalidArgumentError(std::string(what) + ": " +
                                p.status().message());
  }
  if (Status valid = internal::CheckValid(*p); !valid.ok()) {
    return InvalidArgumentError(std::string(what) + ": " + valid.message());
  }
  return p;
}

}  // namespace

StatusOr<std::string> FlameJsonFromBytes(const FlameJsonRequest& request) {
  StatusOr<internal::Profile> next = Decode(request.profile, "profile");
  if (!next.ok()) return next.status();
  StackOptions options;
  options.sample_index = request.sample_index;
  FlamePageInfo info;
  info.title = request.title;
  info.subtitle = request.subtitle;
  for (const internal::ValueType& t : next->sample_types) {
    info.sample_types.push_back(t.type);
  }
  FlameTree tree;
  if (request.base) {
    StatusOr<internal::Profile> base = Decode(*request.base, "base");
    if (!base.ok()) return base.status();
    StatusOr<ComparedStacks> compared = CompareStacks(*base, *next, options);
    if (!compared.ok()) return compared.status();
    tree = BuildFlameTree(compared->next, &compared->base);
    if (info.subtitle.empty()) {
      info.subtitle = FlameSubtitle(compared->next, &compared->base);
    }
    info.sample_type = compared->next.value_type.type;
    info.unit = compared->next.value_type.unit;
  } else {
    StatusOr<StackSet> stacks = BuildStackSet(*next, options);
    if (!stacks.ok()) return stacks.status();
    tree = BuildFlameTree(*stacks, nullptr);
    if (info.subtitle.empty()) info.subtitle = FlameSubtitle(*stacks, nullptr);
    info.sample_type = stacks->value_type.type;
    info.unit = stacks->value_type.unit;
  }
  return FlameTreeJson(tree, info);
}

}  // namespace inprof::report
