#include "agent/unwind/cfi_rules.h"

#include <alloca.h>
#include <gtest/gtest.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// CfiRules::Compute against synthetic .eh_frame_hdr + .eh_frame images built
// here byte by byte (every rule form it accepts, every form it must refuse,
// truncated and hostile records), then against this test binary's own CFI.
// The fuzz target tests/fuzz/cfi_fuzzer.cc feeds it arbitrary images; its
// seed corpus (tests/fuzz/cfi_corpus/) is written by this file's
// DISABLED_WriteFuzzSeeds and checked by FuzzSeedsStillDecode.

namespace inprof::internal {
namespace {

using Bytes = std::vector<uint8_t>;

// DWARF 5 §6.4.2 call frame instructions (plus the GNU ones in .eh_frame).
constexpr uint8_t kNop = 0x00;
constexpr uint8_t kSetLoc = 0x01;
constexpr uint8_t kAdvanceLoc1 = 0x02;
constexpr uint8_t kAdvanceLoc2 = 0x03;
constexpr uint8_t kAdvanceLoc4 = 0x04;
constexpr uint8_t kOffsetExtended = 0x05;
constexpr uint8_t kRestoreExtended = 0x06;
constexpr uint8_t kUndefined = 0x07;
constexpr uint8_t kSameValue = 0x08;
constexpr uint8_t kRegister = 0x09;
constexpr uint8_t kRememberState = 0x0a;
constexpr uint8_t kRestoreState = 0x0b;
constexpr uint8_t kDefCfa = 0x0c;
constexpr uint8_t kDefCfaRegister = 0x0d;
constexpr uint8_t kDefCfaOffset = 0x0e;
constexpr uint8_t kDefCfaExpression = 0x0f;
constexpr uint8_t kExpression = 0x10;
constexpr uint8_t kOffsetExtendedSf = 0x11;
constexpr uint8_t kDefCfaSf = 0x12;
constexpr uint8_t kDefCfaOffsetSf = 0x13;
constexpr uint8_t kValOffset = 0x14;
constexpr uint8_t kValOffsetSf = 0x15;
constexpr uint8_t kValExpression = 0x16;
constexpr uint8_t kGnuWindowSave = 0x2d;
constexpr uint8_t kGnuArgsSize = 0x2e;
constexpr uint8_t kGnuNegativeOffsetExtended = 0x2f;
constexpr uint8_t AdvanceLoc(uint8_t delta) { return 0x40 | delta; }
constexpr uint8_t Offset(uint8_t reg) { return 0x80 | reg; }
constexpr uint8_t Restore(uint8_t reg) { return 0xc0 | reg; }

// DWARF register numbers on x86-64.
constexpr uint8_t kRbx = 3;
constexpr uint8_t kRbp = 6;
constexpr uint8_t kRsp = 7;
constexpr uint8_t kR12 = 12;
constexpr uint8_t kRa = 16;

// DW_EH_PE pointer encodings (LSB 5.0 §10.5.1).
constexpr uint8_t kAbsptr = 0x00;
constexpr uint8_t kUleb128 = 0x01;
constexpr uint8_t kUdata2 = 0x02;
constexpr uint8_t kUdata4 = 0x03;
constexpr uint8_t kUdata8 = 0x04;
constexpr uint8_t kSleb128 = 0x09;
constexpr uint8_t kSdata2 = 0x0a;
constexpr uint8_t kSdata4 = 0x0b;
constexpr uint8_t kSdata8 = 0x0c;
constexpr uint8_t kPcrel = 0x10;
constexpr uint8_t kTextrel = 0x20;
constexpr uint8_t kDatarel = 0x30;
constexpr uint8_t kFuncrel = 0x40;
constexpr uint8_t kAligned = 0x50;
constexpr uint8_t kIndirect = 0x80;
constexpr uint8_t kOmit = 0xff;
constexpr uint8_t kPcrelSdata4 = kPcrel | kSdata4;

// Where the synthetic images live. The same constant is in
// tests/fuzz/cfi_fuzzer.cc: the fuzzer loads its input there.
constexpr uint64_t kBase = 0x40000000;
constexpr uint64_t kText = kBase + 0x10000;  // a made-up code address

Bytes Uleb(uint64_t value) {
  Bytes out;
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    if (value != 0) byte |= 0x80;
    out.push_back(byte);
  } while (value != 0);
  return out;
}

Bytes Sleb(int64_t value) {
  Bytes out;
  for (;;) {
    uint8_t byte = value & 0x7f;
    value >>= 7;  // arithmetic shift
    const bool done = (value == 0 && (byte & 0x40) == 0) ||
                      (value == -1 && (byte & 0x40) != 0);
    if (!done) byte |= 0x80;
    out.push_back(byte);
    if (done) return out;
  }
}

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void PutFixed(Bytes& out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back((value >> (8 * i)) & 0xff);
}

struct CieSpec {
  uint32_t id = 0;
  uint8_t version = 1;
  std::string augmentation = "zR";
  uint64_t code_align = 1;
  int64_t data_align = -8;
  uint64_t ra_register = kRa;
  Bytes augmentation_data = {kPcrelSdata4};  // 'R': the FDE encoding
  // What every x86-64 compiler's CIE says: CFA = RSP + 8, RA at CFA - 8.
  Bytes program = {kDefCfa, kRsp, 8, Offset(kRa), 1};
};

struct FdeSpec {
  uint8_t encoding = kPcrelSdata4;  // must match the CIE's 'R'
  bool augmented = true;            // the CIE has 'z'
  Bytes augmentation_data;
  Bytes program;
};

// A module image: .eh_frame_hdr at kBase (version 1, eh_frame_ptr pcrel
// sdata4, fde_count udata4, a table of datarel sdata4 pairs, the layout
// AddressMap accepts), records appended after it. Reads outside the image
// are refused and counted.
class Image {
 public:
  explicit Image(size_t table_capacity = 64)
      : capacity_(table_capacity), bytes_(12 + 8 * table_capacity, 0) {}

  uint64_t end() const { return kBase + bytes_.size(); }

  // Appends raw bytes; returns their address.
  uint64_t Raw(const Bytes& data) {
    const uint64_t address = end();
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return address;
  }

  uint64_t AddCie(const CieSpec& spec = {}) {
    Bytes body;
    PutFixed(body, spec.id, 4);
    body.push_back(spec.version);
    body.insert(body.end(), spec.augmentation.begin(), spec.augmentation.end());
    body.push_back(0);
    body = body + Uleb(spec.code_align) + Sleb(spec.data_align);
    if (spec.version == 1) {
      body.push_back(static_cast<uint8_t>(spec.ra_register));
    } else {
      body = body + Uleb(spec.ra_register);
    }
    if (!spec.augmentation.empty() && spec.augmentation[0] == 'z') {
      body =
          body + Uleb(spec.augmentation_data.size()) + spec.augmentation_data;
    }
    body = body + spec.program;
    return AddRecord(body);
  }

  // Appends an FDE for [pc, pc + range) under the CIE at `cie` and indexes
  // it in the search table.
  uint64_t AddFde(uint64_t cie, uint64_t pc, uint64_t range,
                  const FdeSpec& spec = {}) {
    const uint64_t fde = end();
    Bytes body;
    PutFixed(body, static_cast<uint32_t>(fde + 4 - cie), 4);
    Pointer(body, spec.encoding, pc, fde + 4 + body.size());
    Pointer(body, spec.encoding & 0x0f, range, 0);
    if (spec.augmented) {
      body =
          body + Uleb(spec.augmentation_data.size()) + spec.augmentation_data;
    }
    body = body + spec.program;
    AddRecord(body);
    Index(pc, fde);
    return fde;
  }

  // The usual case: a CIE and one FDE for [kText, kText + range).
  static Image OneFde(const Bytes& program, uint64_t range = 0x100) {
    Image image;
    FdeSpec fde;
    fde.program = program;
    image.AddFde(image.AddCie(), kText, range, fde);
    return image;
  }

  // Appends a record: 4-byte length, then `body`; returns its address.
  uint64_t AddRecord(const Bytes& body) {
    Bytes record;
    PutFixed(record, body.size(), 4);
    return Raw(record + body);
  }

  // Adds a search table entry; the table is written by module().
  void Index(uint64_t pc, uint64_t fde) { table_.push_back({pc, fde}); }

  void Patch(uint64_t address, const Bytes& data) {
    std::copy(data.begin(), data.end(), bytes_.begin() + (address - kBase));
  }
  void Patch32(uint64_t address, uint32_t value) {
    Bytes data;
    PutFixed(data, value, 4);
    Patch(address, data);
  }

  // Writes .eh_frame_hdr (sorted by pc unless `sort` is false) and returns
  // the module AddressMap would make of it.
  UnwindModule module(bool sort = true) {
    if (sort) std::stable_sort(table_.begin(), table_.end());
    EXPECT_LE(table_.size(), capacity_);
    Bytes header = {1, kPcrelSdata4, kUdata4, kDatarel | kSdata4};
    const size_t eh_frame = 12 + 8 * capacity_;
    PutFixed(header, static_cast<uint32_t>(eh_frame - 4), 4);
    PutFixed(header, table_.size(), 4);
    for (const auto& [pc, fde] : table_) {
      PutFixed(header, static_cast<uint32_t>(pc - kBase), 4);
      PutFixed(header, static_cast<uint32_t>(fde - kBase), 4);
    }
    std::copy(header.begin(), header.end(), bytes_.begin());
    UnwindModule m;
    m.text_start = kText;
    m.text_end = kText + 0x100000;
    m.eh_frame_hdr = kBase;
    m.fde_table = kBase + 12;
    m.fde_count = table_.size();
    return m;
  }

