#include "agent/unwind/cfi_rules.h"

// SIGNAL CONTEXT. Everything but the constructor and destructor runs inside
// the CPU signal handler and inside allocation hooks: no allocation, no
// locks, no stdio. See unwind.h for the rules.

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace inprof::internal {
namespace {

// DWARF register numbers on x86-64.
constexpr uint64_t kRbp = 6;
constexpr uint64_t kRsp = 7;
constexpr uint64_t kReturnAddress = 16;

constexpr size_t kCieBytes = 256;
constexpr size_t kFdeBytes = 512;

// A bounds-checked cursor over a copied CIE or FDE.
struct Cursor {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  bool ok = true;

  bool More() const { return ok && at < size; }
  uint8_t U8() noexcept {
    if (at >= size) {
      ok = false;
      return 0;
    }
    return data[at++];
  }
  uint64_t Fixed(size_t bytes) noexcept {
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; ++i) value |= uint64_t{U8()} << (8 * i);
    return value;
  }
  uint64_t Uleb() noexcept {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte = U8();
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return value;
    }
    ok = false;
    return 0;
  }
  // Like Uleb(), a value longer than 10 bytes is malformed. Built unsigned:
  // the sign extension of a 9-byte value would overflow int64_t.
  int64_t Sleb() noexcept {
    uint64_t value = 0;
    int shift = 0;
    uint8_t byte = 0;
    do {
      if (shift >= 64) {
        ok = false;
        return 0;
      }
      byte = U8();
      value |= uint64_t{byte & 0x7fu} << shift;
      shift += 7;
    } while ((byte & 0x80) != 0 && ok);
    if (shift < 64 && (byte & 0x40) != 0) value |= ~uint64_t{0} << shift;
    return static_cast<int64_t>(value);
  }
  // An unsigned offset (DW_CFA_def_cfa, DW_CFA_def_cfa_offset).
  int64_t UlebOffset() noexcept {
    const uint64_t value = Uleb();
    if (value > uint64_t{std::numeric_limits<int64_t>::max()}) ok = false;
    return static_cast<int64_t>(value);
  }
  // `factor` * the CIE's data alignment; an overflow is malformed.
  int64_t Factored(int64_t factor, int64_t data_align) noexcept {
    int64_t value = 0;
    if (__builtin_mul_overflow(factor, data_align, &value)) ok = false;
    return value;
  }
  // Skips `length` bytes, which must lie inside the record: a length that
  // wrapped the cursor back would loop forever.
  void Skip(uint64_t length) noexcept {
    if (length > size - at) {
      ok = false;
      at = size;
      return;
    }
    at += length;
  }
  // A pointer in DW_EH_PE `encoding`; `here` is the address of the cursor's
  // data[0] in memory (for pcrel). Only what compilers emit for pc_begin and
  // pc_range is supported.
  uint64_t Pointer(uint8_t encoding, uint64_t here, bool apply) noexcept {
    const uint64_t position = here + at;
    uint64_t value = 0;
    switch (encoding & 0x0f) {
      case 0x00:
        value = Fixed(8);
        break;  // absptr
      case 0x01:
        value = Uleb();
        break;  // uleb128
      case 0x02:
        value = Fixed(2);
        break;  // udata2
      case 0x03:
        value = Fixed(4);
        break;  // udata4
      case 0x04:
        value = Fixed(8);
        break;  // udata8
      case 0x09:
        value = static_cast<uint64_t>(Sleb());
        break;  // sleb128
      case 0x0a:
        value = static_cast<uint64_t>(static_cast<int16_t>(Fixed(2)));
        break;
      case 0x0b:
        value = static_cast<uint64_t>(static_cast<int32_t>(Fixed(4)));
        break;
      case 0x0c:
        value = Fixed(8);
        break;  // sdata8
      default:
        ok = false;
        return 0;
    }
    if (!apply) return value;
    if ((encoding & 0x80) != 0) {  // indirect: the address of the value
      ok = false;
      return 0;
    }
    switch (encoding & 0x70) {
      case 0x00:
        return value;
      case 0x10:
        return value + position;  // pcrel
      default:
        ok = false;
        return 0;
    }
  }
};

