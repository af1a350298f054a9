// Generation's exactness properties on tiny random models of both families: the KV cache gives the
// tokens that recomputing the whole prefix gives; a sequence's tokens do not depend on the batch it
// ran in; the budget and end-of-text rules hold.
#include <gtest/gtest.h>

#include <algorithm>

#include "gdpo/eval/generator.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"

namespace gdpo::eval {
namespace {

model::CausalLMPtr tiny(const std::string& preset) {
  return model::build_model(model::load_model_config(preset), 5, torch::kFloat32);
}

// Six sequences: three prompts of different lengths (left padding differs), two samples each.
std::vector<GenerationItem> items() {
  std::vector<GenerationItem> out;
  const std::vector<std::vector<int64_t>> prompts = {
      {10, 20, 30, 40, 50}, {7, 8, 9, 10, 11, 12, 13, 14, 15}, {100, 101}};
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t s = 0; s < 2; ++s) out.push_back({r, s, prompts[r]});
  return out;
}

void expect_same(const std::vector<GeneratedSequence>& a, const std::vector<GeneratedSequence>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].row, b[i].row);
    EXPECT_EQ(a[i].sample, b[i].sample);
    EXPECT_EQ(a[i].tokens, b[i].tokens) << "sequence " << i;
    EXPECT_EQ(a[i].ended, b[i].ended) << "sequence " << i;
  }
}

class GeneratorTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GeneratorTest, CacheEqualsRecomputingThePrefix) {
  auto m = tiny(GetParam());
  GenerationConfig c;
  c.max_new_tokens = 24;
  c.seed = 3;
  for (bool greedy : {false, true}) {
    c.sampling.greedy = greedy;
    c.use_cache = true;
    const auto cached = generate(*m, items(), c, /*eos_id=*/256);
    c.use_cache = false;
    const auto recomputed = generate(*m, items(), c, 256);
    expect_same(cached, recomputed);
    if (!cached[0].ended) {
      EXPECT_EQ(cached[0].tokens.size(), 24u);
    }
  }
}

TEST_P(GeneratorTest, ASequenceDoesNotDependOnItsBatch) {
  auto m = tiny(GetParam());
  GenerationConfig c;
  c.max_new_tokens = 16;
  c.seed = 11;
  const auto together = generate(*m, items(), c, 256);
  std::vector<GeneratedSequence> alone;
  for (const auto& item : items()) alone.push_back(generate(*m, {item}, c, 256).front());
  expect_same(together, alone);
  // ... and the two samples of a row differ (their keys differ), as do other seeds.
  EXPECT_NE(together[0].tokens, together[1].tokens);
  c.seed = 12;
  EXPECT_NE(generate(*m, {items()[0]}, c, 256).front().tokens, together[0].tokens);
}

INSTANTIATE_TEST_SUITE_P(Families, GeneratorTest, ::testing::Values("tiny-gpt2", "tiny-neox"));

TEST(Generator, BudgetIsTheLengthLimitMinusThePrompt) {
  GenerationConfig c;
  c.max_length = 10;
  EXPECT_EQ(new_token_budget(c, 4), 6);
  EXPECT_EQ(new_token_budget(c, 10), 0);
  EXPECT_EQ(new_token_budget(c, 12), 0);
  c.max_new_tokens = 3;
  EXPECT_EQ(new_token_budget(c, 4), 3);
  EXPECT_EQ(new_token_budget(c, 8), 2);

  auto m = tiny("tiny-gpt2");
  c.sampling.greedy = true;
  c.max_new_tokens = 0;
  c.max_length = 7;  // prompts of 5, 9 and 2 tokens: 2, 0 and 5 new tokens at most
  const auto out = generate(*m, items(), c, /*eos_id=*/-1);  // -1: never ends early
  EXPECT_EQ(out[0].tokens.size(), 2u);
  EXPECT_EQ(out[2].tokens.size(), 0u);
  EXPECT_EQ(out[4].tokens.size(), 5u);
  for (const auto& s : out) EXPECT_FALSE(s.ended);
}

TEST(Generator, EndOfTextEndsASequenceAndIsNotStored) {
  auto m = tiny("tiny-gpt2");
  GenerationConfig c;
  c.sampling.greedy = true;
  c.max_new_tokens = 8;
  const auto free_run = generate(*m, {items()[0]}, c, -1).front();
  ASSERT_EQ(free_run.tokens.size(), 8u);
  // With the third greedy token as end-of-text, the sequence is its first two tokens.
  const int64_t eos = free_run.tokens[2];
  const auto stopped = generate(*m, {items()[0]}, c, eos).front();
  ASSERT_TRUE(stopped.ended);
  const auto first_eos =
      std::find(free_run.tokens.begin(), free_run.tokens.end(), eos) - free_run.tokens.begin();
  EXPECT_EQ(stopped.tokens, std::vector<int64_t>(free_run.tokens.begin(),
                                                 free_run.tokens.begin() + first_eos));
}

}  // namespace
}  // namespace gdpo::eval
