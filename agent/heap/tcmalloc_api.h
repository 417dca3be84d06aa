// TcmallocApi finds gperftools' tcmalloc in the running process, at run time:
// the agent never links tcmalloc itself (that would replace the host's
// allocator behind its back), so it looks the C entry points up with dlsym.
// Allocator statistics come from its MallocExtension; heap samples come
// from its MallocHook new/delete hooks only when inprof's malloc front is not
// the process's malloc (heap_sampler.h).
//
// Thread safety: Find() is thread-safe (it looks once); the returned struct
// is immutable. Not async-signal-safe (dlsym).
#ifndef INPROF_AGENT_HEAP_TCMALLOC_API_H_
#define INPROF_AGENT_HEAP_TCMALLOC_API_H_

#include <cstddef>
#include <string>

namespace inprof::internal {

struct TcmallocApi {
  using NewHook = void (*)(const void* ptr, size_t size);
  using DeleteHook = void (*)(const void* ptr);

  int (*add_new_hook)(NewHook) = nullptr;
  int (*remove_new_hook)(NewHook) = nullptr;
  int (*add_delete_hook)(DeleteHook) = nullptr;
  int (*remove_delete_hook)(DeleteHook) = nullptr;
  int (*get_numeric_property)(const char* name, size_t* value) = nullptr;
  void (*get_stats)(char* buffer, int length) = nullptr;
  void (*release_free_memory)() = nullptr;
  // Releases at least `bytes` of free memory to the system (when there is).
  void (*release_to_system)(size_t bytes) = nullptr;
  const char* (*version)(int* major, int* minor, const char** patch) = nullptr;

  // The process's tcmalloc (the allocator malloc reaches, behind the malloc
  // front or not), or nullptr when malloc is another allocator (glibc's,
  // jemalloc...), with the reason in *why_not.
  static const TcmallocApi* Find(std::string* why_not);
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HEAP_TCMALLOC_API_H_