// Where a register's value comes from, as far as we care.
struct RegRule {
  enum Kind : uint8_t { kSame, kOffset, kUndefined, kOther } kind = kSame;
  int64_t offset = 0;
};

struct State {
  uint64_t cfa_reg = kRsp;
  int64_t cfa_offset = 8;
  bool cfa_ok = true;
  RegRule ra{RegRule::kOffset, -8};
  RegRule rbp;
};

struct Cie {
  uint64_t code_align = 1;
  int64_t data_align = -8;
  uint64_t ra_register = kReturnAddress;
  uint8_t fde_encoding = 0;
  bool has_z = false;
  const uint8_t* program = nullptr;
  size_t program_size = 0;
};

bool FitsInt32(int64_t value) noexcept {
  return value >= std::numeric_limits<int32_t>::min() &&
         value <= std::numeric_limits<int32_t>::max();
}

void SetRule(State& s, uint64_t reg, RegRule rule) noexcept {
  if (reg == kReturnAddress) s.ra = rule;
  if (reg == kRbp) s.rbp = rule;
  if (reg == kRsp && rule.kind != RegRule::kSame) s.cfa_ok = false;
}

// Runs a CFA program until the location passes `target`. `initial` is the
// state after the CIE's program (for DW_CFA_restore). False: unsupported.
bool Run(Cursor c, const Cie& cie, uint64_t loc, uint64_t target,
         const State& initial, State& s) noexcept {
  constexpr int kStackDepth = 4;
  State stack[kStackDepth];
  int depth = 0;
  while (c.More()) {
    const uint8_t op = c.U8();
    const uint8_t high = op & 0xc0, low = op & 0x3f;
    uint64_t advance = 0;
    if (high == 0x40) {  // advance_loc
      advance = low;
    } else if (high == 0x80) {  // offset
      SetRule(s, low,
              {RegRule::kOffset, c.Factored(c.UlebOffset(), cie.data_align)});
    } else if (high == 0xc0) {  // restore
      SetRule(s, low,
              low == kRbp             ? initial.rbp
              : low == kReturnAddress ? initial.ra
                                      : RegRule{});
    } else {
      switch (op) {
        case 0x00:
          break;  // nop
        case 0x02:
          advance = c.U8();
          break;
        case 0x03:
          advance = c.Fixed(2);
          break;
        case 0x04:
          advance = c.Fixed(4);
          break;
        case 0x05: {  // offset_extended
          uint64_t reg = c.Uleb();
          SetRule(
              s, reg,
              {RegRule::kOffset, c.Factored(c.UlebOffset(), cie.data_align)});
          break;
        }
        case 0x06: {  // restore_extended
          uint64_t reg = c.Uleb();
          SetRule(s, reg,
                  reg == kRbp             ? initial.rbp
                  : reg == kReturnAddress ? initial.ra
                                          : RegRule{});
          break;
        }
        case 0x07: {  // undefined: for the return address, the stack ends
          uint64_t reg = c.Uleb();
          SetRule(
              s, reg,
              {reg == kReturnAddress ? RegRule::kUndefined : RegRule::kOther,
               0});
          break;
        }
        case 0x08: {  // same_value
          uint64_t reg = c.Uleb();
          if (reg == kReturnAddress) return false;
          SetRule(s, reg, {RegRule::kSame, 0});
          break;
        }
        case 0x09: {  // register
          uint64_t reg = c.Uleb();
          c.Uleb();
          SetRule(s, reg, {RegRule::kOther, 0});
          break;
        }
        case 0x0a:  // remember_state
          if (depth == kStackDepth) return false;
          stack[depth++] = s;
          break;
        case 0x0b:  // restore_state
          if (depth == 0) return false;
          s = stack[--depth];
          break;
        case 0x0c:  // def_cfa
          s.cfa_reg = c.Uleb();
          s.cfa_offset = c.UlebOffset();
          break;
        case 0x0d:  // def_cfa_register
          s.cfa_reg = c.Uleb();
          break;
        case 0x0e:  // def_cfa_offset
          s.cfa_offset = c.UlebOffset();
          break;
        case 0x11: {  // offset_extended_sf
          uint64_t reg = c.Uleb();
          SetRule(s, reg,
                  {RegRule::kOffset, c.Factored(c.Sleb(), cie.data_align)});
          break;
        }
        case 0x12:  // def_cfa_sf
          s.cfa_reg = c.Uleb();
          s.cfa_offset = c.Factored(c.Sleb(), cie.data_align);
          break;
        case 0x13:  // def_cfa_offset_sf
          s.cfa_offset = c.Factored(c.Sleb(), cie.data_align);
          break;
        case 0x2e:  // GNU_args_size
          c.Uleb();
          break;
        case 0x10: {  // expression: fine unless it is a register we need
          uint64_t reg = c.Uleb();
          c.Skip(c.Uleb());
          SetRule(s, reg, {RegRule::kOther, 0});
          break;
        }
        default:  // def_cfa_expression, val_*, set_loc, vendor ops
          return false;
      }
    }
    if (!c.ok) return false;
    if (advance != 0) {
      loc += advance * cie.code_align;
      if (loc > target) return true;
    }
  }
  return c.ok;
}

