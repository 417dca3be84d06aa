#include "agent/unwind/unwind.h"

// SIGNAL CONTEXT. Unwind() and the accessors below run inside the signal
// handler: no allocation, no locks of ours, no stdio. libunwind's dwarf code
// allocates from its own mmap-backed pool under a lock it takes with all
// signals masked, so one thread can never re-enter it. See unwind.h.

#include <libunwind.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

// libunwind exports this for remote unwinders (perf uses it) without
// declaring it in a public header.
extern "C" int UNW_OBJ(dwarf_search_unwind_table)(
    unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t* di, unw_proc_info_t* pi,
    int need_unwind_info, void* arg);

namespace inprof::internal {
namespace {

// Every read goes through the kernel (process_vm_readv on our own pid), so
// memory unmapped since the AddressMap was built yields EFAULT instead of
// SIGSEGV: a coroutine stack in memory the host has partly given back, a
// stale map range, a corrupt frame pointer. Sanitizers do not see the
// unwinder peeking at other frames either. Reads are copied in blocks into a
// per-unwind cache, because an unwind reads the stack upwards and mostly
// contiguously: a typical sample costs a handful of syscalls.
constexpr size_t kBlockSize = 1024;
constexpr int kBlocks = 8;

// Set by Init() after probing: false if the kernel refuses the syscall (some
// seccomp profiles); reads are then direct, restricted to mapped memory.
std::atomic<bool> g_kernel_reads{false};
// Our pid, for process_vm_readv; refreshed in a forked child.
std::atomic<pid_t> g_pid{0};

// A thread's stack may be newer than the AddressMap: with kernel reads, the
// window above the interrupted stack pointer is readable anyway.
constexpr uint64_t kRedZone = 128;
constexpr uint64_t kStackWindow = 256 * 1024;

// The stack just above the interrupted stack pointer, copied with one
// syscall when the unwind starts: most of an unwind's reads land there.
constexpr size_t kPage = 4096;
constexpr int kStackPages = 2;

struct BlockCache {
  uint64_t stack_base;
  size_t stack_valid;
  alignas(16) unsigned char stack[kStackPages * kPage];
  uint64_t base[kBlocks];
  size_t valid[kBlocks];
  int next;
  alignas(16) unsigned char data[kBlocks][kBlockSize];

