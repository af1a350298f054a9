// Parsing sampled responses as the authors' evaluate.py does: `op = int(pred[0])` (0 on failure),
// the first `<.*?>` match, and `pred.split(">")[1].strip()` (else `pred[1:]`).
#include "gdpo/eval/generation_parse.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"
#include "eval/parse_fixture.hpp"

namespace gdpo::eval {
namespace {

using fixture::opinion;

TEST(GenerationParse, DigitBracketsAndResponse) {
  const auto g = opinion("3<Somewhat good> I think it is fine.");
  EXPECT_TRUE(g.parsed);
  EXPECT_EQ(g.belief_id, 3);
  EXPECT_TRUE(g.has_text);
  EXPECT_EQ(g.belief_text, "Somewhat good");
  EXPECT_EQ(g.response, "I think it is fine.");
  EXPECT_EQ(authors_op(g), 3);
}

TEST(GenerationParse, LeadingWhitespaceBeforeTheDigit) {
  const auto g = opinion("  \t4<Yes>ok");
  EXPECT_TRUE(g.parsed);
  EXPECT_EQ(g.belief_id, 4);
  EXPECT_EQ(g.belief_text, "Yes");
  EXPECT_EQ(g.response, "ok");
  // U+3000 is Python whitespace too (str.strip()).
  EXPECT_EQ(opinion("\u30002<No>x").belief_id, 2);
}

TEST(GenerationParse, NonDigitFirstCharacter) {
  for (const std::string text : {"x<Yes>ok", "<Yes>ok", "-1<Yes>", "\u00e9<Yes>", "\u00b2<Yes>"}) {
    const auto g = opinion(text);
    EXPECT_FALSE(g.parsed) << text;
    EXPECT_EQ(g.belief_id, -1) << text;
    EXPECT_EQ(authors_op(g), 0) << text;  // their `except: op = 0`
    EXPECT_EQ(histogram_bin(g.belief_id, 6), 0) << text;
  }
  EXPECT_EQ(opinion("x<Yes>ok").belief_text, "Yes");
}

TEST(GenerationParse, UnicodeDecimalDigitsReadAsPythonsInt) {
  // int("\uff15") == 5 (fullwidth), int("\u0663") == 3 (Arabic-Indic); int("\u00b2") (superscript
  // two, not a decimal digit) raises, so op = 0 (above).
  EXPECT_EQ(opinion("\uff15<Yes> ok").belief_id, 5);
  EXPECT_EQ(opinion("\u0663<No> ok").belief_id, 3);
  const auto review = parse_generation("\uff14Fine", ResponseFormat::kReview);
  EXPECT_EQ(review.belief_id, 4);
  EXPECT_EQ(review.response, "Fine");
}

TEST(GenerationParse, HistogramBinSendsOutOfRangeToZero) {
  // get_js_distance: `if op > 5 or op < 0: bin 0`, generalised to K bins.
  const auto g = opinion("7<Yes> sure");
  EXPECT_EQ(g.belief_id, 7);
  EXPECT_EQ(authors_op(g), 7);
  EXPECT_EQ(histogram_bin(7, 6), 0);
  EXPECT_EQ(histogram_bin(7, 8), 7);
  EXPECT_EQ(histogram_bin(5, 6), 5);
  EXPECT_EQ(histogram_bin(0, 6), 0);
  EXPECT_EQ(histogram_bin(-1, 6), 0);
  EXPECT_THROW(histogram_bin(1, 0), Error);
}

TEST(GenerationParse, MissingBracketsFallBackToTheTextAfterTheFirstCharacter) {
  // No '<...>': no belief text. No '>': their `except: resp = pred[1:]`, not stripped.
  const auto g = opinion("3 no brackets here");
  EXPECT_EQ(g.belief_id, 3);
  EXPECT_FALSE(g.has_text);
  EXPECT_EQ(g.belief_text, "");
  EXPECT_EQ(g.response, " no brackets here");
  // With the "\n" their readlines() keeps, pred[1:] keeps it as well.
  EXPECT_EQ(opinion("3 yes.\n").response, " yes.\n");
  // pred[1:] drops one code point, not one byte.
  EXPECT_EQ(opinion("\u00e9abc").response, "abc");
  // An unclosed '<': no match; no '>' either.
  const auto u = opinion("5<unclosed text");
  EXPECT_FALSE(u.has_text);
  EXPECT_EQ(u.response, "<unclosed text");
}

TEST(GenerationParse, NestedAndMultipleBrackets) {
  // Non-greedy: from the first '<' to the first '>' after it.
  const auto nested = opinion("2<a <b> c> rest");
  EXPECT_EQ(nested.belief_text, "a <b");
  EXPECT_EQ(nested.response, "c");  // "2<a <b> c> rest".split(">")[1] == " c"
  const auto multiple = opinion("1<x> then <y> z");
  EXPECT_EQ(multiple.belief_text, "x");
  EXPECT_EQ(multiple.response, "then <y");
  // A '>' before any '<': the regex still finds "<b>"; the response is what follows that '>'.
  const auto early = opinion("4>a<b>c");
  EXPECT_EQ(early.belief_text, "b");
  EXPECT_EQ(early.response, "a<b");
  // Empty brackets: a match with empty text.
  const auto empty = opinion("3<> fine");
  EXPECT_TRUE(empty.has_text);
  EXPECT_EQ(empty.belief_text, "");
  EXPECT_EQ(empty.response, "fine");
  // Brackets keep inner spaces (no strip), and '.' does not cross '\n'.
  EXPECT_EQ(opinion("4< Yes >x").belief_text, " Yes ");
  const auto newline = opinion("3<a\nb> c <d>");
  EXPECT_TRUE(newline.has_text);
  EXPECT_EQ(newline.belief_text, "d");
  EXPECT_FALSE(opinion("3<a\nb> c").has_text);
}

TEST(GenerationParse, ReviewFormat) {
  const auto g = parse_generation("4Great film, loved it. ", ResponseFormat::kReview);
  EXPECT_TRUE(g.parsed);
  EXPECT_EQ(g.belief_id, 4);
  EXPECT_FALSE(g.has_text);
  EXPECT_EQ(g.response, "Great film, loved it.");
  // Review HTML is not a belief.
  const auto html = parse_generation(" 2 <br />Dull.<br /><br />Skip", ResponseFormat::kReview);
  EXPECT_EQ(html.belief_id, 2);
  EXPECT_FALSE(html.has_text);
  EXPECT_EQ(html.response, "<br />Dull.<br /><br />Skip");
  const auto none = parse_generation(" Dull film", ResponseFormat::kReview);
  EXPECT_FALSE(none.parsed);
  EXPECT_EQ(none.response, "Dull film");
}

TEST(GenerationParse, EmptyAndBlankStrings) {
  for (const auto format : {ResponseFormat::kOpinion, ResponseFormat::kReview}) {
    for (const std::string text : {"", "   ", "\n"}) {
      const auto g = parse_generation(text, format);
      EXPECT_FALSE(g.parsed);
      EXPECT_EQ(g.belief_id, -1);
      EXPECT_FALSE(g.has_text);
    }
    EXPECT_EQ(parse_generation("", format).response, "");
  }
  // A lone digit: nothing after it.
  EXPECT_EQ(opinion("5").response, "");
  EXPECT_EQ(parse_generation("5", ResponseFormat::kReview).response, "");
}

TEST(GenerationParse, UnicodeText) {
  const auto g = opinion("2<Tr\u00e8s bien> C'est g\u00e9nial \u2014 vraiment.");
  EXPECT_EQ(g.belief_id, 2);
  EXPECT_EQ(g.belief_text, "Tr\u00e8s bien");
  EXPECT_EQ(g.response, "C'est g\u00e9nial \u2014 vraiment.");
  // Non-breaking spaces around the response are Python whitespace: stripped.
  EXPECT_EQ(opinion("1<x>\u00a0y\u00a0").response, "y");
}

}  // namespace
}  // namespace gdpo::eval
