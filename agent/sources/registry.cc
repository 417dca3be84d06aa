#include "agent/sources/registry.h"

#include <utility>

namespace inprof::internal {

void ProfileRegistry::Add(std::unique_ptr<ProfileSource> source) {
  sources_.push_back(std::move(source));
}

ProfileSource* ProfileRegistry::Find(std::string_view name) const {
  for (const auto& source : sources_) {
    if (source->name() == name) return source.get();
  }
  return nullptr;
}

std::vector<std::string> ProfileRegistry::names() const {
  std::vector<std::string> names;
  for (const auto& source : sources_) names.emplace_back(source->name());
  return names;
}

}  // namespace inprof::internal