  void Reset() noexcept {
    stack_base = 0;
    stack_valid = 0;
    std::memset(valid, 0, sizeof(valid));
    std::memset(base, 0, sizeof(base));
    next = 0;
  }
};

struct AccessorArgs {
  const ucontext_t* context;
  const AddressMap* map;
  // Where kernel reads may look for a stack the map does not know yet.
  uint64_t window_low;
  uint64_t window_high;
  BlockCache* cache;
  // The calling thread's own live stack, read directly; empty otherwise.
  uint64_t own_low;
  uint64_t own_high;
};

bool KernelRead(uint64_t address, void* out, size_t length) noexcept {
  iovec local{out, length};
  iovec remote{reinterpret_cast<void*>(address), length};
  ssize_t n =
      syscall(SYS_process_vm_readv, g_pid.load(std::memory_order_relaxed),
              &local, 1, &remote, 1, 0);
  return n == static_cast<ssize_t>(length);
}

// Copies the pages from `sp` up; a page that is not mapped ends the copy
// (the kernel transfers whole iovec elements only).
void CopyStack(BlockCache& cache, uint64_t sp) noexcept {
  cache.stack_base = sp & ~(kPage - 1);
  iovec local{cache.stack, sizeof(cache.stack)};
  iovec remote[kStackPages];
  for (int i = 0; i < kStackPages; ++i) {
    remote[i] = {reinterpret_cast<void*>(cache.stack_base + i * kPage), kPage};
  }
  ssize_t n =
      syscall(SYS_process_vm_readv, g_pid.load(std::memory_order_relaxed),
              &local, 1, remote, kStackPages, 0);
  cache.stack_valid = n > 0 ? static_cast<size_t>(n) : 0;
}

bool CachedRead(BlockCache* cache, uint64_t address,
                unw_word_t* value) noexcept {
  if (address >= cache->stack_base &&
      address - cache->stack_base + sizeof(*value) <= cache->stack_valid) {
    std::memcpy(value, cache->stack + (address - cache->stack_base),
                sizeof(*value));
    return true;
  }
  uint64_t base = address & ~(kBlockSize - 1);
  size_t offset = address - base;
  for (int i = 0; i < kBlocks; ++i) {
    if (cache->base[i] == base && offset + sizeof(*value) <= cache->valid[i]) {
      std::memcpy(value, cache->data[i] + offset, sizeof(*value));
      return true;
    }
  }
  int slot = cache->next;
  cache->next = (cache->next + 1) % kBlocks;
  cache->base[slot] = base;
  cache->valid[slot] = 0;
  if (KernelRead(base, cache->data[slot], kBlockSize)) {
    cache->valid[slot] = kBlockSize;
    std::memcpy(value, cache->data[slot] + offset, sizeof(*value));
    return true;
  }
  // The block straddles an unmapped page: read just the word.
  return KernelRead(address, value, sizeof(*value));
}

int GregIndex(unw_regnum_t reg) noexcept {
  switch (reg) {
    case UNW_X86_64_RAX:
      return REG_RAX;
    case UNW_X86_64_RDX:
      return REG_RDX;
    case UNW_X86_64_RCX:
      return REG_RCX;
    case UNW_X86_64_RBX:
      return REG_RBX;
    case UNW_X86_64_RSI:
      return REG_RSI;
    case UNW_X86_64_RDI:
      return REG_RDI;
    case UNW_X86_64_RBP:
      return REG_RBP;
    case UNW_X86_64_RSP:
      return REG_RSP;
    case UNW_X86_64_R8:
      return REG_R8;
    case UNW_X86_64_R9:
      return REG_R9;
    case UNW_X86_64_R10:
      return REG_R10;
    case UNW_X86_64_R11:
      return REG_R11;
    case UNW_X86_64_R12:
      return REG_R12;
    case UNW_X86_64_R13:
      return REG_R13;
    case UNW_X86_64_R14:
      return REG_R14;
    case UNW_X86_64_R15:
      return REG_R15;
    case UNW_X86_64_RIP:
      return REG_RIP;
    default:
      return -1;
  }
}

int FindProcInfo(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t* pi,
                 int need_unwind_info, void* arg) noexcept {
  const auto* args = static_cast<const AccessorArgs*>(arg);
  const UnwindModule* module = args->map->ModuleFor(ip);
  if (module == nullptr || module->eh_frame_hdr == 0) return -UNW_ENOINFO;
  unw_dyn_info_t info;
  std::memset(&info, 0, sizeof(info));
  info.format = UNW_INFO_FORMAT_REMOTE_TABLE;
  info.start_ip = module->text_start;
  info.end_ip = module->text_end;
  info.u.rti.segbase = module->eh_frame_hdr;
  info.u.rti.table_data = module->fde_table;
  // The table holds fde_count pairs of 4-byte entries, measured in words.
  info.u.rti.table_len = module->fde_count * 8 / sizeof(unw_word_t);
  return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &info, pi, need_unwind_info,
                                            arg);
}

void PutUnwindInfo(unw_addr_space_t, unw_proc_info_t*, void*) noexcept {
  // libunwind frees table-format unwind info itself.
}

int GetDynInfoListAddr(unw_addr_space_t, unw_word_t*, void*) noexcept {
  return -UNW_ENOINFO;  // no JIT-registered unwind info
}

bool Within(uint64_t address, uint64_t low, uint64_t high) noexcept {
  return address >= low && address + sizeof(unw_word_t) <= high &&
         address + sizeof(unw_word_t) > address;
}

int AccessMem(unw_addr_space_t, unw_word_t address, unw_word_t* value,
              int write, void* arg) noexcept {
  const auto* args = static_cast<const AccessorArgs*>(arg);
  if (write != 0) return -UNW_EINVAL;
  if (Within(address, args->own_low, args->own_high)) {
    std::memcpy(value, reinterpret_cast<const void*>(address), sizeof(*value));
    return 0;
  }
  bool mapped = args->map->IsReadable(address, sizeof(unw_word_t));
  if (g_kernel_reads.load(std::memory_order_relaxed)) {
    if (!mapped && !Within(address, args->window_low, args->window_high)) {
      return -UNW_EINVAL;
    }
    return CachedRead(args->cache, address, value) ? 0 : -UNW_EINVAL;
  }
  if (!mapped) return -UNW_EINVAL;
  std::memcpy(value, reinterpret_cast<const void*>(address), sizeof(*value));
  return 0;
}

int AccessReg(unw_addr_space_t, unw_regnum_t reg, unw_word_t* value, int write,
              void* arg) noexcept {
  const auto* args = static_cast<const AccessorArgs*>(arg);
  int index = GregIndex(reg);
  if (write != 0) return -UNW_EREADONLYREG;
  if (index < 0) return -UNW_EBADREG;
  *value = static_cast<unw_word_t>(args->context->uc_mcontext.gregs[index]);
  return 0;
}

int AccessFpreg(unw_addr_space_t, unw_regnum_t, unw_fpreg_t*, int,
                void*) noexcept {
  return -UNW_EBADREG;
}

int Resume(unw_addr_space_t, unw_cursor_t*, void*) noexcept {
  return -UNW_EINVAL;
}

int GetProcName(unw_addr_space_t, unw_word_t, char*, size_t, unw_word_t*,
                void*) noexcept {
  return -UNW_ENOINFO;
}

// MemoryReader for the CFI fast path: stack words through the accessors'
// window and cache, CFI records straight through the kernel.
bool FastRead(uint64_t address, void* out, size_t length, void* arg) noexcept {
  const auto* args = static_cast<const AccessorArgs*>(arg);
  if (length == sizeof(unw_word_t) && (address & 7) == 0) {
    unw_word_t value = 0;
    if (AccessMem(nullptr, address, &value, 0, arg) != 0) return false;
    std::memcpy(out, &value, sizeof(value));
    return true;
  }
  if (!g_kernel_reads.load(std::memory_order_relaxed)) {
    if (!args->map->IsReadable(address, length)) return false;
    std::memcpy(out, reinterpret_cast<const void*>(address), length);
    return true;
  }
  return KernelRead(address, out, length);
}

unw_accessors_t MakeAccessors() {
  unw_accessors_t accessors;
  std::memset(&accessors, 0, sizeof(accessors));
  accessors.find_proc_info = FindProcInfo;
  accessors.put_unwind_info = PutUnwindInfo;
  accessors.get_dyn_info_list_addr = GetDynInfoListAddr;
  accessors.access_mem = AccessMem;
  accessors.access_reg = AccessReg;
  accessors.access_fpreg = AccessFpreg;
  accessors.resume = Resume;
  accessors.get_proc_name = GetProcName;
  return accessors;
}

std::atomic<bool> g_default_fast_path{true};

}  // namespace

