// replace_invalid_utf8 against Python 3's bytes.decode("utf-8", "replace") on the cases the
// standard's maximal-subpart rule distinguishes (expected strings printed by Python, quoted).
#include <gtest/gtest.h>

#include "gdpo/core/utf8.hpp"

namespace gdpo {
namespace {

const std::string R = "\xEF\xBF\xBD";  // U+FFFD

TEST(Utf8, InvalidSubpartsBecomeOneReplacementEach) {
  EXPECT_EQ(replace_invalid_utf8("plain ascii"), "plain ascii");
  EXPECT_EQ(replace_invalid_utf8("\xE2\x82\xAC"), "\xE2\x82\xAC");              // '€' kept
  EXPECT_EQ(replace_invalid_utf8("\xF0\x9F\x98\x80x\xFF"), "\xF0\x9F\x98\x80x" + R);  // '😀x�'
  EXPECT_EQ(replace_invalid_utf8("a\xF0\x9F\x98"), "a" + R);                   // 'a�'
  EXPECT_EQ(replace_invalid_utf8("\xE2\x82"), R);                              // '�'
  EXPECT_EQ(replace_invalid_utf8("\xC0\xAF"), R + R);                          // '��'
  EXPECT_EQ(replace_invalid_utf8("\xED\xA0\x80"), R + R + R);                  // '���' (surrogate)
  EXPECT_EQ(replace_invalid_utf8("\xE0\x80\xAF"), R + R + R);                  // '���' (overlong)
  EXPECT_EQ(replace_invalid_utf8("\xF4\x90\x80\x80"), R + R + R + R);          // beyond U+10FFFF
  EXPECT_EQ(replace_invalid_utf8("\xF1\x80z"), R + "z");                       // '�z'
  EXPECT_EQ(replace_invalid_utf8(std::string("a\0b", 3)), std::string("a\0b", 3));  // NUL is valid
}

}  // namespace
}  // namespace gdpo
