// GPT-2's pre-tokenizer regex and the byte-to-unicode table, on hand-checkable examples.
#include "gdpo/tokenizer/pretokenizer.hpp"

#include <gtest/gtest.h>

#include "gdpo/tokenizer/byte_level.hpp"
#include "tokenizer/pretokens.hpp"

namespace gdpo::tokenizer {
namespace {

using fixture::pieces;

using Strings = std::vector<std::string>;

TEST(Gpt2PreTokenizer, SplitsWordsNumbersPunctuationAndContractions) {
  EXPECT_EQ(pieces("Hello world"), (Strings{"Hello", " world"}));
  EXPECT_EQ(pieces("I'm here, it's 2024!"),
            (Strings{"I", "'m", " here", ",", " it", "'s", " 2024", "!"}));
  EXPECT_EQ(pieces("x=1.5"), (Strings{"x", "=", "1", ".", "5"}));
  EXPECT_EQ(pieces(""), Strings{});
}

TEST(Gpt2PreTokenizer, WhitespaceRunsLeaveOneSpaceForTheNextWord) {
  EXPECT_EQ(pieces("a   b"), (Strings{"a", "  ", " b"}));
  EXPECT_EQ(pieces("a\n\n b"), (Strings{"a", "\n\n", " b"}));
  EXPECT_EQ(pieces("end  \n"), (Strings{"end", "  \n"}));
  EXPECT_EQ(pieces("a\r\nb\tc"), (Strings{"a", "\r", "\n", "b", "\t", "c"}));
}

TEST(Gpt2PreTokenizer, UnicodeLettersAndMarks) {
  EXPECT_EQ(pieces("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87"),  // café 中文
            (Strings{"caf\xc3\xa9", " \xe4\xb8\xad\xe6\x96\x87"}));
  // A combining mark (U+0301, category Mn) is neither a letter nor a number.
  EXPECT_EQ(pieces("e\xcc\x81"), (Strings{"e", "\xcc\x81"}));
}

TEST(Gpt2PreTokenizer, InvalidUtf8RunsArePiecesOfTheirOwn) {
  EXPECT_EQ(pieces("ab\xff\xfe" "cd"), (Strings{"ab", "\xff\xfe", "cd"}));
  EXPECT_EQ(pieces("\xe2\x82"), (Strings{"\xe2\x82"}));
  EXPECT_EQ(pieces(" x\xc3"), (Strings{" x", "\xc3"}));
  std::string all;
  for (auto& p : pieces("a \xff b\x80\x80  c")) all += p;
  EXPECT_EQ(all, "a \xff b\x80\x80  c");
}

TEST(ByteLevel, Gpt2ByteToUnicodeTable) {
  const auto& chars = byte_level_chars();
  EXPECT_EQ(chars['A'], "A");
  EXPECT_EQ(chars[' '], "\xc4\xa0");   // Ġ U+0120
  EXPECT_EQ(chars['\n'], "\xc4\x8a");  // Ċ U+010A
  EXPECT_EQ(chars[0], "\xc4\x80");     // Ā U+0100
  EXPECT_EQ(chars[0xAD], "\xc5\x83");  // Ń U+0143, the last one
  EXPECT_EQ(chars[0xE9], "\xc3\xa9");  // é stands for itself
  std::string bytes;
  ASSERT_TRUE(byte_level_to_bytes("\xc4\xa0the", bytes));
  EXPECT_EQ(bytes, " the");
  EXPECT_FALSE(byte_level_to_bytes(" the", bytes));  // a raw space is not in the alphabet
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  ASSERT_TRUE(byte_level_to_bytes(bytes_to_byte_level(all), bytes));
  EXPECT_EQ(bytes, all);
}

}  // namespace
}  // namespace gdpo::tokenizer
