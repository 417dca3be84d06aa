#include "agent/symbolize/function_ranges.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

namespace inprof::internal {
namespace {

// Reads the little-endian fields of one CFI entry, never past its end.
class Cursor {
 public:
  Cursor(const uint8_t* begin, const uint8_t* end) : p_(begin), end_(end) {}

  const uint8_t* position() const { return p_; }

  template <typename T>
  bool Fixed(T* out) {
    if (static_cast<size_t>(end_ - p_) < sizeof(T)) return false;
    std::memcpy(out, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }

  bool Leb128(bool is_signed, uint64_t* out) {
    uint64_t value = 0;
    unsigned shift = 0;
    while (p_ < end_) {
      uint8_t byte = *p_++;
      if (shift < 64) value |= uint64_t{byte & 0x7fu} << shift;
      shift += 7;
      if ((byte & 0x80) == 0) {
        if (is_signed && shift < 64 && (byte & 0x40) != 0) {
          value |= ~uint64_t{0} << shift;
        }
        *out = value;
        return true;
      }
    }
    return false;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

template <typename T>
bool ReadAs(Cursor* c, uint64_t* out) {
  T v;
  if (!c->Fixed(&v)) return false;
  // Signed types sign-extend, so that a pc-relative distance can be negative.
  *out = static_cast<uint64_t>(v);
  return true;
}

// Reads a value in the format of a DW_EH_PE_* encoding's low four bits
// (LSB 5.0, "DWARF Exception Header Encoding"), before any relative base is
// applied. False on an unknown format or a truncated entry.
bool ReadEncoded(Cursor* c, uint8_t encoding, uint64_t* out) {
  switch (encoding & 0x0f) {
    case DW_EH_PE_absptr:  // a 64-bit file's pointer size
    case DW_EH_PE_udata8:
      return ReadAs<uint64_t>(c, out);
    case DW_EH_PE_uleb128:
      return c->Leb128(false, out);
    case DW_EH_PE_udata2:
      return ReadAs<uint16_t>(c, out);
    case DW_EH_PE_udata4:
      return ReadAs<uint32_t>(c, out);
    case DW_EH_PE_sleb128:
      return c->Leb128(true, out);
    case DW_EH_PE_sdata2:
      return ReadAs<int16_t>(c, out);
    case DW_EH_PE_sdata4:
      return ReadAs<int32_t>(c, out);
    case DW_EH_PE_sdata8:
      return ReadAs<int64_t>(c, out);
    default:
      return false;
  }
}

// The encoding of the code addresses in the FDEs of `cie`: its 'R'
// augmentation, absolute pointers when it has no augmentation at all, and
// DW_EH_PE_omit when the augmentation cannot be understood.
uint8_t FdeEncoding(const Dwarf_CIE& cie) {
  std::string_view augmentation =
      cie.augmentation == nullptr ? "" : cie.augmentation;
  if (augmentation.empty()) return DW_EH_PE_absptr;
  // Without 'z' the augmentation data has no size, so nothing after an
  // unknown letter can be located.
  if (augmentation[0] != 'z' || cie.augmentation_data == nullptr) {
    return DW_EH_PE_omit;
  }
  Cursor c(cie.augmentation_data,
           cie.augmentation_data + cie.augmentation_data_size);
  for (char letter : augmentation.substr(1)) {
    uint8_t byte = 0;
    switch (letter) {
      case 'R':
        return c.Fixed(&byte) ? byte : uint8_t{DW_EH_PE_omit};
      case 'L':  // LSDA encoding: one byte
        if (!c.Fixed(&byte)) return DW_EH_PE_omit;
        break;
      case 'P': {  // personality: its encoding, then the encoded pointer
        uint64_t ignored = 0;
        if (!c.Fixed(&byte) || (byte & 0x70) == DW_EH_PE_aligned ||
            !ReadEncoded(&c, byte, &ignored)) {
          return DW_EH_PE_omit;
        }
        break;
      }
      case 'S':  // signal frame, no data
      case 'B':  // AArch64 BTI, no data
        break;
      default:
        return DW_EH_PE_omit;
    }
  }
  return DW_EH_PE_absptr;  // 'z' without 'R'
}

Elf_Scn* FindSection(Elf* elf, std::string_view wanted) {
  size_t names = 0;
  if (elf_getshdrstrndx(elf, &names) != 0) return nullptr;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr;
       scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type == SHT_NOBITS) {
      continue;
    }
    const char* name = elf_strptr(elf, names, shdr.sh_name);
    if (name != nullptr && wanted == name) return scn;
  }
  return nullptr;
}

}  // namespace

FunctionRanges::FunctionRanges(Dwfl_Module* module) {
  GElf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(module, &bias);
  if (elf == nullptr) return;
  const char* ident = elf_getident(elf, nullptr);
  // The reader above is for 64-bit little-endian files (x86-64, AArch64).
  if (ident == nullptr || ident[EI_CLASS] != ELFCLASS64 ||
      ident[EI_DATA] != ELFDATA2LSB) {
    return;
  }
  Elf_Scn* scn = FindSection(elf, ".eh_frame");
  GElf_Shdr shdr;
  Elf_Data* data = scn == nullptr ? nullptr : elf_getdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr ||
      gelf_getshdr(scn, &shdr) == nullptr) {
    return;
  }
  const auto* section = static_cast<const uint8_t*>(data->d_buf);
  std::map<Dwarf_Off, uint8_t> cie_encodings;  // by section offset
  Dwarf_Off offset = 0;
  while (offset < data->d_size) {
    Dwarf_Off next = static_cast<Dwarf_Off>(-1);
    Dwarf_CFI_Entry entry;
    int result =
        dwarf_next_cfi(reinterpret_cast<const unsigned char*>(ident), data,
                       /*eh_frame_p=*/true, offset, &next, &entry);
    if (result > 0) break;  // the terminator
    if (result < 0) {       // skip a bad entry when its end is known
      if (next == static_cast<Dwarf_Off>(-1) || next <= offset) break;
      offset = next;
      continue;
    }
    if (dwarf_cfi_cie_p(&entry)) {
      cie_encodings[offset] = FdeEncoding(entry.cie);
    } else {
      // In .eh_frame a CIE always precedes its FDEs (the FDE points back).
      auto cie = cie_encodings.find(entry.fde.CIE_pointer);
      uint8_t encoding =
          cie == cie_encodings.end() ? uint8_t{DW_EH_PE_omit} : cie->second;
      Cursor c(entry.fde.start, entry.fde.end);
      // The file address of the initial_location field: pc-relative
      // encodings (what GCC and Clang emit for PIC) count from it.
      uint64_t field = shdr.sh_addr + (c.position() - section);
      uint64_t start = 0;
      uint64_t size = 0;
      uint8_t relative = encoding & 0x70;
      if (encoding != DW_EH_PE_omit && (encoding & DW_EH_PE_indirect) == 0 &&
          (relative == DW_EH_PE_absptr || relative == DW_EH_PE_pcrel) &&
          ReadEncoded(&c, encoding, &start) &&
          ReadEncoded(&c, encoding & 0x0f, &size) && size != 0) {
        if (relative == DW_EH_PE_pcrel) start += field;
        ranges_.push_back(Range{start + bias, start + bias + size});
      }
    }
    offset = next;
  }
  std::sort(ranges_.begin(), ranges_.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
  ranges_.shrink_to_fit();
}

std::optional<uint64_t> FunctionRanges::StartOf(uint64_t address) const {
  auto it =
      std::upper_bound(ranges_.begin(), ranges_.end(), address,
                       [](uint64_t a, const Range& r) { return a < r.start; });
  if (it == ranges_.begin()) return std::nullopt;
  const Range& r = *std::prev(it);
  if (address >= r.limit) return std::nullopt;
  return r.start;
}

}  // namespace inprof::internal