  FrameRule At(uint64_t pc) { return At(module(), pc); }
  FrameRule At(const UnwindModule& m, uint64_t pc) {
    return CfiRules::Compute(m, pc, &Image::Read, this);
  }

  static bool Read(uint64_t address, void* out, size_t length,
                   void* arg) noexcept {
    auto* image = static_cast<Image*>(arg);
    ++image->reads_;
    const size_t size = image->bytes_.size();
    if (address < kBase || address - kBase > size ||
        length > size - (address - kBase)) {
      ++image->refused_reads_;
      return false;
    }
    std::memcpy(out, image->bytes_.data() + (address - kBase), length);
    return true;
  }

  const Bytes& bytes() const { return bytes_; }
  Bytes& bytes() { return bytes_; }
  int reads() const { return reads_; }
  int refused_reads() const { return refused_reads_; }

 private:
  static void Pointer(Bytes& out, uint8_t encoding, uint64_t value,
                      uint64_t field) {
    if ((encoding & 0x70) == kPcrel) value -= field;
    switch (encoding & 0x0f) {
      case kAbsptr:
      case kUdata8:
      case kSdata8:
        PutFixed(out, value, 8);
        break;
      case kUleb128:
        out = out + Uleb(value);
        break;
      case kSleb128:
        out = out + Sleb(static_cast<int64_t>(value));
        break;
      case kUdata2:
      case kSdata2:
        PutFixed(out, value, 2);
        break;
      default:
        PutFixed(out, value, 4);
        break;
    }
  }

  size_t capacity_;
  Bytes bytes_;
  std::vector<std::pair<uint64_t, uint64_t>> table_;
  int reads_ = 0;
  int refused_reads_ = 0;
};

// A rule in one line, so that a mismatch shows all of it.
std::string Describe(const FrameRule& rule) {
  if (!rule.supported) return "unsupported";
  if (rule.outermost) return "outermost";
  std::string out = rule.cfa_is_rbp ? "cfa=rbp" : "cfa=rsp";
  out += (rule.cfa_offset < 0 ? "" : "+") + std::to_string(rule.cfa_offset);
  out += " ra@" + std::to_string(rule.ra_offset);
  out += rule.rbp_saved ? " rbp@" + std::to_string(rule.rbp_offset)
                        : std::string(" rbp=same");
  return out;
}

constexpr char kEntry[] = "cfa=rsp+8 ra@-8 rbp=same";

// ---------------------------------------------------------------------------
// Rule forms Compute accepts.

TEST(CfiRulesTest, CieAloneGivesTheEntryRule) {
  Image image = Image::OneFde({});
  EXPECT_EQ(Describe(image.At(kText)), kEntry);
  EXPECT_EQ(Describe(image.At(kText + 0xff)), kEntry);
}

TEST(CfiRulesTest, ClassicFramePointerPrologueAndEpilogue) {
  // push %rbp; mov %rsp,%rbp; ...; pop %rbp; ret, as GCC describes it.
  Image image = Image::OneFde({
      AdvanceLoc(1), kDefCfaOffset, 16, Offset(kRbp), 2,  // after push
      AdvanceLoc(3), kDefCfaRegister, kRbp,               // after mov
      AdvanceLoc(20), kDefCfa, kRsp, 8,                   // after pop
  });
  EXPECT_EQ(Describe(image.At(kText)), kEntry);
  EXPECT_EQ(Describe(image.At(kText + 1)), "cfa=rsp+16 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 3)), "cfa=rsp+16 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 4)), "cfa=rbp+16 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 23)), "cfa=rbp+16 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 24)), "cfa=rsp+8 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 0xff)), "cfa=rsp+8 ra@-8 rbp@-16");
}

TEST(CfiRulesTest, EveryAdvanceLocFormMovesTheLocation) {
  const Bytes program =
      Bytes{AdvanceLoc(2), kDefCfaOffset, 16} +             // at +2
      Bytes{kAdvanceLoc1, 0xf0, kDefCfaOffset, 24} +        // +0xf2
      Bytes{kAdvanceLoc2, 0x00, 0x01, kDefCfaOffset, 32} +  // +0x1f2
      // at +0x101f2
      Bytes{kAdvanceLoc4, 0x00, 0x00, 0x01, 0x00, kDefCfaOffset, 40};
  Image image = Image::OneFde(program, 0x20000);
  EXPECT_EQ(Describe(image.At(kText + 1)), kEntry);
  EXPECT_EQ(Describe(image.At(kText + 2)), "cfa=rsp+16 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 0xf1)), "cfa=rsp+16 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 0xf2)), "cfa=rsp+24 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 0x1f1)), "cfa=rsp+24 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 0x1f2)), "cfa=rsp+32 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 0x101f1)), "cfa=rsp+32 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 0x101f2)), "cfa=rsp+40 ra@-8 rbp=same");
}

TEST(CfiRulesTest, AdvancesAreScaledByTheCodeAlignmentFactor) {
  Image image;
  CieSpec cie;
  cie.code_align = 4;
  FdeSpec fde;
  fde.program = {AdvanceLoc(3), kDefCfaOffset, 16};  // 3 * 4 bytes
  image.AddFde(image.AddCie(cie), kText, 0x100, fde);
  EXPECT_EQ(Describe(image.At(kText + 11)), kEntry);
  EXPECT_EQ(Describe(image.At(kText + 12)), "cfa=rsp+16 ra@-8 rbp=same");
}

TEST(CfiRulesTest, FactoredFormsUseTheDataAlignmentFactor) {
  Image image = Image::OneFde(
      Bytes{AdvanceLoc(1), kDefCfaOffsetSf} + Sleb(-3) +        // 24
      Bytes{kOffsetExtendedSf, kRbp} + Sleb(3) +                // CFA - 24
      Bytes{AdvanceLoc(1), kDefCfaSf, kRbp} + Sleb(-2) +        // RBP + 16
      Bytes{kOffsetExtended, kRa, 1} +                          // CFA - 8
      Bytes{AdvanceLoc(1), kOffsetExtendedSf, kRa} + Sleb(2));  // CFA - 16
  EXPECT_EQ(Describe(image.At(kText + 1)), "cfa=rsp+24 ra@-8 rbp@-24");
  EXPECT_EQ(Describe(image.At(kText + 2)), "cfa=rbp+16 ra@-8 rbp@-24");
  EXPECT_EQ(Describe(image.At(kText + 3)), "cfa=rbp+16 ra@-16 rbp@-24");
}

TEST(CfiRulesTest, DefCfaSetsRegisterAndOffsetTogether) {
  Image image = Image::OneFde({
      kDefCfa, kRbp, 32, Offset(kRbp), 4,        // from the first byte
      AdvanceLoc(5), kDefCfa, kRsp, 0x80, 0x01,  // RSP + 128
  });
  EXPECT_EQ(Describe(image.At(kText)), "cfa=rbp+32 ra@-8 rbp@-32");
  EXPECT_EQ(Describe(image.At(kText + 5)), "cfa=rsp+128 ra@-8 rbp@-32");
}

TEST(CfiRulesTest, RestoreReturnsToTheCieRule) {
  Image image;
  CieSpec cie;
  // A CIE that already saves RBP, to tell "restored" from "same value".
  cie.program = {kDefCfa, kRsp, 8, Offset(kRa), 1, Offset(kRbp), 3};
  FdeSpec fde;
  fde.program = {
      AdvanceLoc(1), Offset(kRbp),     2,    Offset(kRa),   3,  // at +1
      AdvanceLoc(1), Restore(kRbp),                             // at +2
      AdvanceLoc(1), kRestoreExtended, kRa,                     // at +3
      AdvanceLoc(1), Offset(kRbp),     2,    Restore(kRbx),     // at +4
      AdvanceLoc(1), kRestoreExtended, kRbp,                    // at +5
  };
  image.AddFde(image.AddCie(cie), kText, 0x100, fde);
  EXPECT_EQ(Describe(image.At(kText)), "cfa=rsp+8 ra@-8 rbp@-24");
  EXPECT_EQ(Describe(image.At(kText + 1)), "cfa=rsp+8 ra@-24 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 2)), "cfa=rsp+8 ra@-24 rbp@-24");
  EXPECT_EQ(Describe(image.At(kText + 3)), "cfa=rsp+8 ra@-8 rbp@-24");
  EXPECT_EQ(Describe(image.At(kText + 4)), "cfa=rsp+8 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 5)), "cfa=rsp+8 ra@-8 rbp@-24");
}

TEST(CfiRulesTest, RememberAndRestoreStateAroundAnEarlyReturn) {
  Image image = Image::OneFde({
      AdvanceLoc(1), kDefCfaOffset, 16, Offset(kRbp), 2,  // push %rbp
      AdvanceLoc(4), kRememberState, kDefCfaOffset, 8, Restore(kRbp),  // pop
      AdvanceLoc(1), kRestoreState,  // the code after the early ret
      AdvanceLoc(8), kDefCfaOffset, 8, Restore(kRbp),  // the final pop
  });
  EXPECT_EQ(Describe(image.At(kText + 4)), "cfa=rsp+16 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 5)), kEntry);
  EXPECT_EQ(Describe(image.At(kText + 6)), "cfa=rsp+16 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 13)), "cfa=rsp+16 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 14)), kEntry);
}

TEST(CfiRulesTest, NestedRememberStateUpToFourDeep) {
  Image image = Image::OneFde({
      kRememberState, kDefCfaOffset, 16,  //
      kRememberState, kDefCfaOffset, 24,  //
      kRememberState, kDefCfaOffset, 32,  //
      kRememberState, kDefCfaOffset, 40,  //
      AdvanceLoc(1),  kRestoreState,      // 32
      AdvanceLoc(1),  kRestoreState,      // 24
      AdvanceLoc(1),  kRestoreState,      // 16
      AdvanceLoc(1),  kRestoreState,      // 8
  });
  EXPECT_EQ(Describe(image.At(kText)), "cfa=rsp+40 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 1)), "cfa=rsp+32 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 2)), "cfa=rsp+24 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 3)), "cfa=rsp+16 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 4)), kEntry);
}

