// libFuzzer target for the CFI interpreter the CPU signal handler runs
// (agent/unwind/cfi_rules.cc): the input is a module image whose
// .eh_frame_hdr search table and .eh_frame records are arbitrary bytes.
// Any crash, sanitizer report (Compute's own record buffers; the reader
// below refuses everything outside the image) or hang (libFuzzer -timeout)
// is a bug: in the handler it would take the profiled process down. Built by
// scripts/test.sh's fuzz phase with clang (-DINPROF_FUZZ=ON); run it by hand as
//
//   build-fuzz/tests/fuzz/cfi_fuzzer -max_total_time=600 \
//       tests/fuzz/cfi_corpus
//
// Input: a little-endian int32 pc offset from kBase, then the image that
// is loaded at kBase, .eh_frame_hdr first (version, encodings,
// eh_frame_ptr, fde_count at image offset 8, the table at offset 12, as
// AddressMap reads it). tests/agent/unwind/cfi_rules_test.cc writes the
// seeds in tests/fuzz/cfi_corpus/ in this format.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "agent/unwind/cfi_rules.h"

namespace inprof::internal {
namespace {

constexpr uint64_t kBase = 0x40000000;  // as in cfi_rules_test.cc

struct Image {
  const uint8_t* data;
  size_t size;
};

// Serves reads from the image only; anything else is unreadable memory.
bool Read(uint64_t address, void* out, size_t length, void* arg) noexcept {
  const auto* image = static_cast<const Image*>(arg);
  if (address < kBase || address - kBase > image->size ||
      length > image->size - (address - kBase)) {
    return false;
  }
  std::memcpy(out, image->data + (address - kBase), length);
  return true;
}

void Check(const FrameRule& rule) {
  // An unsupported or outermost rule carries nothing else.
  if ((!rule.supported || rule.outermost) &&
      (rule.cfa_is_rbp || rule.cfa_offset != 0 || rule.ra_offset != 0 ||
       rule.rbp_saved || rule.rbp_offset != 0)) {
    std::abort();
  }
  if (rule.outermost && !rule.supported) std::abort();
}

void Exercise(const uint8_t* data, size_t size) {
  if (size < 4) return;
  int32_t pc_offset = 0;
  std::memcpy(&pc_offset, data, 4);
  Image image{data + 4, size - 4};
  UnwindModule module;
  module.text_start = kBase;
  module.text_end = kBase + 0x100000;
  module.eh_frame_hdr = kBase;
  module.fde_table = kBase + 12;
  uint32_t count = 0;
  if (image.size >= 12) std::memcpy(&count, image.data + 8, 4);
  module.fde_count = count;
  Check(CfiRules::Compute(module, kBase + static_cast<int64_t>(pc_offset),
                          &Read, &image));
  // Also the first byte of the first few functions in the table, and a
  // little way into each (by the pc offset's low byte): pcs the search
  // resolves to an FDE, so that its records get interpreted.
  for (uint64_t i = 0; i < count && i < 4; ++i) {
    int32_t initial = 0;
    if (!Read(module.fde_table + i * 8, &initial, 4, &image)) break;
    const uint64_t pc = kBase + static_cast<int64_t>(initial);
    Check(CfiRules::Compute(module, pc, &Read, &image));
    Check(CfiRules::Compute(
        module, pc + (static_cast<uint32_t>(pc_offset) & 0xff), &Read, &image));
  }
}

}  // namespace
}  // namespace inprof::internal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inprof::internal::Exercise(data, size);
  return 0;
}
