// FNV-1a 64: the published test vectors, continuation from a seed, and the framing of add() (length
// prefixes, little-endian integers) checked against values computed by hand (see each comment).
#include "gdpo/core/hash.hpp"

#include <gtest/gtest.h>

namespace gdpo {
namespace {

TEST(Fnv1a, PublishedTestVectors) {
  // http://www.isthe.com/chongo/tech/comp/fnv/ (FNV-1a 64-bit).
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
  EXPECT_EQ(Fnv1a::kOffsetBasis, 14695981039346656037ull);
  EXPECT_EQ(Fnv1a::kPrime, 1099511628211ull);
}

TEST(Fnv1a, HexIsSixteenLowercaseDigits) {
  EXPECT_EQ(hex64(0xcbf29ce484222325ull), "cbf29ce484222325");
  EXPECT_EQ(hex64(0x2a), "000000000000002a");
  EXPECT_EQ(Fnv1a().hex(), "cbf29ce484222325");  // nothing added: the offset basis
}

TEST(Fnv1a, SeedContinuesAHash) {
  EXPECT_EQ(fnv1a64("bar", fnv1a64("foo")), fnv1a64("foobar"));
  EXPECT_EQ(Fnv1a().add_bytes("foo", 3).add_bytes("bar", 3).value(), fnv1a64("foobar"));
  EXPECT_EQ(Fnv1a(fnv1a64("foo")).add_bytes("bar", 3).value(), fnv1a64("foobar"));
}

TEST(Fnv1a, IntegersAreEightLittleEndianBytes) {
  EXPECT_EQ(Fnv1a().add(uint64_t{0}).value(), fnv1a64(std::string(8, '\0')));
  EXPECT_EQ(Fnv1a().add(uint64_t{0x0102}).value(), fnv1a64(std::string("\x02\x01\0\0\0\0\0\0", 8)));
  EXPECT_EQ(Fnv1a().add(uint64_t{0}).hex(), "a8c7f832281a39c5");
}

TEST(Fnv1a, StringsAreLengthPrefixed) {
  // add("ab") hashes the 8 bytes of the length 2, then "ab".
  EXPECT_EQ(Fnv1a().add("ab").value(), fnv1a64(std::string("\x02\0\0\0\0\0\0\0ab", 10)));
  EXPECT_EQ(Fnv1a().add("ab").add("c").hex(), "7e60470bf599cad6");
  EXPECT_EQ(Fnv1a().add("a").add("bc").hex(), "ba1e1f0e0704d8ea");
}

TEST(Fnv1a, VectorsAreCountThenElements) {
  const std::vector<int32_t> v = {1, 2};
  Fnv1a expected;
  expected.add(uint64_t{2});
  for (int32_t x : v) expected.add_bytes(&x, sizeof x);
  EXPECT_EQ(Fnv1a().add(v).value(), expected.value());
  EXPECT_EQ(Fnv1a().add(std::vector<int32_t>{}).value(), Fnv1a().add(uint64_t{0}).value());
}

}  // namespace
}  // namespace gdpo