TEST(CfiRulesTest, UndefinedReturnAddressIsTheOutermostFrame) {
  // What _start and clone's child half say.
  Image image = Image::OneFde({AdvanceLoc(4), kUndefined, kRa});
  EXPECT_EQ(Describe(image.At(kText + 3)), kEntry);
  EXPECT_EQ(Describe(image.At(kText + 4)), "outermost");
  // Even if the CFA itself is something we cannot compute.
  Image odd = Image::OneFde({kDefCfa, kR12, 8, kUndefined, kRa});
  EXPECT_EQ(Describe(odd.At(kText)), "outermost");
}

TEST(CfiRulesTest, RulesForRegistersWeDoNotNeedAreIgnored) {
  const Bytes program =
      Bytes{Offset(kRbx), 3} + Bytes{Offset(kR12), 4} +
      Bytes{kUndefined, kRbx} + Bytes{kSameValue, kR12} +
      Bytes{kRegister, kRbx, kR12} +
      Bytes{kExpression, kRbx, 3, 0x77, 0x08, 0x06} +  // breg7 8; deref
      Bytes{kOffsetExtended, 0x80, 0x01, 2} +          // register 128
      Bytes{kGnuArgsSize, 0x20} + Bytes{kNop, kNop, kNop};
  Image image = Image::OneFde(program);
  EXPECT_EQ(Describe(image.At(kText)), kEntry);
}

TEST(CfiRulesTest, SameValueForRbpUndoesItsSaveSlot) {
  Image image = Image::OneFde({
      Offset(kRbp), 2,                  //
      AdvanceLoc(1), kSameValue, kRbp,  //
  });
  EXPECT_EQ(Describe(image.At(kText)), "cfa=rsp+8 ra@-8 rbp@-16");
  EXPECT_EQ(Describe(image.At(kText + 1)), kEntry);
}

TEST(CfiRulesTest, NopPaddingInCieAndFde) {
  Image image;
  CieSpec cie;
  cie.program = {kNop, kDefCfa, kRsp, 8, kNop, Offset(kRa), 1, kNop, kNop};
  FdeSpec fde;
  fde.program = {kNop, AdvanceLoc(1), kNop, kDefCfaOffset, 16, kNop, kNop};
  image.AddFde(image.AddCie(cie), kText, 0x100, fde);
  EXPECT_EQ(Describe(image.At(kText)), kEntry);
  EXPECT_EQ(Describe(image.At(kText + 1)), "cfa=rsp+16 ra@-8 rbp=same");
}

TEST(CfiRulesTest, InstructionsAfterThePcDoNotApply) {
  // Everything after the advance that passes the pc is never looked at,
  // not even an instruction Compute would refuse.
  Image image =
      Image::OneFde(Bytes{AdvanceLoc(2), kDefCfaOffset, 16} +
                    Bytes{AdvanceLoc(2), kDefCfaExpression, 2, 0x77, 0x08});
  EXPECT_EQ(Describe(image.At(kText + 1)), kEntry);
  EXPECT_EQ(Describe(image.At(kText + 3)), "cfa=rsp+16 ra@-8 rbp=same");
  EXPECT_EQ(Describe(image.At(kText + 4)), "unsupported");
}

TEST(CfiRulesTest, CieVersion3WithLebReturnAddressRegister) {
  Image image;
  CieSpec cie;
  cie.version = 3;
  image.AddFde(image.AddCie(cie), kText, 0x100);
  EXPECT_EQ(Describe(image.At(kText)), kEntry);
}

TEST(CfiRulesTest, PersonalityAndLsdaAugmentations) {
  Image image;
  CieSpec cie;
  cie.augmentation = "zPLR";
  // 'P': indirect pcrel sdata4 personality pointer, 'L': LSDA encoding,
  // 'R': FDE encoding.
  cie.augmentation_data = Bytes{kIndirect | kPcrelSdata4} +
                          Bytes{0x10, 0x20, 0x30, 0x40} +  // the pointer
                          Bytes{kPcrelSdata4, kPcrelSdata4};
  FdeSpec fde;
  fde.augmentation_data = {0x11, 0x22, 0x33, 0x44};  // the LSDA pointer
  fde.program = {AdvanceLoc(1), kDefCfaOffset, 16};
  image.AddFde(image.AddCie(cie), kText, 0x100, fde);
  EXPECT_EQ(Describe(image.At(kText)), kEntry);
  EXPECT_EQ(Describe(image.At(kText + 1)), "cfa=rsp+16 ra@-8 rbp=same");
}

TEST(CfiRulesTest, CieWithoutAugmentationUsesAbsolutePointers) {
  Image image;
  CieSpec cie;
  cie.augmentation = "";
  cie.augmentation_data = {};
  FdeSpec fde;
  fde.encoding = kAbsptr;
  fde.augmented = false;
  fde.program = {AdvanceLoc(1), kDefCfaOffset, 16};
  image.AddFde(image.AddCie(cie), kText, 0x100, fde);
  EXPECT_EQ(Describe(image.At(kText + 1)), "cfa=rsp+16 ra@-8 rbp=same");
}

TEST(CfiRulesTest, EveryFdePointerEncodingCompilersUse) {
  for (uint8_t format : {kAbsptr, kUleb128, kUdata2, kUdata4, kUdata8, kSleb128,
                         kSdata2, kSdata4, kSdata8}) {
    for (uint8_t application : {uint8_t{0}, kPcrel}) {
      const uint8_t encoding = format | application;
      SCOPED_TRACE("encoding " + std::to_string(encoding));
      // udata2/sdata2 cannot hold an absolute kText: keep the code low.
      const uint64_t pc =
          (format == kUdata2 || format == kSdata2) && application == 0 ? 0x7000
                                                                       : kText;
      if ((format == kUdata2 || format == kSdata2) && application == kPcrel) {
        continue;  // kText is farther than 32 KiB from the records
      }
      Image image;
      CieSpec cie;
      cie.augmentation_data = {encoding};
      FdeSpec fde;
      fde.encoding = encoding;
      fde.program = {AdvanceLoc(1), kDefCfaOffset, 16};
      image.AddFde(image.AddCie(cie), pc, 0x40, fde);
      EXPECT_EQ(Describe(image.At(pc)), kEntry);
      EXPECT_EQ(Describe(image.At(pc + 1)), "cfa=rsp+16 ra@-8 rbp=same");
      EXPECT_EQ(Describe(image.At(pc + 0x40)), "unsupported");
    }
  }
}

TEST(CfiRulesTest, TheSearchTablePicksTheFdeCoveringThePc) {
  Image image;
  const uint64_t cie = image.AddCie();
  // Four functions with a gap between the second and the third; each one's
  // rule says which it is.
  const uint64_t starts[] = {kText, kText + 0x40, kText + 0x100, kText + 0x180};
  for (int i = 0; i < 4; ++i) {
    FdeSpec fde;
    fde.program = {kDefCfaOffset, static_cast<uint8_t>(16 + 8 * i)};
    image.AddFde(cie, starts[i], i == 1 ? 0x20 : 0x40, fde);
  }
  // More of .eh_frame: a record is read together with what follows it.
  image.Raw(Bytes(4 + 512, 0));
  for (int i = 0; i < 4; ++i) {
    const std::string want =
        "cfa=rsp+" + std::to_string(16 + 8 * i) + " ra@-8 rbp=same";
    EXPECT_EQ(Describe(image.At(starts[i])), want) << i;
    EXPECT_EQ(Describe(image.At(starts[i] + 0x1f)), want) << i;
  }
  EXPECT_EQ(Describe(image.At(kText - 1)), "unsupported");      // before
  EXPECT_EQ(Describe(image.At(kText + 0x60)), "unsupported");   // gap
  EXPECT_EQ(Describe(image.At(kText + 0xff)), "unsupported");   // gap
  EXPECT_EQ(Describe(image.At(kText + 0x1c0)), "unsupported");  // after
  EXPECT_EQ(Describe(image.At(~uint64_t{0})), "unsupported");
  EXPECT_EQ(Describe(image.At(0)), "unsupported");
  EXPECT_EQ(image.refused_reads(), 0);
}

// ---------------------------------------------------------------------------
// Forms Compute must refuse (the caller then unwinds with libunwind).

TEST(CfiRulesTest, RefusesEveryOpcodeOutsideItsSubset) {
  // 0x1c is DW_CFA_lo_user, 0x1d DW_CFA_MIPS_advance_loc8, 0x3f
  // DW_CFA_hi_user.
  const uint8_t refused[] = {kSetLoc,
                             kDefCfaExpression,
                             kValOffset,
                             kValOffsetSf,
                             kValExpression,
                             0x17,
                             0x1b,
                             0x1c,
                             0x1d,
                             kGnuWindowSave,
                             kGnuNegativeOffsetExtended,
                             0x30,
                             0x3f};
  // Operands that would make sense for most of them.
  auto program = [](uint8_t op) {
    return Bytes{kDefCfaOffset, 16, op, kRbx, 1, 0x77, 0};
  };
  for (uint8_t op : refused) {
    SCOPED_TRACE("opcode " + std::to_string(op));
    EXPECT_EQ(Describe(Image::OneFde(program(op)).At(kText)), "unsupported");
  }
  // The same bytes with a nop in the opcode's place are fine.
  EXPECT_EQ(Describe(Image::OneFde(program(kNop)).At(kText)),
            "cfa=rsp+16 ra@-8 rbp=same");
}

