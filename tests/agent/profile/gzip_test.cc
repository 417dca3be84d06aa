#include "agent/profile/gzip.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(GzipTest, RoundTripsEmptySmallAndLargeInputs) {
  for (const std::string& data :
       {std::string(), std::string("hello, pprof"), RandomBytes(1 << 20, 1),
        std::string(3 << 20, 'a')}) {
    StatusOr<std::string> back = Gunzip(Gzip(data));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, data);
  }
}

TEST(GzipTest, WritesGzipHeaderWithDeflate) {
  std::string z = Gzip("abc");
  ASSERT_GE(z.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(z[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(z[1]), 0x8b);
  EXPECT_EQ(z[2], 8);  // CM = deflate
  EXPECT_TRUE(IsGzip(z));
  EXPECT_FALSE(IsGzip("abc"));
  EXPECT_FALSE(IsGzip("\x1f"));
}

TEST(GzipTest, AllLevelsRoundTrip) {
  std::string data = RandomBytes(10000, 2) + std::string(10000, 'z');
  for (int level = -3; level <= 12; ++level) {
    StatusOr<std::string> back = Gunzip(Gzip(data, level));
    ASSERT_TRUE(back.ok()) << "level " << level;
    EXPECT_EQ(*back, data);
  }
}

TEST(GzipTest, RejectsInputWithoutMagic) {
  StatusOr<std::string> r = Gunzip("not gzip at all");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("missing magic bytes 1f 8b"));
}

TEST(GzipTest, RejectsEveryTruncation) {
  std::string z = Gzip(RandomBytes(5000, 3));
  for (size_t n = 0; n < z.size(); ++n) {
    StatusOr<std::string> r = Gunzip(std::string_view(z).substr(0, n));
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes";
  }
}

TEST(GzipTest, RejectsCorruptInput) {
  std::string z = Gzip(std::string(1000, 'q'));
  z[z.size() - 6] ^= 0x55;  // Inside the CRC32 trailer.
  StatusOr<std::string> r = Gunzip(z);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("gzip: corrupt input"));
}

TEST(GzipTest, StopsAtTheSizeCap) {
  StatusOr<std::string> r = Gunzip(Gzip(std::string(1 << 20, 'a')), 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("decompressed size exceeds 1000 bytes"));
}

TEST(GzipTest, DecompressesConcatenatedMembers) {
  StatusOr<std::string> r = Gunzip(Gzip("abc") + Gzip("def"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "abcdef");
}

TEST(GzipTest, RejectsTrailingGarbage) {
  StatusOr<std::string> r = Gunzip(Gzip("abc") + "garbage");
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace inprof::internal
