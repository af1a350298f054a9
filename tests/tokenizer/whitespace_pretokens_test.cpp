// GPT-2's pre-tokenizer against the reference (OpenAI's encoder.py pattern run by the `regex` package)
// on texts around every whitespace-like code point: \s is Unicode's White_Space, so U+180E MONGOLIAN
// VOWEL SEPARATOR (whitespace to PCRE2's own \s) is not whitespace, nor U+200B, U+FEFF, U+2060...
#include <gtest/gtest.h>

#include "gdpo/tokenizer/pretokenizer.hpp"
#include "tokenizer/whitespace_cases.hpp"
#include "tokenizer/pretokens.hpp"

namespace gdpo::tokenizer {
namespace {

using Strings = std::vector<std::string>;

using fixture::pieces;

// The UTF-8 of code point `cp`.
std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// Unicode's White_Space property, but U+0020 (tested everywhere else).
const std::vector<uint32_t> kWhiteSpace = {0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x85,
                                           0xA0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
                                           0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
                                           0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
// Whitespace once or elsewhere, not White_Space now.
const std::vector<uint32_t> kNotWhiteSpace = {0x1C,   0x1D,   0x1E,   0x1F,  0x180E,
                                              0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF};

TEST(Gpt2PreTokenizer, MongolianVowelSeparatorIsNotWhitespace) {
  const std::string mvs = "\xe1\xa0\x8e";  // U+180E
  EXPECT_EQ(pieces("a" + mvs + "b"), (Strings{"a", mvs, "b"}));
  EXPECT_EQ(pieces("a " + mvs + "b"), (Strings{"a", " " + mvs, "b"}));
  EXPECT_EQ(pieces("x " + mvs), (Strings{"x", " " + mvs}));
  EXPECT_EQ(pieces("a" + mvs + " b"), (Strings{"a", mvs, " b"}));
  EXPECT_EQ(pieces("1" + mvs + "2"), (Strings{"1", mvs, "2"}));
  EXPECT_EQ(pieces(mvs + mvs + " "), (Strings{mvs + mvs, " "}));
}

TEST(Gpt2PreTokenizer, WhitespaceIsExactlyUnicodeWhiteSpace) {
  for (uint32_t cp : kWhiteSpace) {
    const std::string w = utf8(cp);
    // A space before whitespace stays alone; two whitespace characters leave the space to "b".
    EXPECT_EQ(pieces("a " + w + "b"), (Strings{"a", " ", w, "b"})) << std::hex << "U+" << cp;
    EXPECT_EQ(pieces("a" + w + w + " b"), (Strings{"a", w + w, " b"})) << std::hex << "U+" << cp;
  }
  for (uint32_t cp : kNotWhiteSpace) {
    const std::string w = utf8(cp);
    // Not whitespace, not a letter or digit: punctuation-like, joining the space before it.
    EXPECT_EQ(pieces("a " + w + "b"), (Strings{"a", " " + w, "b"})) << std::hex << "U+" << cp;
  }
  EXPECT_EQ(pieces("a \xe3\x80\x80" "b"), (Strings{"a", " ", "\xe3\x80\x80", "b"}));  // U+3000
  EXPECT_EQ(pieces("x\xe2\x80\x8b y"), (Strings{"x", "\xe2\x80\x8b", " y"}));        // U+200B
}

TEST(Gpt2PreTokenizer, WhitespaceTextsSplitAsTheReference) {
  const auto& cases = testing::whitespace_cases();
  ASSERT_GT(cases.size(), 1000u) << "cannot read " << testing::whitespace_cases_path()
                                 << " (make_whitespace_pretokens.py writes it)";
  size_t mismatches = 0;
  for (const auto& c : cases) {
    const Strings got = pieces(c.text);
    if (got == c.pieces) continue;
    if (++mismatches <= 20)
      ADD_FAILURE() << "text " << testing::escaped(c.text) << ": got " << testing::escaped(got)
                    << ", the reference " << testing::escaped(c.pieces);
  }
  EXPECT_EQ(mismatches, 0u) << "of " << cases.size() << " texts";
}

TEST(Gpt2PreTokenizer, RulesNameThePatternAndUnicodeVersion) {
  const std::string rules = Gpt2PreTokenizer::rules();
  EXPECT_NE(rules.find(Gpt2PreTokenizer::pattern()), std::string::npos);
  EXPECT_NE(rules.find("Unicode"), std::string::npos) << rules;
  // No \s or \S of PCRE2's own: the White_Space class is spelled out.
  const std::string pattern = Gpt2PreTokenizer::pattern();
  EXPECT_EQ(pattern.find("\\s"), std::string::npos) << pattern;
  EXPECT_EQ(pattern.find("\\S"), std::string::npos) << pattern;
}

}  // namespace
}  // namespace gdpo::tokenizer