bool ParseCie(const uint8_t* data, size_t size, Cie& cie) noexcept {
  Cursor c{data, size};
  const uint8_t version = c.U8();
  if (version != 1 && version != 3) return false;
  char augmentation[8];
  size_t n = 0;
  for (;;) {
    uint8_t ch = c.U8();
    if (!c.ok || ch == 0) break;
    if (n + 1 >= sizeof(augmentation)) return false;
    augmentation[n++] = static_cast<char>(ch);
  }
  augmentation[n] = 0;
  cie.code_align = c.Uleb();
  cie.data_align = c.Sleb();
  cie.ra_register = version == 1 ? c.U8() : c.Uleb();
  if (cie.ra_register != kReturnAddress) return false;
  size_t i = 0;
  if (augmentation[0] == 'z') {
    cie.has_z = true;
    const uint64_t length = c.Uleb();
    if (!c.ok || length > size - c.at) return false;
    const size_t end = c.at + length;
    for (i = 1; augmentation[i] != 0; ++i) {
      switch (augmentation[i]) {
        case 'R':
          cie.fde_encoding = c.U8();
          break;
        case 'L':
          c.U8();
          break;
        case 'P': {
          uint8_t encoding = c.U8();
          c.Pointer(encoding, 0, /*apply=*/false);
          break;
        }
        default:
          return false;  // 'S' (signal frame) and anything unknown
      }
    }
    if (c.at > end) return false;  // the data is shorter than its fields
    c.at = end;
  } else if (augmentation[0] != 0) {
    return false;
  }
  if (!c.ok || c.at > size) return false;
  cie.program = data + c.at;
  cie.program_size = size - c.at;
  return true;
}

// How many of `n` sorted .eh_frame_hdr entries start at or below `pc`, by
// binary search: `initial(i, &offset)` gives entry i's initial location as
// an offset from the header, false if it cannot be read (then false here).
template <typename Initial>
bool EntriesAtOrBelow(const UnwindModule& m, uint64_t pc, uint64_t n,
                      Initial initial, uint64_t* count) noexcept {
  uint64_t lo = 0, hi = n;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    int32_t offset = 0;
    if (!initial(mid, &offset)) return false;
    if (m.eh_frame_hdr + static_cast<int64_t>(offset) <= pc) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *count = lo;
  return true;
}

// The .eh_frame_hdr table's FDE covering `pc`, or 0. With the map's sample
// of the table (fde_index), its search runs in our memory and narrows the
// table to one read of at most kFdeIndexStride entries; without it, each
// probe of the whole table is a read.
uint64_t FindFde(const UnwindModule& m, uint64_t pc, MemoryReader read,
                 void* arg) noexcept {
  const UnwindModule::FdeIndexView index = m.FdeIndex();
  if (index.size != 0 &&
      index.size == (m.fde_count + kFdeIndexStride - 1) / kFdeIndexStride) {
    uint64_t stride = 0;
    EntriesAtOrBelow(
        m, pc, index.size,
        [&](uint64_t i, int32_t* offset) {
          *offset = index.entries[i];
          return true;
        },
        &stride);
    if (stride == 0) return 0;
    const uint64_t first = (stride - 1) * kFdeIndexStride;
    const uint64_t n = std::min<uint64_t>(kFdeIndexStride, m.fde_count - first);
    int32_t entries[2 * kFdeIndexStride];
    if (!read(m.fde_table + first * 8, entries, n * 8, arg)) return 0;
    uint64_t count = 0;
    EntriesAtOrBelow(
        m, pc, n,
        [&](uint64_t i, int32_t* offset) {
          *offset = entries[2 * i];
          return true;
        },
        &count);
    if (count == 0) return 0;
    return m.eh_frame_hdr + static_cast<int64_t>(entries[2 * (count - 1) + 1]);
  }
  uint64_t count = 0;
  if (!EntriesAtOrBelow(
          m, pc, m.fde_count,
          [&](uint64_t i, int32_t* offset) {
            return read(m.fde_table + i * 8, offset, 4, arg);
          },
          &count) ||
      count == 0) {
    return 0;
  }
  int32_t fde = 0;
  if (!read(m.fde_table + (count - 1) * 8 + 4, &fde, 4, arg)) return 0;
  return m.eh_frame_hdr + static_cast<int64_t>(fde);
}

