// Span sums over a hand-made padded batch: belief span, preference span, whole response, counts,
// and the authors' fallback where the spans overlap.
#include "gdpo/loss/sequence_logprobs.hpp"

#include <gtest/gtest.h>

#include "loss/fixtures.hpp"

namespace gdpo::loss {
namespace {

TEST(SequenceLogprobs, SumsEachSpanOfAPaddedBatch) {
  // Token log-probs chosen so that each position is identifiable: row r, position t -> -(10 r + t)
  // (position 0 would be 0 anyway). Padding (row 0, position 4) holds -4 and must be ignored.
  auto logps = -(torch::arange(5, torch::kFloat64).unsqueeze(0) +
                 10 * torch::arange(2, torch::kFloat64).unsqueeze(1));
  auto batch = test::one_pair_batch();
  SequenceLogprobs s = sequence_logprobs(logps, batch);
  // Row 0: belief = pos 2, after = pos 3 (pos 4 is padding). Row 1: belief = pos 2, after = 3, 4.
  EXPECT_EQ(s.belief[0].item<double>(), -2.0);
  EXPECT_EQ(s.after_belief[0].item<double>(), -3.0);
  EXPECT_EQ(s.response[0].item<double>(), -5.0);
  EXPECT_EQ(s.belief[1].item<double>(), -12.0);
  EXPECT_EQ(s.after_belief[1].item<double>(), -13.0 - 14.0);
  EXPECT_EQ(s.response[1].item<double>(), -12.0 - 13.0 - 14.0);
  EXPECT_EQ(s.belief_tokens[0].item<int64_t>(), 1);
  EXPECT_EQ(s.response_tokens[0].item<int64_t>(), 2);
  EXPECT_EQ(s.response_tokens[1].item<int64_t>(), 3);
}

TEST(SequenceLogprobs, FallbackSpansOverlap) {
  // Row 0: the usual layout, belief [1, 3), preference [3, 5). Row 1, the authors' fallback (no
  // lone ">" in the response): the belief span is the whole response [2, 6) and the preference
  // span starts at the prompt, [2, 6) too. Every token log-prob is -1.
  auto logps = torch::full({2, 6}, -1.0, torch::kFloat64);
  auto s = sequence_logprobs(logps, torch::tensor({1, 2}), torch::tensor({2, 4}),
                             torch::tensor({3, 2}), torch::tensor({5, 6}));
  EXPECT_EQ(s.belief[0].item<double>(), -2.0);
  EXPECT_EQ(s.after_belief[0].item<double>(), -2.0);
  EXPECT_EQ(s.response[0].item<double>(), -4.0);
  EXPECT_EQ(s.belief[1].item<double>(), -4.0);
  EXPECT_EQ(s.after_belief[1].item<double>(), -4.0);
  EXPECT_EQ(s.response[1].item<double>(), -4.0);
  EXPECT_EQ(s.belief_tokens[1].item<int64_t>(), 4);
  EXPECT_EQ(s.response_tokens[0].item<int64_t>(), 4);
}

TEST(SequenceLogprobs, GradientReachesOnlyTheSpans) {
  auto logps = torch::zeros({2, 5}, torch::kFloat64).requires_grad_();
  auto s = sequence_logprobs(logps, test::one_pair_batch());
  s.response.sum().backward();
  auto expected =
      torch::tensor({0., 0., 1., 1., 0., 0., 0., 1., 1., 1.}, torch::kFloat64).reshape({2, 5});
  EXPECT_TRUE(torch::equal(logps.grad(), expected)) << logps.grad();
}

}  // namespace
}  // namespace gdpo::loss
