#include "agent/heap/tcmalloc_api.h"

#include <dlfcn.h>

#include "agent/heap/heap_hooks.h"

namespace inprof::internal {
namespace {

template <typename T>
bool Lookup(const char* name, T* out) {
  *out = reinterpret_cast<T>(dlsym(RTLD_DEFAULT, name));
  return *out != nullptr;
}

struct Found {
  TcmallocApi api;
  bool ok = false;
  std::string why_not;
};

Found FindOnce() {
  Found found;
  TcmallocApi& api = found.api;
  // tcmalloc defines malloc as an alias of tc_malloc: when the two resolve
  // to the same address, tcmalloc is the allocator every malloc reaches.
  void* malloc_address = dlsym(RTLD_DEFAULT, "malloc");
  void* tc_malloc_address = dlsym(RTLD_DEFAULT, "tc_malloc");
  if (tc_malloc_address == nullptr) {
    found.why_not =
        "the process does not use tcmalloc: link the program with -ltcmalloc "
        "(apt-get install libgoogle-perftools-dev) or start it with "
        "LD_PRELOAD=libtcmalloc.so.4";
    return found;
  }
  // With the malloc front in use, malloc is the front's, and tcmalloc's
  // malloc is the one it forwards to.
  if (MallocFrontInUse()) malloc_address = MallocFrontNextMalloc();
  if (malloc_address != tc_malloc_address) {
    found.why_not =
        "tcmalloc is loaded but malloc is another allocator's: link "
        "-ltcmalloc before other allocators, or LD_PRELOAD=libtcmalloc.so.4";
    return found;
  }
  bool complete =
      Lookup("MallocHook_AddNewHook", &api.add_new_hook) &&
      Lookup("MallocHook_RemoveNewHook", &api.remove_new_hook) &&
      Lookup("MallocHook_AddDeleteHook", &api.add_delete_hook) &&
      Lookup("MallocHook_RemoveDeleteHook", &api.remove_delete_hook) &&
      Lookup("MallocExtension_GetNumericProperty", &api.get_numeric_property) &&
      Lookup("MallocExtension_GetStats", &api.get_stats) &&
      Lookup("MallocExtension_ReleaseFreeMemory", &api.release_free_memory) &&
      Lookup("MallocExtension_ReleaseToSystem", &api.release_to_system);
  Lookup("tc_version", &api.version);  // optional
  if (!complete) {
    found.why_not =
        "this tcmalloc lacks the MallocHook/MallocExtension C API of "
        "gperftools 2.x";
    return found;
  }
  found.ok = true;
  return found;
}

}  // namespace

const TcmallocApi* TcmallocApi::Find(std::string* why_not) {
  static const Found* found = new Found(FindOnce());
  if (!found->ok) {
    if (why_not != nullptr) *why_not = found->why_not;
    return nullptr;
  }
  return &found->api;
}

}  // namespace inprof::internal
