#include "report/flame_json.h"

#include "agent/profile/check_valid.h"
#include "agent/profile/decode.h"
#include "report/diff.h"
#include "report/flamegraph.h"

namespace inprof::report {

StatusOr<internal::Profile> DecodeChecked(std::string_view bytes,
                                          std::string_view what) {
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

StatusOr<std::string> FlameJsonFromBytes(const FlameJsonRequest& request) {
  StatusOr<internal::Profile> next = DecodeChecked(request.profile, "profile");
  if (!next.ok()) return next.status();
  if (!request.base) return FlameJsonFromProfiles(*next, nullptr, request);
  StatusOr<internal::Profile> base = DecodeChecked(*request.base, "base");
  if (!base.ok()) return base.status();
  return FlameJsonFromProfiles(*next, &*base, request);
}

StatusOr<std::string> FlameJsonFromProfiles(const internal::Profile& next,
                                            const internal::Profile* base,
                                            const FlameJsonRequest& request) {
  StackOptions options;
  options.sample_index = request.sample_index;
  FlamePageInfo info;
  info.title = request.title;
  info.subtitle = request.subtitle;
  for (const internal::ValueType& t : next.sample_types) {
    info.sample_types.push_back(t.type);
  }
  FlameTree tree;
  if (base != nullptr) {
    StatusOr<ComparedStacks> compared = CompareStacks(*base, next, options);
    if (!compared.ok()) return compared.status();
    tree = BuildFlameTree(compared->next, &compared->base);
    if (info.subtitle.empty()) {
      info.subtitle = FlameSubtitle(compared->next, &compared->base);
    }
    info.sample_type = compared->next.value_type.type;
    info.unit = compared->next.value_type.unit;
  } else {
    StatusOr<StackSet> stacks = BuildStackSet(next, options);
    if (!stacks.ok()) return stacks.status();
    tree = BuildFlameTree(*stacks, nullptr);
    if (info.subtitle.empty()) info.subtitle = FlameSubtitle(*stacks, nullptr);
    info.sample_type = stacks->value_type.type;
    info.unit = stacks->value_type.unit;
  }
  return FlameTreeJson(tree, info);
}

}  // namespace inprof::report
