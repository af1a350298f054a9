// Splits by question (disjoint, deterministic, ratios, empty split errors) and Table 1 statistics.
#include "gdpo/data/split.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "gdpo/core/error.hpp"
#include "gdpo/data/stats.hpp"
#include "gdpo/data/synthetic.hpp"

namespace gdpo::data {
namespace {

TEST(Split, ByQuestionDisjointAndDeterministic) {
  SyntheticConfig c;
  c.questions = 20;
  c.pairs_per_question = 3;
  const Dataset d = make_synthetic(c);
  const auto parts = split_dataset(d, {0.8, 0.1, 0.1}, 4);
  std::set<std::string> prompts[3];
  size_t pairs = 0;
  for (int s = 0; s < 3; ++s) {
    for (const auto& q : parts[s].questions) prompts[s].insert(q.prompt);
    pairs += parts[s].pairs.size();
    for (const auto& p : parts[s].pairs) EXPECT_LT(p.question, (int64_t)parts[s].questions.size());
  }
  EXPECT_EQ(prompts[0].size(), 16u);
  EXPECT_EQ(prompts[1].size(), 2u);
  EXPECT_EQ(prompts[2].size(), 2u);
  EXPECT_EQ(pairs, 60u);
  for (const auto& p : prompts[1]) EXPECT_FALSE(prompts[0].count(p) || prompts[2].count(p));
  for (const auto& p : prompts[2]) EXPECT_FALSE(prompts[0].count(p));
  EXPECT_EQ(assign_splits(20, {0.8, 0.1, 0.1}, 4, "x"), assign_splits(20, {0.8, 0.1, 0.1}, 4, "x"));
  EXPECT_NE(assign_splits(20, {0.8, 0.1, 0.1}, 4, "x"), assign_splits(20, {0.8, 0.1, 0.1}, 5, "x"));
}

TEST(Split, EmptySplitAndBadRatios) {
  try {
    assign_splits(3, {0.8, 0.1, 0.1}, 0, "tiny.jsonl");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny.jsonl: the eval split is empty"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(parse_split_ratios("0.9,0.1", "--data.split"), (std::array<double, 3>{0.9, 0.1, 0}));
  EXPECT_THROW(parse_split_ratios("0.5,0.1", "--data.split"), UsageError);
  EXPECT_THROW(parse_split_ratios("0.5,x,0.5", "--data.split"), UsageError);
  EXPECT_THROW(parse_split_ratios("1", "--data.split"), UsageError);
}

TEST(Stats, Table1Numbers) {
  SyntheticConfig c;
  c.questions = 4;
  c.beliefs = 2;
  c.pairs_per_question = 5;
  c.probabilities = {0.5, 0.5};
  DatasetStats s{"synth"};
  accumulate_stats(s, make_synthetic(c), kTrain);
  c.questions = 1;
  c.probabilities = {1.0, 0.0};
  accumulate_stats(s, make_synthetic(c), kTest);
  EXPECT_EQ(s.questions, (std::array<int64_t, 3>{4, 0, 1}));
  EXPECT_EQ(s.pairs, (std::array<int64_t, 3>{20, 0, 5}));
  EXPECT_EQ(s.k_min, 2);
  EXPECT_NEAR(s.mean_entropy, 4 * std::log(2.0) / 5, 1e-12);  // H = ln 2 four times, 0 once
  EXPECT_NEAR(s.majority_share, (4 * 0.5 + 1.0) / 5, 1e-12);
  const std::string table = format_stats_table({s});
  EXPECT_NE(table.find("synth"), std::string::npos) << table;
  EXPECT_EQ(dataset_name_and_split("/d/mmoqa_usa_train.jsonl"), (std::pair<std::string, int>{"mmoqa_usa", kTrain}));
  EXPECT_EQ(dataset_name_and_split("movie_review-test.jsonl"), (std::pair<std::string, int>{"movie_review", kTest}));
  EXPECT_EQ(dataset_name_and_split("/x/mmoqa_pk/eval.jsonl"), (std::pair<std::string, int>{"mmoqa_pk", kEval}));
  EXPECT_EQ(dataset_name_and_split("all.jsonl").second, -1);
}

}  // namespace
}  // namespace gdpo::data