// Copies a CIE or FDE record (after its length field) at `address`: one
// read of as much as `out` holds, as a record is usually followed by more of
// .eh_frame; where that read fails (the section ends within it), the length
// first and then the record.
bool ReadRecord(uint64_t address, uint8_t* out, size_t capacity, size_t* size,
                MemoryReader read, void* arg) noexcept {
  uint8_t whole[4 + kFdeBytes];
  if (capacity <= kFdeBytes && read(address, whole, 4 + capacity, arg)) {
    uint32_t length = 0;
    std::memcpy(&length, whole, 4);
    if (length == 0 || length == 0xffffffffu || length > capacity) {
      return false;
    }
    std::memcpy(out, whole + 4, length);
    *size = length;
    return true;
  }
  uint32_t length = 0;
  if (!read(address, &length, 4, arg)) return false;
  if (length == 0 || length == 0xffffffffu || length > capacity) return false;
  *size = length;
  return read(address + 4, out, length, arg);
}

// A cache entry's value: a FrameRule and the low bits of the cache
// generation it was found in, in 64 bits. Bits 0-3: supported, outermost,
// cfa_is_rbp, rbp_saved; then the CFA offset (16 bits), the return
// address's and RBP's offsets (10 bits each), all signed; bits 40-63: the
// generation. Compilers' rules fit: the return address is at CFA-8 and RBP
// near it; only frames over 32 KiB have bigger CFA offsets, and those are
// computed each time rather than cached. The generation wraps after 2^24
// flushes (dlclose calls); a rule cached exactly that many flushes earlier
// for the same address would be taken as current.
constexpr int kCfaBits = 16;
constexpr int kSaveBits = 10;
constexpr int kGenerationShift = 40;
constexpr uint64_t kGenerationMask = (uint64_t{1} << 24) - 1;

bool FitsSigned(int32_t value, int bits) noexcept {
  const int32_t limit = int32_t{1} << (bits - 1);
  return value >= -limit && value < limit;
}

uint64_t SignedField(int32_t value, int bits, int shift) noexcept {
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  return (static_cast<uint64_t>(static_cast<int64_t>(value)) & mask) << shift;
}

int32_t ReadSignedField(uint64_t packed, int bits, int shift) noexcept {
  // Shift the field to the top, then back with the sign (C++20: arithmetic).
  return static_cast<int32_t>(
      static_cast<int64_t>(packed << (64 - shift - bits)) >> (64 - bits));
}

bool PackRule(const FrameRule& rule, uint32_t generation,
              uint64_t* packed) noexcept {
  if (!FitsSigned(rule.cfa_offset, kCfaBits) ||
      !FitsSigned(rule.ra_offset, kSaveBits) ||
      !FitsSigned(rule.rbp_offset, kSaveBits)) {
    return false;
  }
  *packed = uint64_t{rule.supported} | uint64_t{rule.outermost} << 1 |
            uint64_t{rule.cfa_is_rbp} << 2 | uint64_t{rule.rbp_saved} << 3 |
            SignedField(rule.cfa_offset, kCfaBits, 4) |
            SignedField(rule.ra_offset, kSaveBits, 4 + kCfaBits) |
            SignedField(rule.rbp_offset, kSaveBits, 4 + kCfaBits + kSaveBits) |
            (generation & kGenerationMask) << kGenerationShift;
  return true;
}

