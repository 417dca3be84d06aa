#include "agent/unwind/stack_walker.h"

// SIGNAL CONTEXT. Walk() and WalkHere() run inside the CPU signal handler and
// inside allocation hooks; the rest is marked. See unwind.h for the rules.

#include <pthread.h>

#include <cstring>

#include "agent/base/agent_thread.h"
#include "agent/unwind/agent_stack.h"

namespace inprof::internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// How often the refresh thread compares the loader's module counters (a
// dl_iterate_phdr call of a few microseconds).
constexpr milliseconds kRefreshInterval{200};
// Rebuilds asked for by walkers (a stack the map did not know) are rate
// limited: reading /proc/self/maps is not free in a big process.
constexpr milliseconds kMinRebuildInterval{50};

}  // namespace

StackWalk StackWalker::Walk(const ucontext_t& context, uint64_t* pcs,
                            int max_depth) noexcept {
  // libunwind's fallback path takes a pthread lock: the contention hooks
  // must let it through (agent_thread.h).
  AgentCodeScope agent_code;
  StackWalk walk;
  const AddressMap* map = maps_.Acquire();
  if (map == nullptr) {
    maps_.Release();
    walk.no_map = true;
    return walk;
  }
  UnwindResult unwound = unwinder_.Unwind(context, *map, pcs, max_depth);
  maps_.Release();
  walk.depth = unwound.depth;
  walk.truncated = unwound.truncated;
  walk.unknown_stack = unwound.unknown_stack;
  if (unwound.unknown_stack || unwound.unknown_code) {
    maps_.RequestRefresh();  // a new thread's stack or a new module
  }
  return walk;
}

StackWalk StackWalker::WalkHere(uint64_t* pcs, int max_depth) noexcept {
  ucontext_t context;
  StackWalk walk;
  if (max_depth <= 0 || getcontext(&context) != 0) return walk;
  // The hook's thread may run on a small coroutine stack: the unwind itself
  // runs on an agent stack. None free: no stack, as with no map yet.
  struct WalkCall {
    StackWalker* walker;
    const ucontext_t* context;
    uint64_t* pcs;
    int max_depth;
    StackWalk* walk;
  } call{this, &context, pcs, max_depth, &walk};
  if (!RunOnAgentStack(
          [](void* raw) noexcept {
            auto* c = static_cast<WalkCall*>(raw);
            *c->walk = c->walker->Walk(*c->context, c->pcs, c->max_depth);
          },
          &call)) {
    walk.no_map = true;
    return walk;
  }
  // pcs[0] is a pc inside this function: drop it.
  if (walk.depth > 0) {
    std::memmove(pcs, pcs + 1, sizeof(*pcs) * (walk.depth - 1));
    --walk.depth;
  }
  return walk;
}

// NOT SIGNAL CONTEXT BEGIN: setup, teardown and the refresh thread

StatusOr<std::unique_ptr<StackWalker>> StackWalker::Start() {
  if (!InitAgentStacks()) {
    return InternalError("cannot map the agent's signal stacks (mmap failed)");
  }
  std::unique_ptr<StackWalker> walker(new StackWalker());
  {
    std::lock_guard<std::mutex> lock(walker->mu_);
    walker->RebuildLocked();
  }
  const AddressMap* map = walker->maps_.Acquire();
  Status status = walker->unwinder_.Init(*map);
  walker->maps_.Release();
  if (!status.ok()) return status;
  StackWalker* raw = walker.get();
  walker->refresher_ = std::thread([raw] {
    MarkAgentThread();
    raw->RefreshLoop();
  });
  return walker;
}

StackWalker::~StackWalker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

void StackWalker::Rebuild() {
  std::lock_guard<std::mutex> lock(mu_);
  RebuildLocked();
}

uint64_t StackWalker::map_rebuilds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_rebuilds_;
}

void StackWalker::RefreshLoop() {
  pthread_setname_np(pthread_self(), "inprof-maps");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, kRefreshInterval, [this] { return stopping_; });
    if (stopping_) break;
    RefreshIfNeededLocked();
  }
}

void StackWalker::RefreshIfNeeded() {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshIfNeededLocked();
}

void StackWalker::RefreshIfNeededLocked() {
  if (!(CurrentLoaderGeneration() == loader_generation_)) {
    RebuildLocked();
  } else if (steady_clock::now() - last_build_ >= kMinRebuildInterval &&
             maps_.TakeRefreshRequest()) {
    RebuildLocked();
  }
}

void StackWalker::RebuildLocked() {
  LoaderGeneration generation = CurrentLoaderGeneration();
  bool unloaded = generation.subs != loader_generation_.subs;
  loader_generation_ = generation;
  maps_.Publish(AddressMap::Build());
  // Cached unwind rules may describe code that is gone.
  if (unloaded && map_rebuilds_ > 0) unwinder_.FlushCache();
  last_build_ = steady_clock::now();
  ++map_rebuilds_;
}

// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal
