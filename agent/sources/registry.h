// ProfileRegistry: the agent's profile sources by name (Go's pprof.Lookup).
//
// Example:
//
//   ProfileRegistry registry;
//   registry.Add(std::make_unique<HeapProfileSource>(...));
//   if (ProfileSource* heap = registry.Find("heap")) heap->Collect(request);
//
#ifndef INPROF_AGENT_SOURCES_REGISTRY_H_
#define INPROF_AGENT_SOURCES_REGISTRY_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sources/profile_source.h"

namespace inprof::internal {

// ProfileRegistry
//
// Ownership: owns its sources.
//
// Thread safety: Add() while the agent starts, before any Find(); Find()
// and names() are then safe from any thread.
class ProfileRegistry {
 public:
  // Adds `source`; its name must be new.
  void Add(std::unique_ptr<ProfileSource> source);

  // The source named `name`, or nullptr.
  ProfileSource* Find(std::string_view name) const;

  // The names, in the order they were added.
  std::vector<std::string> names() const;

 private:
  std::vector<std::unique_ptr<ProfileSource>> sources_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SOURCES_REGISTRY_H_