TEST(CfiRulesTest, RefusesACfaInAnyOtherRegister) {
  for (const Bytes& program :
       {Bytes{kDefCfa, kR12, 16}, Bytes{kDefCfaRegister, kRbx},
        Bytes{kDefCfaSf, 0, 0x7e}, Bytes{kDefCfa, kRa, 8}}) {
    EXPECT_EQ(Describe(Image::OneFde(program).At(kText)), "unsupported");
  }
  // And switching back to RSP is fine again.
  EXPECT_EQ(
      Describe(Image::OneFde({kDefCfaRegister, kR12, kDefCfaRegister, kRsp})
                   .At(kText)),
      kEntry);
}

TEST(CfiRulesTest, RefusesReturnAddressOrRbpRulesItCannotFollow) {
  const Bytes refused[] = {
      {kExpression, kRa, 2, 0x77, 0x08},   // RA by expression
      {kExpression, kRbp, 2, 0x77, 0x08},  // RBP by expression
      {kRegister, kRa, kRbx},              // RA in a register
      {kRegister, kRbp, kRbx},             // RBP in a register
      {kSameValue, kRa},                   // RA "same value"
      {kUndefined, kRbp},                  // RBP undefined
      {Offset(kRsp), 2},                   // RSP saved in memory
      {kOffsetExtended, kRsp, 2},          //
      {kRegister, kRsp, kRbx},             // RSP in a register
  };
  for (const Bytes& program : refused) {
    SCOPED_TRACE("program starting " + std::to_string(program[0]) + "," +
                 std::to_string(program[1]));
    EXPECT_EQ(Describe(Image::OneFde(program).At(kText)), "unsupported");
  }
}

TEST(CfiRulesTest, RefusesAugmentationsItDoesNotKnow) {
  struct Case {
    std::string augmentation;
    Bytes data;
  };
  const Case cases[] = {
      {"zRS", {kPcrelSdata4}},  // signal frame (__restore_rt)
      {"zRB", {kPcrelSdata4}},  // AArch64 BTI
      {"zRG", {kPcrelSdata4}},  // MTE tagged frame
      {"zRX", {kPcrelSdata4}},  // unknown
      {"eh", {}},               // GCC 2 style, no 'z'
      {"R", {kPcrelSdata4}},    // 'R' without 'z'
      {"zPLRzzzz", {}},         // longer than anything real
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.augmentation);
    Image image;
    CieSpec cie;
    cie.augmentation = c.augmentation;
    cie.augmentation_data = c.data;
    image.AddFde(image.AddCie(cie), kText, 0x100);
    EXPECT_EQ(Describe(image.At(kText)), "unsupported");
  }
}

TEST(CfiRulesTest, RefusesOtherCieVersionsAndReturnAddressColumns) {
  for (uint8_t version : {0, 2, 4, 5}) {
    Image image;
    CieSpec cie;
    cie.version = version;
    image.AddFde(image.AddCie(cie), kText, 0x100);
    EXPECT_EQ(Describe(image.At(kText)), "unsupported") << int{version};
  }
  Image image;
  CieSpec cie;
  cie.ra_register = kRbx;
  image.AddFde(image.AddCie(cie), kText, 0x100);
  EXPECT_EQ(Describe(image.At(kText)), "unsupported");
}

TEST(CfiRulesTest, RefusesPointerEncodingsCompilersDoNotUseForFdes) {
  for (uint8_t encoding :
       {uint8_t{kDatarel | kSdata4}, uint8_t{kTextrel | kSdata4},
        uint8_t{kFuncrel | kSdata4}, uint8_t{kAligned}, uint8_t{0x05},
        uint8_t{0x0d}, uint8_t{kOmit},
        // Indirect: the field holds the address of the pc, not the pc.
        uint8_t{kIndirect | kPcrelSdata4}}) {
    SCOPED_TRACE("encoding " + std::to_string(encoding));
    Image image;
    CieSpec cie;
    cie.augmentation_data = {encoding};
    FdeSpec fde;
    // Written as pcrel sdata4 (what a reader that ignores the
    // application bits would decode to kText).
    fde.encoding = encoding == kAligned || encoding == kOmit ||
                           (encoding & 0x0f) == 0x05 ||
                           (encoding & 0x0f) == 0x0d
                       ? kPcrelSdata4
                       : encoding;
    image.AddFde(image.AddCie(cie), kText, 0x100, fde);
    EXPECT_EQ(Describe(image.At(kText)), "unsupported");
  }
}

TEST(CfiRulesTest, RefusesOffsetsThatDoNotFitTheRule) {
  // FrameRule holds 32-bit offsets; a bigger one must not be truncated
  // into a plausible small one.
  const Bytes refused[] = {
      Bytes{kDefCfaOffset} + Uleb(0x100000008),            // CFA = RSP + 2^32+8
      Bytes{kOffsetExtended, kRa} + Uleb(0x20000001),      // RA at -2^32-8
      Bytes{kOffsetExtendedSf, kRbp} + Sleb(-0x20000000),  // RBP at +2^32
      Bytes{kDefCfaOffsetSf} + Sleb(int64_t{1} << 61),     // overflows int64
      Bytes{kDefCfaOffset} + Uleb(~uint64_t{0}),           // not an int64
  };
  for (const Bytes& program : refused) {
    EXPECT_EQ(Describe(Image::OneFde(program).At(kText)), "unsupported");
  }
  // The largest that fit are fine.
  EXPECT_EQ(
      Describe(
          Image::OneFde(Bytes{kDefCfaOffset} + Uleb(0x7fffffff)).At(kText)),
      "cfa=rsp+2147483647 ra@-8 rbp=same");
}

TEST(CfiRulesTest, RefusesUnbalancedOrTooDeepStateStacks) {
  EXPECT_EQ(Describe(Image::OneFde({kRestoreState}).At(kText)), "unsupported");
  EXPECT_EQ(
      Describe(Image::OneFde({kRememberState, kRestoreState, kRestoreState})
                   .At(kText)),
      "unsupported");
  EXPECT_EQ(
      Describe(Image::OneFde({kRememberState, kRememberState, kRememberState,
                              kRememberState, kRememberState})
                   .At(kText)),
      "unsupported");
}

// The map's sample of the table (every kFdeIndexStride-th entry) narrows a
// search to one read of at most kFdeIndexStride entries; the answers are the
// plain search's, at the first and last entries of each stride, in gaps, and
// in a last stride that is not full.
TEST(CfiRulesTest, AnIndexedTableIsSearchedWithOneReadOfItsEntries) {
  constexpr uint64_t kFunctions = 1000;  // 31 full strides and 8 entries
  Image image(kFunctions);
  const uint64_t cie = image.AddCie();
  for (uint64_t i = 0; i < kFunctions; ++i) {
    FdeSpec fde;
    fde.program = {kDefCfaOffset, static_cast<uint8_t>(16 + 8 * (i % 16))};
    image.AddFde(cie, kText + 0x40 * i, 0x30, fde);  // 0x10 gap after each
  }
  image.Raw(Bytes(4 + 512, 0));
  const UnwindModule plain = image.module();
  UnwindModule indexed = plain;
  indexed.fde_index = SampleFdeTable(image.bytes().data() + 12, kFunctions);
  ASSERT_EQ(indexed.fde_index.size(), 32u);
  std::vector<uint64_t> pcs = {kText - 1, 0, ~uint64_t{0},
                               kText + 0x40 * kFunctions};
  for (uint64_t i = 0; i < kFunctions; ++i) {
    for (uint64_t offset : {0x0, 0x2f, 0x30, 0x3f}) {
      pcs.push_back(kText + 0x40 * i + offset);
    }
  }
  int most_indexed_reads = 0, fewest_plain_reads = 1 << 30;
  for (uint64_t pc : pcs) {
    int before = image.reads();
    const std::string want = Describe(image.At(plain, pc));
    const int plain_reads = image.reads() - before;
    before = image.reads();
    EXPECT_EQ(Describe(image.At(indexed, pc)), want) << std::hex << pc;
    const int indexed_reads = image.reads() - before;
    if (want != "unsupported") {
      most_indexed_reads = std::max(most_indexed_reads, indexed_reads);
      fewest_plain_reads = std::min(fewest_plain_reads, plain_reads);
    }
  }
  EXPECT_EQ(image.refused_reads(), 0);
  // The entries, the FDE and its CIE: one read each.
  EXPECT_EQ(most_indexed_reads, 3);
  EXPECT_GT(fewest_plain_reads, 10);  // a probe per halving, then records
  // An index that does not fit the table is not trusted.
  UnwindModule mismatched = indexed;
  mismatched.fde_index.pop_back();
  EXPECT_EQ(Describe(image.At(mismatched, kText + 0x40 * 999)),
            Describe(image.At(plain, kText + 0x40 * 999)));
}

// ---------------------------------------------------------------------------
// Truncated and hostile records: refused, never a crash, a hang or a read
// outside what the reader serves.

