// NFC normalization by hand-checkable cases: composition, singletons, canonical reordering, Hangul,
// blocking, and invalid UTF-8 passing through untouched.
#include "gdpo/tokenizer/unicode_nfc.hpp"

#include <gtest/gtest.h>

namespace gdpo::tokenizer {
namespace {

TEST(UnicodeNfc, ComposesBaseAndCombiningMark) {
  EXPECT_EQ(nfc("e\xcc\x81"), "\xc3\xa9");          // e + U+0301 -> é U+00E9
  EXPECT_EQ(nfc("caf\x65\xcc\x81!"), "caf\xc3\xa9!");
  EXPECT_EQ(nfc("\xc3\xa9"), "\xc3\xa9");           // already composed
  EXPECT_EQ(nfc("q\xcc\x81"), "q\xcc\x81");         // no precomposed q-acute exists
}

TEST(UnicodeNfc, ReplacesSingletons) {
  EXPECT_EQ(nfc("\xe2\x84\xab"), "\xc3\x85");  // ANGSTROM SIGN U+212B -> Å U+00C5
  EXPECT_EQ(nfc("\xe2\x84\xa6"), "\xce\xa9");  // OHM SIGN U+2126 -> Ω U+03A9
}

TEST(UnicodeNfc, ReordersMarksByCombiningClassThenComposes) {
  // a + circumflex U+0302 (class 230) + dot below U+0323 (class 220) -> ậ U+1EAD
  EXPECT_EQ(nfc("a\xcc\x82\xcc\xa3"), "\xe1\xba\xad");
  EXPECT_EQ(nfc("a\xcc\xa3\xcc\x82"), "\xe1\xba\xad");
}

TEST(UnicodeNfc, ComposesHangulJamo) {
  // U+1100 U+1161 U+11A8 -> 각 U+AC01; U+1100 U+1161 -> 가 U+AC00
  EXPECT_EQ(nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"), "\xea\xb0\x81");
  EXPECT_EQ(nfc("\xe1\x84\x80\xe1\x85\xa1"), "\xea\xb0\x80");
}

TEST(UnicodeNfc, InvalidBytesPassThroughAndBlockComposition) {
  EXPECT_EQ(nfc("e\xff\xcc\x81"), "e\xff\xcc\x81");
  EXPECT_EQ(nfc("\xe2\x82"), "\xe2\x82");  // truncated sequence
  EXPECT_EQ(nfc("\xc0\xaf"), "\xc0\xaf");  // overlong '/'
}

TEST(UnicodeNfc, QuickCheck) {
  EXPECT_TRUE(nfc_quick_check("plain ASCII\n"));
  EXPECT_TRUE(nfc_quick_check("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87"));  // café 中文
  EXPECT_FALSE(nfc_quick_check("e\xcc\x81"));                          // a mark that may compose
  EXPECT_FALSE(nfc_quick_check("\xe2\x84\xab"));                       // a singleton
  EXPECT_TRUE(nfc_quick_check("\xff\xfe"));
}

}  // namespace
}  // namespace gdpo::tokenizer
