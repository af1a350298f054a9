// ROUGE-L as pltrdy's rouge 1.0.1 computes it. Hand-derived cases state m (distinct reference
// words), n (distinct hypothesis words) and llcs (size of the union of the LCS word sets), with
//   R = llcs / m,  P = llcs / n,  F = 2 * ((P * R) / (P + R + 1e-8)).
// The golden constants are printed by tests/eval/rouge_reference.py (a transcription of pltrdy's
// code, checked against the package's 1.0.1 source with `--check`), pasted here as is.
#include "gdpo/eval/rouge_l.hpp"

#include <gtest/gtest.h>

#include <string>

#include "gdpo/core/error.hpp"

namespace gdpo::eval {
namespace {

double pltrdy_f(double p, double r) { return 2.0 * ((p * r) / (p + r + 1e-8)); }

void expect_scores(const std::string& hyp, const std::string& ref, double f, double p, double r) {
  const auto s = rouge_l(hyp, ref);
  ASSERT_TRUE(s.has_value()) << hyp << " | " << ref;
  EXPECT_DOUBLE_EQ(s->f, f) << hyp << " | " << ref;
  EXPECT_DOUBLE_EQ(s->p, p) << hyp << " | " << ref;
  EXPECT_DOUBLE_EQ(s->r, r) << hyp << " | " << ref;
  EXPECT_DOUBLE_EQ(rouge_l_f(hyp, ref), f);
}

TEST(RougeL, IdenticalTextsAreJustBelowOne) {
  // m = n = llcs = 3: P = R = 1, F = 2 * (1 / (2 + 1e-8)) = 0.999999995.
  expect_scores("the cat sat", "the cat sat", 0.999999995, 1.0, 1.0);
  EXPECT_DOUBLE_EQ(pltrdy_f(1.0, 1.0), 0.999999995);
}

TEST(RougeL, CountsDistinctWords) {
  // ref {the, cat, lay, on, mat}: m = 5; hyp {the, cat, sat, on, mat}: n = 5;
  // LCS "the cat on the mat" as a set {the, cat, on, mat}: llcs = 4. P = R = 0.8
  // (classic ROUGE-L would give 5/6).
  const auto s = rouge_l("the cat sat on the mat", "the cat lay on the mat");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ref_words, 5);
  EXPECT_EQ(s->hyp_words, 5);
  EXPECT_EQ(s->lcs_words, 4);
  expect_scores("the cat sat on the mat", "the cat lay on the mat", pltrdy_f(0.8, 0.8), 0.8, 0.8);
  // Repeats count once: "the the the" vs "the" is m = n = llcs = 1.
  expect_scores("the the the", "the", 0.999999995, 1.0, 1.0);
}

TEST(RougeL, SummaryLevelUnionOfLcs) {
  // pltrdy's _union_lcs docstring: r = w1 w2 w3 w4 w5, c1 = w1 w2 w6 w7 w8, c2 = w1 w3 w8 w9 w5:
  // LCS(r, c1) = {w1, w2}, LCS(r, c2) = {w1, w3, w5}, union {w1, w2, w3, w5}: llcs = 4;
  // m = 5, n = |{w1 w2 w6 w7 w8 w3 w9 w5}| = 8: R = 0.8, P = 0.5.
  expect_scores("w1 w2 w6 w7 w8. w1 w3 w8 w9 w5", "w1 w2 w3 w4 w5", pltrdy_f(0.5, 0.8), 0.5, 0.8);
}

TEST(RougeL, ReconstructionTieBreakSteersTheUnion) {
  // ref "a b", hyp sentences "b a" and "b". For ("a b", "b a") both LCSs have length 1; _recon
  // steps left in the hypothesis on ties (table[1][2] = table[2][1] = 1), so it takes "b", not "a".
  // LCS("a b", "b") = {b}; union {b}: llcs = 1 (2 with the other tie-break). m = 2, n = 2.
  expect_scores("b a. b", "a b", pltrdy_f(0.5, 0.5), 0.5, 0.5);
}

TEST(RougeL, SentenceSplitKeepsWhitespaceOnlyPiecesAsEmptyWord) {
  // "a. . b".split(".") = ["a", " ", " b"]: all kept (len > 0), normalised to ["a", "", "b"], and
  // "" is a word. ref likewise ["a", "", "c"]. m = n = 3; union {a, ""}: llcs = 2.
  expect_scores("a. . b", "a. . c", pltrdy_f(2.0 / 3, 2.0 / 3), 2.0 / 3, 2.0 / 3);
  // "a b. " -> ["a b", ""]: n = |{a, b, ""}| = 3, m = 2, llcs = 2: P = 2/3, R = 1.
  expect_scores("a b. ", "a b", pltrdy_f(2.0 / 3, 1.0), 2.0 / 3, 1.0);
  // A trailing '.' alone adds nothing: "a b." -> ["a b"] ("" after the '.' has len 0).
  expect_scores("a b.", "a b", 0.999999995, 1.0, 1.0);
  // " " is one empty sentence: n = 1 ({""}), llcs = 0, so F = 0 (no error).
  expect_scores(" ", "a b", 0.0, 0.0, 0.0);
}

TEST(RougeL, CaseAndPunctuationAreKept) {
  expect_scores("The Cat", "the cat", 0.0, 0.0, 0.0);
  // "yes," and "good!" differ from "yes" and "good": llcs = |{it, is}| = 2, m = n = 4.
  expect_scores("yes, it is good!", "yes it is good", pltrdy_f(0.5, 0.5), 0.5, 0.5);
}

TEST(RougeL, UnicodeTextAndWhitespace) {
  // Python's str.split() also splits on U+00A0 and U+3000; "naïve" is one word.
  expect_scores("na\u00efve\u00a0approach\u3000here", "na\u00efve approach here", 0.999999995, 1.0,
                1.0);
  // U+200B (zero-width space) is not whitespace to Python: "a\u200bb" is one word.
  expect_scores("a\u200bb", "a b", 0.0, 0.0, 0.0);
}

TEST(RougeL, GoldenValuesFromTheReferenceScript) {
  // Printed by `python3 tests/eval/rouge_reference.py` (f, p, r), identical to the rouge 1.0.1
  // package's own get_scores (checked with --check).
  expect_scores("the cat sat on the mat", "the cat lay on the mat", 0.7999999950000002, 0.8, 0.8);
  expect_scores("w1 w2 w6 w7 w8. w1 w3 w8 w9 w5", "w1 w2 w3 w4 w5", 0.6153846106508877, 0.5, 0.8);
  expect_scores("b a. b", "a b", 0.4999999950000001, 0.5, 0.5);
  expect_scores("a. . b", "a. . c", 0.6666666616666668, 0.6666666666666666, 0.6666666666666666);
  expect_scores("a b. ", "a b", 0.7999999952000001, 0.6666666666666666, 1.0);
  expect_scores("I think the economy is doing very well right now, jobs are up.",
                "The economy is doing well. Jobs are up and wages are rising.",
                0.4999999950347222, 0.46153846153846156, 0.5454545454545454);
  expect_scores("yes, it is good!", "yes it is good", 0.4999999950000001, 0.5, 0.5);
}

TEST(RougeL, NoSentenceIsUndefinedLikePltrdysValueError) {
  // pltrdy raises ValueError("Collections must contain at least 1 sentence.") for these.
  EXPECT_FALSE(rouge_l("", "a"));
  EXPECT_FALSE(rouge_l("...", "a"));
  EXPECT_FALSE(rouge_l("a", ""));
  EXPECT_THROW(rouge_l_f("", "a"), InputError);
  try {
    rouge_l_f("a", "..");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("reference"), std::string::npos) << e.what();
  }
  // ". ." keeps the piece " ", i.e. one empty sentence: defined, F = 0.
  EXPECT_TRUE(rouge_l("a", ". ."));
}

TEST(RougeL, AuthorsRuleScoresEmptyResponsesAndMissingLabelsZero) {
  // evaluate.py get_rouge: label "" -> 0; resp.replace(".", "").strip() == "" -> 0.
  EXPECT_EQ(authors_rouge_l_f("the cat", ""), 0.0);
  EXPECT_EQ(authors_rouge_l_f("", "the cat"), 0.0);
  EXPECT_EQ(authors_rouge_l_f(" . . ", "the cat"), 0.0);
  EXPECT_EQ(authors_rouge_l_f("\u3000.", "the cat"), 0.0);
  EXPECT_DOUBLE_EQ(authors_rouge_l_f("the cat sat", "the cat sat"), 0.999999995);
  // A reference of only '.' would stop their script (ValueError); here it throws.
  EXPECT_THROW(authors_rouge_l_f("the cat", "..."), InputError);
}

}  // namespace
}  // namespace gdpo::eval