TEST(CfiRulesTest, RefusesAModuleWithoutATable) {
  Image image = Image::OneFde({});
  UnwindModule m = image.module();
  m.fde_count = 0;
  EXPECT_EQ(Describe(image.At(m, kText)), "unsupported");
  m = image.module();
  m.eh_frame_hdr = 0;
  EXPECT_EQ(Describe(image.At(m, kText)), "unsupported");
  m = image.module();
  m.fde_table = 16;  // unreadable
  EXPECT_EQ(Describe(image.At(m, kText)), "unsupported");
  EXPECT_EQ(Describe(image.At(kText)), kEntry);  // the control
}

TEST(CfiRulesTest, HugeFdeCountsEndInRefusedReads) {
  Image image = Image::OneFde({});
  for (uint64_t count : {uint64_t{1} << 32, uint64_t{1} << 61,
                         uint64_t{1} << 63, ~uint64_t{0}}) {
    UnwindModule m = image.module();
    m.fde_count = count;
    const int reads_before = image.reads();
    EXPECT_EQ(Describe(image.At(m, kText)), "unsupported") << count;
    // A binary search: at most 64 probes of the table, then a few reads.
    EXPECT_LE(image.reads() - reads_before, 70) << count;
  }
}

TEST(CfiRulesTest, AnUnsortedTableNeverYieldsAnotherFunctionsRule) {
  Image image;
  const uint64_t cie = image.AddCie();
  FdeSpec a, b;
  a.program = {kDefCfaOffset, 16};
  b.program = {kDefCfaOffset, 32};
  image.AddFde(cie, kText + 0x100, 0x100, b);  // indexed first
  image.AddFde(cie, kText, 0x100, a);
  const UnwindModule m = image.module(/*sort=*/false);
  for (uint64_t pc = kText; pc < kText + 0x200; pc += 0x10) {
    const std::string got = Describe(image.At(m, pc));
    const std::string own = pc < kText + 0x100 ? "cfa=rsp+16 ra@-8 rbp=same"
                                               : "cfa=rsp+32 ra@-8 rbp=same";
    EXPECT_TRUE(got == own || got == "unsupported") << pc << ": " << got;
  }
}

TEST(CfiRulesTest, RefusesTableEntriesThatPointNowhereUseful) {
  for (uint64_t target :
       {kBase - 64, kBase + (1u << 30), kBase + 12, ~uint64_t{0} - 3}) {
    Image image = Image::OneFde({});
    image.Index(kText + 0x80, target);  // a second, bogus entry
    EXPECT_EQ(Describe(image.At(kText + 0x90)), "unsupported") << target;
    EXPECT_EQ(Describe(image.At(kText)), kEntry) << target;
  }
}

TEST(CfiRulesTest, RefusesTheZeroTerminatorAndRecordsOfLengthZero) {
  Image image = Image::OneFde({});
  const uint64_t terminator = image.Raw({0, 0, 0, 0});
  image.Index(kText + 0x80, terminator);
  EXPECT_EQ(Describe(image.At(kText + 0x90)), "unsupported");
  // A CIE of length zero.
  Image zero_cie;
  const uint64_t cie = zero_cie.AddCie();
  zero_cie.AddFde(cie, kText, 0x100);
  zero_cie.Patch32(cie, 0);
  EXPECT_EQ(Describe(zero_cie.At(kText)), "unsupported");
}

TEST(CfiRulesTest, RefusesSixtyFourBitLengths) {
  // DWARF64 records: 0xffffffff then an 8-byte length.
  Image fde64 = Image::OneFde({});
  const uint64_t cie = fde64.AddCie();
  const uint64_t fde =
      fde64.Raw({0xff, 0xff, 0xff, 0xff, 24, 0, 0, 0, 0, 0, 0, 0});
  Bytes body;
  PutFixed(body, static_cast<uint32_t>(fde + 12 - cie), 4);
  body.resize(24, 0);
  fde64.Raw(body);
  fde64.Index(kText + 0x200, fde);
  EXPECT_EQ(Describe(fde64.At(kText + 0x200)), "unsupported");

  Image cie64 = Image::OneFde({});
  const uint64_t the_cie = cie64.AddCie();
  cie64.AddFde(the_cie, kText + 0x200, 0x100);
  cie64.Patch32(the_cie, 0xffffffff);
  EXPECT_EQ(Describe(cie64.At(kText + 0x200)), "unsupported");
}

TEST(CfiRulesTest, RefusesRecordsThatRunPastTheImage) {
  // The image ends in the middle of the FDE.
  Image fde = Image::OneFde({kDefCfaOffset, 16, kNop, kNop});
  fde.module();
  fde.bytes().erase(fde.bytes().end() - 3, fde.bytes().end());
  EXPECT_EQ(Describe(fde.At(fde.module(), kText)), "unsupported");
  EXPECT_GT(fde.refused_reads(), 0);
  // An FDE whose length says more than there is.
  Image longer = Image::OneFde({kDefCfaOffset, 16});
  const UnwindModule m = longer.module();
  uint32_t fde_offset = 0;
  std::memcpy(&fde_offset, longer.bytes().data() + 16, 4);
  longer.Patch32(kBase + fde_offset, 0x100);
  EXPECT_EQ(Describe(longer.At(m, kText)), "unsupported");
  // A CIE whose length says more than there is.
  Image cie;
  const uint64_t the_cie = cie.AddCie();
  cie.AddFde(the_cie, kText, 0x100);
  cie.Patch32(the_cie, 0x100);
  EXPECT_EQ(Describe(cie.At(kText)), "unsupported");
}

TEST(CfiRulesTest, RefusesRecordsLargerThanItsBuffers) {
  // An FDE body of exactly 512 bytes fits; 513 does not. Ditto a CIE body
  // of 256 and 257 bytes.
  for (size_t body : {size_t{512}, size_t{513}}) {
    // 4 CIE pointer + 4 pc + 4 range + 1 augmentation length.
    Image image = Image::OneFde(Bytes(body - 13, kNop));
    EXPECT_EQ(Describe(image.At(kText)), body == 512 ? kEntry : "unsupported")
        << body;
  }
  for (size_t body : {size_t{256}, size_t{257}}) {
    Image image;
    CieSpec cie;
    // 4 id + 1 version + 3 "zR\0" + 1 + 1 + 1 alignment and RA + 2 'z' data.
    cie.program = cie.program + Bytes(body - 13 - cie.program.size(), kNop);
    image.AddFde(image.AddCie(cie), kText, 0x100);
    EXPECT_EQ(Describe(image.At(kText)), body == 256 ? kEntry : "unsupported")
        << body;
  }
}

TEST(CfiRulesTest, RefusesFdesShorterThanTheirCiePointer) {
  // Layout: CIE, FDE F1 (valid), a copy of the CIE, then F2 whose 2-byte
  // body holds the low half of F1's CIE pointer. Computing F1 first leaves
  // its bytes in Compute's record buffer; F2 must not reuse them (nor read
  // its body with a length of 2 - 4).
  Image image;
  const uint64_t cie = image.AddCie();
  const uint64_t f1 = image.AddFde(cie, kText, 0x100);
  image.AddCie();
  const uint64_t f2 = image.end();
  const uint32_t delta = static_cast<uint32_t>(f1 + 4 - cie);
  image.Raw({2, 0, 0, 0, static_cast<uint8_t>(delta & 0xff),
             static_cast<uint8_t>(delta >> 8)});
  // F2's stale pc_begin would decode relative to F2's own field.
  const uint64_t stale_pc = kText + (f2 - f1);
  image.Index(stale_pc, f2);
  const UnwindModule m = image.module();
  for (uint32_t length : {0u, 1u, 2u, 3u, 4u, 5u}) {
    image.Patch32(f2, length);
    EXPECT_EQ(Describe(image.At(m, kText)), kEntry) << length;
    EXPECT_EQ(Describe(image.At(m, stale_pc + 1)), "unsupported") << length;
  }
}

TEST(CfiRulesTest, RefusesBadCiePointers) {
  for (int64_t cie_delta : {int64_t{0}, int64_t{4}, int64_t{-0x100000},
                            int64_t{0x7fffffff}, int64_t{0x100}}) {
    Image image = Image::OneFde({});
    const uint64_t fde = image.AddFde(image.AddCie(), kText + 0x200, 0x100);
    // The pointer is relative to its own field at fde + 4; 0 marks a CIE,
    // 4 points at the FDE itself, 0x100 at the zeros of the search table.
    image.Patch32(fde + 4, static_cast<uint32_t>(cie_delta));
    EXPECT_EQ(Describe(image.At(kText + 0x200)), "unsupported") << cie_delta;
  }
}

TEST(CfiRulesTest, RefusesACiePointerThatLandsOnAnotherFde) {
  // A record whose body is a valid CIE but whose id is not zero is an FDE,
  // not a CIE.
  Image image;
  CieSpec not_a_cie;
  not_a_cie.id = 0x40;
  image.AddFde(image.AddCie(not_a_cie), kText, 0x100);
  EXPECT_EQ(Describe(image.At(kText)), "unsupported");
}

TEST(CfiRulesTest, RefusesTruncatedCies) {
  CieSpec full;
  Image reference;
  const uint64_t ref_cie = reference.AddCie(full);
  uint32_t full_length = 0;
  std::memcpy(&full_length, reference.bytes().data() + (ref_cie - kBase), 4);
  // Every shorter length cuts the CIE somewhere in its header, its
  // augmentation or its program.
  for (uint32_t length = 1; length < full_length; ++length) {
    Image image;
    const uint64_t cie = image.AddCie(full);
    image.AddFde(cie, kText, 0x100);
    image.Patch32(cie, length);
    const std::string got = Describe(image.At(kText));
    // Cut inside the program (def_cfa rsp 8; offset ra 1): only cuts that
    // fall between two complete instructions may be accepted, and then
    // with the default rule.
    EXPECT_TRUE(got == "unsupported" || got == kEntry) << length << got;
    if (length < full_length - 5) {
      EXPECT_EQ(got, "unsupported") << length;
    }
  }
}