Unwinder::Unwinder()
    : fast_path_(g_default_fast_path.load(std::memory_order_relaxed)) {}

void Unwinder::SetDefaultFastPath(bool on) {
  g_default_fast_path.store(on, std::memory_order_relaxed);
}

Unwinder::~Unwinder() {
  if (address_space_ != nullptr) {
    unw_destroy_addr_space(static_cast<unw_addr_space_t>(address_space_));
  }
}

Status Unwinder::Init(const AddressMap& map) {
  unw_accessors_t accessors = MakeAccessors();
  unw_addr_space_t space = unw_create_addr_space(&accessors, 0);
  if (space == nullptr) {
    return InternalError("libunwind: cannot create an address space");
  }
  // The global cache is shared by every thread's handler; libunwind guards
  // it with a mutex taken with all signals blocked, so a handler can wait
  // for another thread's handler but never for itself.
  unw_set_caching_policy(space, UNW_CACHE_GLOBAL);
  // Room for the unwind rules of a big server's hot code; each entry is a
  // few hundred bytes of libunwind's own mmap'ed memory.
  unw_set_cache_size(space, 4096, 0);
  address_space_ = space;

  static pthread_once_t at_fork_once = PTHREAD_ONCE_INIT;
  pthread_once(&at_fork_once, [] {
    pthread_atfork(nullptr, nullptr,
                   [] { g_pid.store(getpid(), std::memory_order_relaxed); });
  });
  g_pid.store(getpid(), std::memory_order_relaxed);
  uint64_t probe = 0x1234, copy = 0;
  g_kernel_reads.store(
      KernelRead(reinterpret_cast<uint64_t>(&probe), &copy, sizeof(copy)) &&
      copy == probe);

  // Warm-up: the first unwind initializes libunwind's lazy state (locks,
  // tables), which must not happen for the first time inside a handler.
  ucontext_t context;
  if (getcontext(&context) != 0) {
    return InternalError("getcontext failed while warming up the unwinder");
  }
  // Both paths: the libunwind fallback binds its PLT slots (ours into
  // libunwind, libunwind's into libc) here rather than in a handler, where
  // the dynamic linker's resolver would save the full XSAVE state.
  uint64_t pcs[8];
  const bool fast_path = fast_path_;
  fast_path_ = false;
  Unwind(context, map, pcs, 8);
  fast_path_ = true;
  Unwind(context, map, pcs, 8);
  fast_path_ = fast_path;
  return OkStatus();
}

void Unwinder::FlushCache() {
  rules_.Flush();
  if (address_space_ != nullptr) {
    unw_flush_cache(static_cast<unw_addr_space_t>(address_space_), 0, 0);
  }
}

