// The eval subset as the GDPO authors choose it: whole questions in a seeded shuffled order, their
// pairs in file order, cut after n pairs; a function of (data, n, seed) only.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "gdpo/train/trainer.hpp"

namespace gdpo::train {
namespace {

// `questions` questions of `per_question` pairs each; grouped: the file lists each question's pairs
// together (question 0's first), else interleaved (pair i belongs to question i % questions).
data::TokenizedPairs pairs_of_questions(int64_t questions, int64_t per_question, bool grouped) {
  data::TokenizedPairs d;
  const int64_t n = questions * per_question;
  for (int64_t i = 0; i < n; ++i)
    d.pair_question.push_back(grouped ? i / per_question : i % questions);
  d.question_offset.resize(questions + 1);
  for (int64_t q = 0; q <= questions; ++q) d.question_offset[q] = 4 * q;  // 4 beliefs each
  return d;
}

// The questions of `subset`'s pairs, each once, in their order of appearance.
std::vector<int64_t> questions_of(const data::TokenizedPairs& d,
                                  const std::vector<int64_t>& subset) {
  std::vector<int64_t> out;
  for (int64_t i : subset)
    if (std::find(out.begin(), out.end(), d.pair_question[i]) == out.end())
      out.push_back(d.pair_question[i]);
  return out;
}

TEST(EvalSubset, WholeSplitIsEveryPairGroupedByShuffledQuestion) {
  for (bool grouped : {true, false}) {
    const auto d = pairs_of_questions(20, 4, grouped);
    const auto subset = eval_subset(d, 0, 0);
    // Every pair exactly once.
    std::vector<int64_t> sorted = subset;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(d.pairs());
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all) << grouped;
    // A question's pairs are adjacent and in file order.
    ASSERT_EQ(subset.size(), 80u);
    for (size_t k = 0; k < subset.size(); k += 4) {
      const int64_t q = d.pair_question[subset[k]];
      for (size_t j = 1; j < 4; ++j) {
        EXPECT_EQ(d.pair_question[subset[k + j]], q) << grouped << " position " << k + j;
        EXPECT_LT(subset[k + j - 1], subset[k + j]) << grouped << " position " << k + j;
      }
    }
    EXPECT_EQ(questions_of(d, subset).size(), 20u);
  }
}

TEST(EvalSubset, SeededAndDeterministic) {
  const auto d = pairs_of_questions(20, 4, true);
  EXPECT_EQ(eval_subset(d, 16, 0), eval_subset(d, 16, 0));
  EXPECT_EQ(eval_subset(d, 16, 7), eval_subset(d, 16, 7));
  // Another seed, another order of the 20 questions (the chance of the same is 1 / 20!).
  EXPECT_NE(eval_subset(d, 0, 0), eval_subset(d, 0, 1));
}

// A file grouped by question: the subset samples questions, not the file's first ones.
TEST(EvalSubset, NotTheFirstQuestionsOfTheFile) {
  const auto d = pairs_of_questions(20, 4, true);
  std::set<int64_t> first_questions;
  bool always_file_order = true;
  for (int64_t seed = 0; seed < 10; ++seed) {
    const auto subset = eval_subset(d, 8, seed);
    const auto questions = questions_of(d, subset);
    ASSERT_EQ(questions.size(), 2u) << seed;  // 8 pairs: two whole questions of 4
    first_questions.insert(questions[0]);
    if (subset != std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}) always_file_order = false;
  }
  EXPECT_FALSE(always_file_order);
  EXPECT_GT(first_questions.size(), 1u);  // 10 seeds do not all start with the same question
}

TEST(EvalSubset, CutAfterNPairsAsAPrefixOfTheWholeOrder) {
  const auto d = pairs_of_questions(12, 4, false);
  const auto whole = eval_subset(d, 0, 3);
  for (int64_t n : {1, 4, 10, 47}) {
    const auto subset = eval_subset(d, n, 3);
    ASSERT_EQ(static_cast<int64_t>(subset.size()), n);
    EXPECT_TRUE(std::equal(subset.begin(), subset.end(), whole.begin())) << n;
  }
  // 10 pairs: two whole questions and two pairs of a third.
  EXPECT_EQ(questions_of(d, eval_subset(d, 10, 3)).size(), 3u);
  // More than there are: every pair.
  EXPECT_EQ(eval_subset(d, 1000, 3), whole);
  EXPECT_EQ(eval_subset(d, 48, 3), whole);
}

// Questions of different sizes, one with no pair left (skipped pairs): still whole questions.
TEST(EvalSubset, UnevenQuestions) {
  data::TokenizedPairs d;
  d.pair_question = {0, 0, 0, 2, 2, 3, 3, 3, 3, 3};  // question 1 has no pair
  d.question_offset = {0, 2, 4, 6, 8};
  const auto subset = eval_subset(d, 0, 0);
  EXPECT_EQ(subset.size(), 10u);
  const auto questions = questions_of(d, subset);
  EXPECT_EQ(std::set<int64_t>(questions.begin(), questions.end()), (std::set<int64_t>{0, 2, 3}));
  // Each question's pairs form one run.
  size_t runs = 1;
  for (size_t k = 1; k < subset.size(); ++k)
    runs += d.pair_question[subset[k]] != d.pair_question[subset[k - 1]];
  EXPECT_EQ(runs, 3u);
}

}  // namespace
}  // namespace gdpo::train