TEST(CfiRulesTest, RefusesAugmentationDataRunningPastTheRecord) {
  for (uint64_t length : {uint64_t{0}, uint64_t{100}, uint64_t{0x7fffffff},
                          ~uint64_t{0}, ~uint64_t{0} - 9}) {
    SCOPED_TRACE(length);
    Image image;
    // A "zR" CIE written by hand: id, version, augmentation, code and data
    // alignment, RA column, then the augmentation data length under test
    // (0: shorter than the 'R' byte it must hold).
    const Bytes body = Bytes{0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, kRa} +
                       Uleb(length) + Bytes{kPcrelSdata4} + CieSpec().program;
    image.AddFde(image.AddRecord(body), kText, 0x100);
    EXPECT_EQ(Describe(image.At(kText)), "unsupported");
  }
  // The same for an FDE's augmentation data.
  for (uint64_t length : {uint64_t{100}, ~uint64_t{0}, ~uint64_t{0} - 10}) {
    SCOPED_TRACE(length);
    Image image;
    FdeSpec fde;
    fde.augmented = false;  // written by hand:
    fde.program = Uleb(length) + Bytes{kNop, kNop};
    image.AddFde(image.AddCie(), kText, 0x100, fde);
    EXPECT_EQ(Describe(image.At(kText)), "unsupported");
  }
}

TEST(CfiRulesTest, RefusesTruncatedInstructions) {
  const Bytes cut[] = {
      {kDefCfa},
      {kDefCfa, kRsp},
      {kDefCfa, kRsp, 0x80},
      {kDefCfaOffset},
      {kOffsetExtended, kRa},
      {Offset(kRbp)},
      {kAdvanceLoc2, 1},
      {kAdvanceLoc4, 1, 0, 0},
      {kAdvanceLoc1},
      {kDefCfaSf, kRsp},
      {kExpression, kRbx},
      {kExpression, kRbx, 5, 0x77},
      {kRegister, kRbx},
      {kGnuArgsSize},
      {kUndefined},
      {kOffsetExtendedSf, kRbp, 0xff},
  };
  for (const Bytes& program : cut) {
    SCOPED_TRACE("program of " + std::to_string(program.size()) +
                 " bytes starting " + std::to_string(program[0]));
    // The record ends right after the cut instruction. Advances must be
    // refused too: the pc lies beyond them.
    EXPECT_EQ(Describe(Image::OneFde(program, 0x1000000).At(kText + 0x20000)),
              "unsupported");
  }
}

TEST(CfiRulesTest, RefusesOverlongLeb128) {
  // 11 bytes: more than any 64-bit value needs.
  const Bytes long_uleb = {0x88, 0x80, 0x80, 0x80, 0x80, 0x80,
                           0x80, 0x80, 0x80, 0x80, 0x00};
  EXPECT_EQ(Describe(Image::OneFde(Bytes{kDefCfaOffset} + long_uleb +
                                   Bytes{kNop, kNop})
                         .At(kText)),
            "unsupported");
  EXPECT_EQ(Describe(Image::OneFde(Bytes{kDefCfaOffsetSf} + long_uleb +
                                   Bytes{kNop, kNop})
                         .At(kText)),
            "unsupported");
  // 10 bytes whose value does not fit 64 bits (the top bits are dropped,
  // and what remains does not fit the rule).
  EXPECT_EQ(Describe(Image::OneFde(Bytes{kDefCfaOffset, 0x88, 0x80, 0x80, 0x80,
                                         0x80, 0x80, 0x80, 0x80, 0x80, 0x7f})
                         .At(kText)),
            "unsupported");
  // A negative SLEB128 whose sign bit is the 64th (9 bytes: 0x40 << 56 and
  // sign extension from bit 63).
  EXPECT_EQ(Describe(Image::OneFde(Bytes{kDefCfaOffsetSf, 0x80, 0x80, 0x80,
                                         0x80, 0x80, 0x80, 0x80, 0x80, 0x40})
                         .At(kText)),
            "unsupported");
  // Factors that overflow int64 when multiplied by the data alignment.
  Image image;
  CieSpec cie;
  cie.data_align = -(int64_t{1} << 62);
  FdeSpec fde;
  fde.program = Bytes{Offset(kRbp), 4, kOffsetExtendedSf, kRa} + Sleb(-4);
  image.AddFde(image.AddCie(cie), kText, 0x100, fde);
  EXPECT_EQ(Describe(image.At(kText)), "unsupported");
}

TEST(CfiRulesTest, RefusesExpressionsRunningPastTheRecord) {
  // An expression for a register we do not need is skipped, but only if it
  // lies inside the record.
  EXPECT_EQ(
      Describe(Image::OneFde({kExpression, kRbx, 100, 0x77, 0x08}).At(kText)),
      "unsupported");
  // A length that wraps the cursor back onto the expression itself
  // (op, register and a 10-byte length: 12 bytes) must not loop forever.
  EXPECT_EQ(
      Describe(Image::OneFde(Bytes{kExpression, kRbx} + Uleb(~uint64_t{0} - 11))
                   .At(kText)),
      "unsupported");
  EXPECT_EQ(Describe(Image::OneFde(Bytes{kNop, kExpression, kRbx} +
                                   Uleb(~uint64_t{0} - 12))
                         .At(kText)),
            "unsupported");
}

TEST(CfiRulesTest, SurvivesEveryByteOfARealisticImageBeingCorrupted) {
  // A module of two CIEs and three FDEs. Each byte in turn is replaced by
  // a few values that mean something in DWARF (0, all ones, a lone
  // continuation bit, a length-like 0x7f); every pc of every function is
  // then looked up. A crash, a sanitizer report or a hang fails the test;
  // so does a rule for a pc below every function (the search table is left
  // alone, so no record is even read for those).
  Image image;
  const uint64_t c1 = image.AddCie();
  CieSpec augmented;
  augmented.augmentation = "zPLR";
  augmented.augmentation_data = {
      kIndirect | kPcrelSdata4, 1, 2, 3, 4, kPcrelSdata4, kPcrelSdata4};
  const uint64_t c2 = image.AddCie(augmented);
  FdeSpec classic;
  classic.program = Bytes{AdvanceLoc(1), kDefCfaOffset, 16, Offset(kRbp), 2} +
                    Bytes{AdvanceLoc(3), kDefCfaRegister, kRbp} +
                    Bytes{AdvanceLoc(8), kDefCfa, kRsp, 8};
  FdeSpec states;
  states.augmentation_data = {9, 9, 9, 9};
  states.program = Bytes{AdvanceLoc(1), kDefCfaOffset, 16} +
                   Bytes{AdvanceLoc(2), kRememberState, kDefCfaOffset, 8} +
                   Bytes{AdvanceLoc(1), kRestoreState} +
                   Bytes{kExpression, kRbx, 1, 0x30};
  FdeSpec outer;
  outer.program = {AdvanceLoc(2), kUndefined, kRa};
  image.AddFde(c1, kText, 0x10, classic);
  image.AddFde(c2, kText + 0x10, 0x10, states);
  image.AddFde(c1, kText + 0x20, 0x10, outer);
  const UnwindModule m = image.module();
  const Bytes pristine = image.bytes();
  const size_t first = 12 + 8 * 64;  // leave the search table alone
  int supported = 0;
  for (size_t i = first; i < pristine.size(); ++i) {
    for (uint8_t value : {0x00, 0xff, 0x80, 0x7f}) {
      if (pristine[i] == value) continue;
      image.bytes() = pristine;
      image.bytes()[i] = value;
      for (uint64_t pc = kText - 2; pc < kText + 0x32; ++pc) {
        const FrameRule rule = image.At(m, pc);
        if (pc < kText) {
          EXPECT_FALSE(rule.supported) << "byte " << i << " pc " << pc;
        }
        supported += rule.supported;
      }
    }
  }
  // Most corruptions leave most lookups intact (so the lookups did run).
  EXPECT_GT(supported, 1000);
}

// ---------------------------------------------------------------------------
// The cache in front of Compute (CfiRules::Find).

// Finds the rule at `pc` through `rules` and says whether the image was read
// (computed) or not (cached).
std::pair<std::string, bool> FindCounted(CfiRules& rules, Image& image,
                                         const UnwindModule& m, uint64_t pc) {
  const int before = image.reads();
  const FrameRule rule = rules.Find(m, pc, &Image::Read, &image);
  return {Describe(rule), image.reads() != before};
}

TEST(CfiRulesCacheTest, ARuleIsComputedOnceThenComesFromTheCache) {
  Image image = Image::OneFde({
      AdvanceLoc(1), kDefCfaOffset, 16, Offset(kRbp), 2,  // after push
      AdvanceLoc(3), kDefCfaRegister, kRbp,               // after mov
  });
  const UnwindModule m = image.module();
  CfiRules rules;
  for (uint64_t pc : {kText, kText + 1, kText + 4}) {
    const std::string computed = Describe(image.At(m, pc));
    EXPECT_EQ(FindCounted(rules, image, m, pc), std::make_pair(computed, true));
    EXPECT_EQ(FindCounted(rules, image, m, pc),
              std::make_pair(computed, false));
  }
}