UnwindResult Unwinder::Unwind(const ucontext_t& context, const AddressMap& map,
                              uint64_t* pcs, int max_depth,
                              uint64_t own_stack_top) const noexcept {
  UnwindResult result;
  if (max_depth <= 0) return result;
  const auto& gregs = context.uc_mcontext.gregs;
  pcs[result.depth++] = static_cast<uint64_t>(gregs[REG_RIP]);
  uint64_t sp = static_cast<uint64_t>(gregs[REG_RSP]);
  result.unknown_code = map.ModuleFor(pcs[0]) == nullptr;
  if (!map.IsReadable(sp, sizeof(uint64_t))) {
    result.unknown_stack = true;
    if (!g_kernel_reads.load(std::memory_order_relaxed)) {
      result.truncated = true;
      return result;
    }
  }
  // About 17 KiB: unwinds run on an agent stack (agent_stack.h), never on
  // the interrupted thread's own.
  BlockCache cache;
  cache.Reset();
  const bool own = own_stack_top > sp;
  if (g_kernel_reads.load(std::memory_order_relaxed) && !own) {
    CopyStack(cache, sp);
  }
  AccessorArgs args{
      &context, &map,         sp - kRedZone,          sp + kStackWindow,
      &cache,   own ? sp : 0, own ? own_stack_top : 0};
  if (fast_path_ && FastUnwind(context, map, &args, pcs, max_depth, &result)) {
    return result;
  }
  unw_cursor_t cursor;
  if (unw_init_remote(&cursor, static_cast<unw_addr_space_t>(address_space_),
                      &args) < 0) {
    result.truncated = true;
    return result;
  }
  while (result.depth < max_depth) {
    int step = unw_step(&cursor);
    if (step <= 0) {
      result.truncated = step < 0;
      break;
    }
    unw_word_t ip = 0, next_sp = 0;
    if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 ||
        unw_get_reg(&cursor, UNW_REG_SP, &next_sp) < 0) {
      result.truncated = true;
      break;
    }
    if (ip == 0) break;  // the outermost frame
    // Validate: a caller's pc lies in loaded code and its frame sits above
    // the callee's on the stack; anything else is a corrupt or unknown frame.
    if (map.ModuleFor(ip) == nullptr || next_sp <= sp) {
      result.truncated = true;
      break;
    }
    pcs[result.depth++] = ip;
    sp = next_sp;
  }
  return result;
}

// Steps with cached CFI rules (cfi_rules.h); returns false, having written
// nothing the caller keeps, when a frame needs libunwind.
bool Unwinder::FastUnwind(const ucontext_t& context, const AddressMap& map,
                          void* accessor_args, uint64_t* pcs, int max_depth,
                          UnwindResult* result) const noexcept {
  const auto& gregs = context.uc_mcontext.gregs;
  uint64_t ip = static_cast<uint64_t>(gregs[REG_RIP]);
  uint64_t sp = static_cast<uint64_t>(gregs[REG_RSP]);
  uint64_t bp = static_cast<uint64_t>(gregs[REG_RBP]);
  int depth = 1;
  bool truncated = false;
  // The module the previous frame's validation found for `ip`: the call
  // before a return address is in the same module unless the address is
  // the module's first byte, so most frames search the modules once.
  const UnwindModule* ip_module = nullptr;
  for (bool first = true; depth < max_depth; first = false) {
    // A caller's return address may be the first byte after its call's
    // function: look its rule up at the call itself.
    const uint64_t lookup = first ? ip : ip - 1;
    const UnwindModule* module =
        ip_module != nullptr && lookup >= ip_module->text_start
            ? ip_module
            : map.ModuleFor(lookup);
    if (module == nullptr) return false;
    const FrameRule rule =
        rules_.Find(*module, lookup, FastRead, accessor_args);
    if (!rule.supported) return false;
    if (rule.outermost) break;
    const uint64_t cfa =
        (rule.cfa_is_rbp ? bp : sp) + static_cast<int64_t>(rule.cfa_offset);
    uint64_t ra = 0, next_bp = bp;
    if (!FastRead(cfa + static_cast<int64_t>(rule.ra_offset), &ra, 8,
                  accessor_args) ||
        (rule.rbp_saved &&
         !FastRead(cfa + static_cast<int64_t>(rule.rbp_offset), &next_bp, 8,
                   accessor_args))) {
      return false;
    }
    if (ra == 0) break;  // the outermost frame
    // The same validation as the libunwind path below.
    ip_module = map.ModuleFor(ra);
    if (ip_module == nullptr || cfa <= sp) {
      truncated = true;
      break;
    }
    pcs[depth++] = ra;
    ip = ra;
    sp = cfa;
    bp = next_bp;
  }
  result->depth = depth;
  result->truncated = truncated;
  return true;
}

}  // namespace inprof::internal
