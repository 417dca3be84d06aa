#include "agent/profile/proto_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace inprof::internal {
namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string VarintHex(uint64_t v) {
  ProtoWriter w;
  w.Varint(v);
  return Hex(w.data());
}

TEST(ProtoWriterTest, VarintEncodesBoundaryValues) {
  EXPECT_EQ(VarintHex(0), "00");
  EXPECT_EQ(VarintHex(1), "01");
  EXPECT_EQ(VarintHex(127), "7f");
  EXPECT_EQ(VarintHex(128), "8001");
  EXPECT_EQ(VarintHex(300), "ac02");
  EXPECT_EQ(VarintHex(16383), "ff7f");
  EXPECT_EQ(VarintHex(16384), "808001");
  EXPECT_EQ(VarintHex(uint64_t{1} << 63), "80808080808080808001");
  EXPECT_EQ(VarintHex(std::numeric_limits<uint64_t>::max()),
            "ffffffffffffffffff01");
}

TEST(ProtoWriterTest, NegativeInt64IsTenByteTwosComplementNotZigzag) {
  ProtoWriter w;
  w.Int64(1, -1);
  EXPECT_EQ(Hex(w.data()), "08ffffffffffffffffff01");
  ProtoWriter min;
  min.Int64(2, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(Hex(min.data()), "1080808080808080808001");
}

TEST(ProtoWriterTest, KeyCombinesFieldNumberAndWireType) {
  ProtoWriter w;
  w.Uint64(15, 1);  // (15 << 3) | 0 = 0x78
  w.Uint64(16, 1);  // (16 << 3) | 0 = 0x80: a two-byte key
  EXPECT_EQ(Hex(w.data()), "7801800101");
}

TEST(ProtoWriterTest, OptVariantsSkipZeroValues) {
  ProtoWriter w;
  w.Uint64Opt(1, 0);
  w.Int64Opt(2, 0);
  w.BoolOpt(3, false);
  EXPECT_EQ(w.data(), "");
  w.Int64Opt(2, -1);
  w.BoolOpt(3, true);
  EXPECT_EQ(Hex(w.data()), "10ffffffffffffffffff011801");
}

TEST(ProtoWriterTest, NonOptVariantsWriteZeroValues) {
  ProtoWriter w;
  w.Uint64(1, 0);
  w.Bool(2, false);
  EXPECT_EQ(Hex(w.data()), "08001000");
}

TEST(ProtoWriterTest, PacksRepeatedFieldsWithMoreThanTwoValues) {
  ProtoWriter w;
  std::vector<uint64_t> values = {1, 2, 300};
  w.Uint64s(1, values);
  EXPECT_EQ(Hex(w.data()), "0a040102ac02");
  ProtoWriter s;
  std::vector<int64_t> signed_values = {-1, 0, 1};
  s.Int64s(2, signed_values);
  EXPECT_EQ(Hex(s.data()), "120cffffffffffffffffff010001");
}

TEST(ProtoWriterTest, WritesOneOrTwoRepeatedValuesUnpacked) {
  ProtoWriter w;
  std::vector<uint64_t> two = {1, 2};
  w.Uint64s(1, two);
  EXPECT_EQ(Hex(w.data()), "08010802");
  ProtoWriter none;
  none.Int64s(1, std::vector<int64_t>{});
  EXPECT_EQ(none.data(), "");
}

TEST(ProtoWriterTest, StringsAreLengthDelimitedEvenWhenEmpty) {
  ProtoWriter w;
  w.String(6, "");
  w.String(6, "ab");
  EXPECT_EQ(Hex(w.data()), "320032026162");
}

TEST(ProtoWriterTest, NestedMessagesArePrefixedWithKeyAndLength) {
  ProtoWriter w;
  size_t outer = w.StartMessage();
  w.Uint64(1, 5);
  size_t inner = w.StartMessage();
  w.Uint64(1, 7);
  w.EndMessage(4, inner);
  w.EndMessage(4, outer);
  // outer: key 0x22, length 6: [08 05] [22 02 [08 07]]
  EXPECT_EQ(Hex(w.data()), "2206080522020807");
}

TEST(ProtoWriterTest, LongNestedMessageGetsMultiByteLength) {
  ProtoWriter w;
  w.Uint64(1, 1);
  size_t start = w.StartMessage();
  w.String(1, std::string(200, 'x'));  // 2 + 1 + 200 = 203 bytes of body
  w.EndMessage(2, start);
  std::string hex = Hex(w.data());
  EXPECT_EQ(hex.substr(0, 14),
            "0801"
            "12"
            "cb01"
            "0a"
            "c8");
  EXPECT_EQ(w.data().size(), 2 + 1 + 2 + 203u);
}

TEST(ProtoWriterTest, FinishHandsOverTheBytes) {
  ProtoWriter w;
  w.Uint64(1, 1);
  std::string bytes = std::move(w).Finish();
  EXPECT_EQ(Hex(bytes), "0801");
}

}  // namespace
}  // namespace inprof::internal