TEST(CfiRulesCacheTest, RulesAtTheEdgesOfTheCachedRangesComeBackWhole) {
  // A cached rule is packed in 64 bits: the CFA offset in 16 signed bits,
  // the return address's and RBP's in 10 (x8 data alignment: -512 fits,
  // -520 does not). Rules past those edges are right too, computed every
  // time instead of cached.
  struct Case {
    Bytes program;
    std::string rule;
    bool cached;
  };
  const Case cases[] = {
      {Bytes{kDefCfaOffset} + Uleb(32767), "cfa=rsp+32767 ra@-8 rbp=same",
       true},
      {Bytes{kDefCfaOffset} + Uleb(32768), "cfa=rsp+32768 ra@-8 rbp=same",
       false},
      {Bytes{kDefCfaOffsetSf} + Sleb(4096), "cfa=rsp-32768 ra@-8 rbp=same",
       true},
      {Bytes{kDefCfaOffsetSf} + Sleb(4097), "cfa=rsp-32776 ra@-8 rbp=same",
       false},
      {Bytes{Offset(kRbp), 64}, "cfa=rsp+8 ra@-8 rbp@-512", true},
      {Bytes{Offset(kRbp), 65}, "cfa=rsp+8 ra@-8 rbp@-520", false},
      {Bytes{Offset(kRa), 64}, "cfa=rsp+8 ra@-512 rbp=same", true},
      {Bytes{Offset(kRa), 65}, "cfa=rsp+8 ra@-520 rbp=same", false},
      {Bytes{kOffsetExtendedSf, kRbp} + Sleb(-63), "cfa=rsp+8 ra@-8 rbp@504",
       true},
      {Bytes{kDefCfa, kRbp, 16, Offset(kRbp), 2}, "cfa=rbp+16 ra@-8 rbp@-16",
       true},
      {Bytes{kUndefined, kRa}, "outermost", true},
      {Bytes{kDefCfaExpression, 0}, "unsupported", true},
  };
  for (const Case& c : cases) {
    Image image = Image::OneFde(c.program);
    const UnwindModule m = image.module();
    ASSERT_EQ(Describe(image.At(m, kText)), c.rule);
    CfiRules rules;
    EXPECT_EQ(FindCounted(rules, image, m, kText).first, c.rule);
    EXPECT_EQ(FindCounted(rules, image, m, kText),
              std::make_pair(c.rule, !c.cached));
  }
}

TEST(CfiRulesCacheTest, FlushForgetsTheRulesOfUnloadedCode) {
  // The cache is keyed by address: after a dlclose, another module's code
  // may sit at the same address, with another rule.
  Image old_code = Image::OneFde({kDefCfaOffset, 16});
  Image new_code = Image::OneFde({kDefCfaOffset, 32});
  CfiRules rules;
  EXPECT_EQ(FindCounted(rules, old_code, old_code.module(), kText).first,
            "cfa=rsp+16 ra@-8 rbp=same");
  rules.Flush();
  EXPECT_EQ(FindCounted(rules, new_code, new_code.module(), kText),
            std::make_pair(std::string("cfa=rsp+32 ra@-8 rbp=same"), true));
  EXPECT_EQ(FindCounted(rules, new_code, new_code.module(), kText),
            std::make_pair(std::string("cfa=rsp+32 ra@-8 rbp=same"), false));
}

// 1,024 pcs from kText + 8 on whose rules alternate between four CFA
// offsets, every 8 bytes: more pcs than the cache's hot page holds, so its
// entries are overwritten by pcs with other rules. (One FDE program holds
// at most 512 bytes.)
constexpr int kAlternatingPcs = 1024;
constexpr uint64_t kFirstAlternatingPc = kText + 8;

Image AlternatingRules() {
  Bytes program;
  for (int i = 0; i < kAlternatingPcs / 8; ++i) {
    program = program + Bytes{AdvanceLoc(8), kDefCfaOffset,
                              static_cast<uint8_t>(16 + 8 * (i % 4))};
  }
  return Image::OneFde(program, 8 + kAlternatingPcs);
}

bool SameRule(const FrameRule& a, const FrameRule& b) {
  return a.supported == b.supported && a.outermost == b.outermost &&
         a.cfa_is_rbp == b.cfa_is_rbp && a.cfa_offset == b.cfa_offset &&
         a.ra_offset == b.ra_offset && a.rbp_saved == b.rbp_saved &&
         a.rbp_offset == b.rbp_offset;
}

TEST(CfiRulesCacheTest, RulesPushedOutOfTheHotPageComeBackFromTheTable) {
  Image image = AlternatingRules();
  const UnwindModule m = image.module();
  std::set<std::string> distinct;
  for (int i = 0; i < kAlternatingPcs; ++i) {
    distinct.insert(Describe(image.At(m, kFirstAlternatingPc + i)));
  }
  ASSERT_EQ(distinct.size(), 4u);
  CfiRules rules;
  for (int round = 0; round < 3; ++round) {
    for (uint64_t pc = kFirstAlternatingPc;
         pc < kFirstAlternatingPc + kAlternatingPcs; ++pc) {
      const std::string computed = Describe(image.At(m, pc));
      EXPECT_EQ(FindCounted(rules, image, m, pc),
                std::make_pair(computed, round == 0))
          << "pc +" << pc - kText << ", round " << round;
    }
  }
}

// The hot page is overwritten without a lock: a reader racing the writer
// of its entry must get a miss, never its pc paired with another's rule.
// Two pcs with different rules that share an entry, looked up by two
// threads in turn, overwrite it on nearly every lookup.
TEST(CfiRulesCacheTest, ConcurrentLookupsNeverGetAnotherPcsRule) {
  Image image = AlternatingRules();
  const UnwindModule m = image.module();
  const uint64_t a = kFirstAlternatingPc;
  uint64_t b = 0;
  for (uint64_t pc = a + 1; pc < a + kAlternatingPcs && b == 0; ++pc) {
    if (CfiRules::HotSlot(pc) == CfiRules::HotSlot(a) &&
        !SameRule(image.At(m, pc), image.At(m, a))) {
      b = pc;
    }
  }
  ASSERT_NE(b, 0u) << "no pc shares the hot entry of the first";
  const FrameRule rule_a = image.At(m, a);
  const FrameRule rule_b = image.At(m, b);
  CfiRules rules;
  rules.Find(m, a, &Image::Read, &image);  // both in the table now
  rules.Find(m, b, &Image::Read, &image);
  const int reads_before = image.reads();
  auto look_up = [&](uint64_t pc, const FrameRule& expected, int* wrong) {
    for (int round = 0; round < 1000000; ++round) {
      if (!SameRule(rules.Find(m, pc, &Image::Read, &image), expected)) {
        ++*wrong;
      }
    }
  };
  int wrong_a = 0, wrong_b = 0;
  std::thread other(look_up, b, std::cref(rule_b), &wrong_b);
  look_up(a, rule_a, &wrong_a);
  other.join();
  EXPECT_EQ(wrong_a + wrong_b, 0);
  // Every lookup was cached (Image::Read is not thread-safe).
  EXPECT_EQ(image.reads(), reads_before);
}

// ---------------------------------------------------------------------------
// This binary's own CFI, as the compiler wrote it.

bool ReadOwnMemory(uint64_t address, void* out, size_t length,
                   void* arg) noexcept {
  const auto* map = static_cast<const AddressMap*>(arg);
  if (!map->IsReadable(address, length)) return false;
  std::memcpy(out, reinterpret_cast<const void*>(address), length);
  return true;
}

// What a live frame of this binary says about itself: the rule Compute
// gives for the pc getcontext returned to, the word that rule designates
// as the return address (read while the frame still exists) and the real
// return address.
struct OwnFrame {
  FrameRule rule;
  bool ra_slot_read = false;
  uint64_t ra_slot = 0;
  uint64_t return_address = 0;
};

// Follows the rule from the captured registers as the walker does
// (agent/unwind/unwind.cc): CFA = RSP or RBP + offset, RA at CFA + k.
__attribute__((noinline)) void FollowRule(const AddressMap& map,
                                          const ucontext_t& context,
                                          OwnFrame* out) {
  const greg_t* regs = context.uc_mcontext.gregs;
  const uint64_t pc = regs[REG_RIP];
  const UnwindModule* module = map.ModuleFor(pc);
  if (module == nullptr) return;
  void* arg = const_cast<AddressMap*>(&map);
  out->rule = CfiRules::Compute(*module, pc, &ReadOwnMemory, arg);
  if (!out->rule.supported || out->rule.outermost) return;
  const uint64_t cfa =
      regs[out->rule.cfa_is_rbp ? REG_RBP : REG_RSP] + out->rule.cfa_offset;
  out->ra_slot_read =
      ReadOwnMemory(cfa + out->rule.ra_offset, &out->ra_slot, 8, arg);
}

__attribute__((noinline)) void CaptureOwnFrame(const AddressMap& map,
                                               OwnFrame* out) {
  ucontext_t context;
  getcontext(&context);
  FollowRule(map, context, out);
  out->return_address = reinterpret_cast<uint64_t>(__builtin_return_address(0));
  asm volatile("" ::: "memory");  // not a tail call
}

// A variable-size alloca makes every x86-64 compiler keep a frame pointer.
__attribute__((noinline)) void CaptureFramePointerFrame(const AddressMap& map,
                                                        size_t scratch,
                                                        OwnFrame* out) {
  volatile char* buffer = static_cast<volatile char*>(alloca(scratch));
  buffer[0] = 1;
  ucontext_t context;
  getcontext(&context);
  FollowRule(map, context, out);
  out->return_address = reinterpret_cast<uint64_t>(__builtin_return_address(0));
  buffer[scratch - 1] = 2;
  asm volatile("" ::: "memory");
}