bool SameGeneration(uint64_t packed, uint32_t generation) noexcept {
  return (packed >> kGenerationShift) == (generation & kGenerationMask);
}

// A hot entry's key: the pc, mixed with the value (a bijection of it), so
// that a reader that sees the key of one writer and the value of another
// finds no match instead of a wrong rule.
uint64_t HotKey(uint64_t pc, uint64_t packed) noexcept {
  return pc ^ (packed * 0xD6E8FEB86659FD93u);
}

FrameRule UnpackRule(uint64_t packed) noexcept {
  FrameRule rule;
  rule.supported = (packed & 1) != 0;
  rule.outermost = (packed & 2) != 0;
  rule.cfa_is_rbp = (packed & 4) != 0;
  rule.rbp_saved = (packed & 8) != 0;
  rule.cfa_offset = ReadSignedField(packed, kCfaBits, 4);
  rule.ra_offset = ReadSignedField(packed, kSaveBits, 4 + kCfaBits);
  rule.rbp_offset =
      ReadSignedField(packed, kSaveBits, 4 + kCfaBits + kSaveBits);
  return rule;
}

}  // namespace

// NOT SIGNAL CONTEXT BEGIN: construction and destruction
CfiRules::CfiRules() {
  // Populated now, not on first use: a page first touched by a handler took
  // a read fault (the zero page), then a write fault that replaced it and
  // flushed the TLB of every CPU running the process, an IPI each (a third
  // of the handler's time in a warm profile, measured with perf).
  void* memory = mmap(nullptr, kMappedBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (memory != MAP_FAILED) {
    hot_ = static_cast<HotEntry*>(memory);
    entries_ = reinterpret_cast<Entry*>(hot_ + kHotCapacity);
  }
}

CfiRules::~CfiRules() {
  if (hot_ != nullptr) munmap(hot_, kMappedBytes);
}
// NOT SIGNAL CONTEXT END

FrameRule CfiRules::Compute(const UnwindModule& module, uint64_t pc,
                            MemoryReader read, void* arg) noexcept {
  FrameRule rule;
  if (module.eh_frame_hdr == 0 || module.fde_count == 0) return rule;
  const uint64_t fde_address = FindFde(module, pc, read, arg);
  if (fde_address == 0) return rule;
  uint8_t fde[kFdeBytes];
  size_t fde_size = 0;
  if (!ReadRecord(fde_address, fde, sizeof(fde), &fde_size, read, arg)) {
    return rule;
  }
  // The CIE pointer is relative to its own field (fde_address + 4).
  if (fde_size < 4) return rule;
  uint32_t cie_delta = 0;
  std::memcpy(&cie_delta, fde, 4);
  if (cie_delta == 0) return rule;  // a CIE, not an FDE
  const uint64_t cie_address = fde_address + 4 - cie_delta;
  uint8_t cie_data[kCieBytes];
  size_t cie_size = 0;
  if (!ReadRecord(cie_address, cie_data, sizeof(cie_data), &cie_size, read,
                  arg)) {
    return rule;
  }
  Cie cie;
  // The CIE id is 4 bytes of zero (anything else is another FDE).
  uint32_t cie_id = 1;
  if (cie_size >= 4) std::memcpy(&cie_id, cie_data, 4);
  if (cie_id != 0 || !ParseCie(cie_data + 4, cie_size - 4, cie)) return rule;

  Cursor c{fde + 4, fde_size - 4};
  const uint64_t here = fde_address + 8;  // address of c.data[0]
  const uint64_t pc_begin = c.Pointer(cie.fde_encoding, here, true);
  const uint64_t pc_range = c.Pointer(cie.fde_encoding & 0x0f, here, false);
  if (!c.ok || pc < pc_begin || pc >= pc_begin + pc_range) return rule;
  if (cie.has_z) c.Skip(c.Uleb());
  if (!c.ok) return rule;

  State initial;
  if (!Run(Cursor{cie.program, cie.program_size}, cie, pc_begin, ~uint64_t{0},
           State{}, initial)) {
    return rule;
  }
  State state = initial;
  if (!Run(Cursor{c.data + c.at, c.size - c.at}, cie, pc_begin, pc, initial,
           state)) {
    return rule;
  }
  if (state.ra.kind == RegRule::kUndefined) {
    rule.supported = true;
    rule.outermost = true;
    return rule;
  }
  if (!state.cfa_ok || (state.cfa_reg != kRsp && state.cfa_reg != kRbp) ||
      state.ra.kind != RegRule::kOffset || state.rbp.kind == RegRule::kOther) {
    return rule;
  }
  // FrameRule holds 32-bit offsets: refuse rather than truncate.
  if (!FitsInt32(state.cfa_offset) || !FitsInt32(state.ra.offset) ||
      (state.rbp.kind == RegRule::kOffset && !FitsInt32(state.rbp.offset))) {
    return rule;
  }
  rule.supported = true;
  rule.cfa_is_rbp = state.cfa_reg == kRbp;
  rule.cfa_offset = static_cast<int32_t>(state.cfa_offset);
  rule.ra_offset = static_cast<int32_t>(state.ra.offset);
  rule.rbp_saved = state.rbp.kind == RegRule::kOffset;
  rule.rbp_offset = static_cast<int32_t>(state.rbp.offset);
  return rule;
}

namespace {

uint64_t PcHash(uint64_t pc) noexcept {
  uint64_t hash = pc * 0x9E3779B97F4A7C15u;
  return hash ^ hash >> 29;
}

}  // namespace

// Other bits of the hash than the table's index (the low ones).
uint32_t CfiRules::HotIndex(uint64_t hash) noexcept {
  return static_cast<uint32_t>(hash >> 40) & (kHotCapacity - 1);
}

uint32_t CfiRules::HotSlot(uint64_t pc) noexcept {
  return HotIndex(PcHash(pc));
}

FrameRule CfiRules::Find(const UnwindModule& module, uint64_t pc,
                         MemoryReader read, void* arg) noexcept {
  if (entries_ == nullptr || pc < 2) return Compute(module, pc, read, arg);
  const uint32_t generation = generation_.load(std::memory_order_acquire);
  const uint64_t hash = PcHash(pc);
  // The hot page first: the table's 1 MiB, hashed, cost a cache and a TLB
  // miss per frame in a handler that runs once per 10 ms of the thread's
  // CPU (the program has evicted it meanwhile); the hot page holds the
  // rules the recent samples used.
  HotEntry& hot = hot_[HotIndex(hash)];
  const uint64_t hot_value = hot.value.load(std::memory_order_relaxed);
  if (hot.key.load(std::memory_order_relaxed) == HotKey(pc, hot_value) &&
      SameGeneration(hot_value, generation)) {
    return UnpackRule(hot_value);
  }
  uint64_t packed = 0;
  const FrameRule rule =
      FindInTable(module, pc, hash, generation, read, arg, &packed);
  if (packed != 0) {
    hot.value.store(packed, std::memory_order_relaxed);
    hot.key.store(HotKey(pc, packed), std::memory_order_relaxed);
  }
  return rule;
}

// The rule for `pc` from the table, computed and added on a miss; `packed`
// set to its packed form if it has one (else left 0).
FrameRule CfiRules::FindInTable(const UnwindModule& module, uint64_t pc,
                                uint64_t hash, uint32_t generation,
                                MemoryReader read, void* arg,
                                uint64_t* packed) noexcept {
  for (int probe = 0; probe < kMaxProbe; ++probe) {
    Entry& entry = entries_[(hash + probe) & (kCapacity - 1)];
    uint64_t key = entry.key.load(std::memory_order_acquire);
    if (key == pc) {
      const uint64_t value = entry.value.load(std::memory_order_relaxed);
      if (SameGeneration(value, generation)) {
        *packed = value;
        return UnpackRule(value);
      }
      continue;  // a rule for code that has been unloaded since
    }
    if (key != 0) continue;
    FrameRule rule = Compute(module, pc, read, arg);
    if (!PackRule(rule, generation, packed)) return rule;
    // Claim the slot (1), fill it, then publish the key.
    uint64_t empty = 0;
    if (entry.key.compare_exchange_strong(empty, 1,
                                          std::memory_order_acquire)) {
      entry.value.store(*packed, std::memory_order_relaxed);
      entry.key.store(pc, std::memory_order_release);
    }
    return rule;
  }
  return Compute(module, pc, read, arg);  // the neighbourhood is full
}

}  // namespace inprof::internal