FrameRule EntryRule(const AddressMap& map, uint64_t function) {
  const UnwindModule* module = map.ModuleFor(function);
  if (module == nullptr) return FrameRule();
  return CfiRules::Compute(*module, function, &ReadOwnMemory,
                           const_cast<AddressMap*>(&map));
}

TEST(CfiRulesOwnBinaryTest, RuleInsideAFunctionLeadsToItsReturnAddress) {
  std::unique_ptr<AddressMap> map = AddressMap::Build();
  OwnFrame frame;
  CaptureOwnFrame(*map, &frame);
  ASSERT_TRUE(frame.rule.supported);
  ASSERT_FALSE(frame.rule.outermost);
  EXPECT_EQ(frame.rule.ra_offset, -8);
  ASSERT_TRUE(frame.ra_slot_read) << Describe(frame.rule);
  EXPECT_EQ(frame.ra_slot, frame.return_address) << Describe(frame.rule);
  // At the first byte the call has just pushed the return address.
  EXPECT_EQ(
      Describe(EntryRule(*map, reinterpret_cast<uint64_t>(&CaptureOwnFrame))),
      kEntry);
}

TEST(CfiRulesOwnBinaryTest, FramePointerFunctionIsDescribedThroughRbp) {
  std::unique_ptr<AddressMap> map = AddressMap::Build();
  OwnFrame frame;
  CaptureFramePointerFrame(*map, 64 + (map->modules() & 1), &frame);
  // push %rbp; mov %rsp,%rbp: the standard frame, whatever the compiler.
  EXPECT_EQ(Describe(frame.rule), "cfa=rbp+16 ra@-8 rbp@-16");
  ASSERT_TRUE(frame.ra_slot_read);
  EXPECT_EQ(frame.ra_slot, frame.return_address);
  EXPECT_EQ(Describe(EntryRule(
                *map, reinterpret_cast<uint64_t>(&CaptureFramePointerFrame))),
            kEntry);
}

TEST(CfiRulesOwnBinaryTest, EveryFdeOfThisBinary) {
  // Every FDE of this executable, at its first byte. Most are function
  // entries (CFA = RSP + 8, RA at CFA - 8, RBP untouched); the others are
  // the PLT and the cold parts GCC splits off (.text.unlikely), which start
  // with their parent's frame. On x86-64 the return address is always just
  // below the CFA, and Compute must support nearly all of them: only the
  // PLT's DWARF expression is beyond it.
  std::unique_ptr<AddressMap> map = AddressMap::Build();
  const UnwindModule* module =
      map->ModuleFor(reinterpret_cast<uint64_t>(&CaptureOwnFrame));
  ASSERT_NE(module, nullptr);
  ASSERT_GT(module->fde_count, 100u);
  void* arg = map.get();
  std::vector<std::pair<uint64_t, std::string>> histogram;
  uint64_t supported = 0, entries = 0;
  for (uint64_t i = 0; i < module->fde_count; ++i) {
    int32_t initial = 0;
    ASSERT_TRUE(ReadOwnMemory(module->fde_table + i * 8, &initial, 4, arg));
    const uint64_t pc = module->eh_frame_hdr + static_cast<int64_t>(initial);
    const FrameRule rule = CfiRules::Compute(*module, pc, &ReadOwnMemory, arg);
    const std::string got = Describe(rule);
    auto it = std::find_if(histogram.begin(), histogram.end(),
                           [&](const auto& e) { return e.second == got; });
    if (it == histogram.end()) {
      histogram.push_back({1, got});
    } else {
      ++it->first;
    }
    supported += rule.supported;
    entries += got == kEntry;
    if (rule.supported && !rule.outermost) {
      EXPECT_EQ(rule.ra_offset, -8) << "FDE " << i << ": " << got;
      EXPECT_GE(rule.cfa_offset, 8) << "FDE " << i << ": " << got;
    }
  }
  std::sort(histogram.rbegin(), histogram.rend());
  std::string summary;
  for (const auto& [count, rule] : histogram) {
    summary += "\n  " + std::to_string(count) + " x " + rule;
  }
  EXPECT_GE(supported * 100, module->fde_count * 99) << summary;
  EXPECT_GE(entries * 100, module->fde_count * 60) << summary;
  EXPECT_EQ(histogram.front().second, kEntry) << summary;
}

// ---------------------------------------------------------------------------
// The fuzzer's seed corpus.
//
// tests/fuzz/cfi_fuzzer.cc input: a little-endian int32 pc offset from
// kBase, then the module image loaded at kBase (.eh_frame_hdr first).

struct Seed {
  std::string name;
  Bytes input;
  std::string rule;  // Compute's answer at the seed's pc
};

Seed MakeSeed(std::string name, Image& image, uint64_t pc) {
  const UnwindModule m = image.module();
  Seed seed{std::move(name), {}, Describe(image.At(m, pc))};
  PutFixed(seed.input, static_cast<uint32_t>(pc - kBase), 4);
  seed.input = seed.input + image.bytes();
  return seed;
}

std::vector<Seed> FuzzSeeds() {
  std::vector<Seed> seeds;
  {
    Image image(1);
    FdeSpec fde;
    fde.program = Bytes{AdvanceLoc(1), kDefCfaOffset, 16, Offset(kRbp), 2} +
                  Bytes{AdvanceLoc(3), kDefCfaRegister, kRbp} +
                  Bytes{AdvanceLoc(20), kDefCfa, kRsp, 8};
    image.AddFde(image.AddCie(), kText, 0x40, fde);
    seeds.push_back(MakeSeed("frame_pointer", image, kText + 8));
  }
  {
    Image image(1);
    CieSpec cie;
    cie.version = 3;
    cie.code_align = 4;
    cie.augmentation = "zPLR";
    cie.augmentation_data = {
        kIndirect | kPcrelSdata4, 1, 2, 3, 4, kPcrelSdata4, kPcrelSdata4};
    FdeSpec fde;
    fde.augmentation_data = {5, 6, 7, 8};
    fde.program = Bytes{AdvanceLoc(1), kDefCfaOffsetSf} + Sleb(-2) +
                  Bytes{kOffsetExtendedSf, kRbp} + Sleb(2) +
                  Bytes{kAdvanceLoc1, 2, kRememberState} +
                  Bytes{kDefCfaOffset, 8, Restore(kRbp)} +
                  Bytes{kAdvanceLoc2, 1, 0, kRestoreState, kGnuArgsSize, 16} +
                  Bytes{kAdvanceLoc4, 1, 0, 0, 0, kNop, kNop};
    image.AddFde(image.AddCie(cie), kText, 0x100, fde);
    seeds.push_back(MakeSeed("states_and_augmentations", image, kText + 16));
  }
  {
    Image image(3);
    const uint64_t pcrel = image.AddCie();
    CieSpec absolute;
    absolute.augmentation_data = {kUdata8};
    const uint64_t abs = image.AddCie(absolute);
    FdeSpec a, b, c;
    a.program = {kExpression,   kRbx,      2,    0x77,
                 0x08,          kRegister, kR12, kRbx,
                 AdvanceLoc(4), kDefCfa,   kRbp, 16};
    b.encoding = kUdata8;
    b.program = {AdvanceLoc(2), kUndefined, kRa};
    c.program = {kDefCfaExpression, 2, 0x77, 0x08};
    image.AddFde(pcrel, kText, 0x20, a);
    image.AddFde(abs, kText + 0x20, 0x20, b);
    image.AddFde(pcrel, kText + 0x40, 0x20, c);
    seeds.push_back(MakeSeed("three_functions", image, kText + 0x22));
  }
  return seeds;
}

#ifdef INPROF_CFI_CORPUS_DIR
// Run by hand to rewrite the corpus after changing FuzzSeeds():
//   cfi_rules_test --gtest_also_run_disabled_tests
//       --gtest_filter='*WriteFuzzSeeds'
TEST(CfiFuzzCorpusTest, DISABLED_WriteFuzzSeeds) {
  for (const Seed& seed : FuzzSeeds()) {
    std::ofstream out(std::string(INPROF_CFI_CORPUS_DIR) + "/" + seed.name,
                      std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seed.input.data()),
              static_cast<std::streamsize>(seed.input.size()));
    ASSERT_TRUE(out.good()) << seed.name;
  }
}

TEST(CfiFuzzCorpusTest, FuzzSeedsStillDecode) {
  // Decoded the way cfi_fuzzer.cc decodes its input.
  for (const Seed& seed : FuzzSeeds()) {
    SCOPED_TRACE(seed.name);
    std::ifstream in(std::string(INPROF_CFI_CORPUS_DIR) + "/" + seed.name,
                     std::ios::binary);
    ASSERT_TRUE(in.good());
    const Bytes input((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    EXPECT_EQ(input, seed.input);
    ASSERT_GE(input.size(), 16u);
    int32_t pc_offset = 0;
    uint32_t count = 0;
    std::memcpy(&pc_offset, input.data(), 4);
    std::memcpy(&count, input.data() + 4 + 8, 4);
    Image image(0);
    image.bytes().assign(input.begin() + 4, input.end());
    UnwindModule m;
    m.eh_frame_hdr = kBase;
    m.fde_table = kBase + 12;
    m.fde_count = count;
    const FrameRule rule = image.At(m, kBase + pc_offset);
    EXPECT_EQ(Describe(rule), seed.rule);
    EXPECT_TRUE(rule.supported);
  }
}
#endif  // INPROF_CFI_CORPUS_DIR

}  // namespace
}  // namespace inprof::internal
