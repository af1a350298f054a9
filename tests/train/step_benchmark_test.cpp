#include "gdpo/train/step_benchmark.hpp"

#include <gtest/gtest.h>

#include <set>

#include "gdpo/core/error.hpp"
#include "gdpo/loss/objective.hpp"

namespace gdpo::train {
namespace {

SyntheticBatchShape small_shape() {
  SyntheticBatchShape s;
  s.pairs = 3;
  s.prompt_tokens = 4;
  s.response_tokens = 5;
  s.belief_tokens = 2;
  s.beliefs = 4;
  return s;
}

TEST(SyntheticPairBatch, SpansAndBeliefsFollowTheBatchContract) {
  const auto s = small_shape();
  const int64_t V = 50, B = s.pairs, P = s.prompt_tokens, T = s.seq_len();
  const auto b = synthetic_pair_batch(s, V, 7);
  ASSERT_EQ(b.input_ids.sizes(), (std::vector<int64_t>{2 * B, T}));
  EXPECT_EQ(b.pairs(), B);
  EXPECT_EQ(b.tokens(), 2 * B * T);
  EXPECT_TRUE(((b.input_ids >= 0) & (b.input_ids < V)).all().item<bool>());
  EXPECT_TRUE(b.prompt_len.eq(P).all().item<bool>());
  EXPECT_TRUE(b.belief_len.eq(2).all().item<bool>());
  EXPECT_TRUE(b.seq_len.eq(T).all().item<bool>());
  EXPECT_TRUE(torch::allclose(b.target_probs.sum(1), torch::ones({B})));
  for (int64_t i = 0; i < B; ++i) {
    const int64_t c = b.chosen_belief[i].item<int64_t>(), r = b.rejected_belief[i].item<int64_t>();
    ASSERT_TRUE(c >= 0 && c < s.beliefs && r >= 0 && r < s.beliefs);
    EXPECT_NE(c, r);
    // The response opens with the row's belief token; chosen and rejected share the prompt.
    EXPECT_EQ(b.input_ids[i][P].item<int64_t>(), b.belief_token_ids[i][c].item<int64_t>());
    EXPECT_EQ(b.input_ids[B + i][P].item<int64_t>(), b.belief_token_ids[i][r].item<int64_t>());
    EXPECT_TRUE(b.input_ids[i].narrow(0, 0, P).equal(b.input_ids[B + i].narrow(0, 0, P)));
    std::set<int64_t> ids;
    for (int64_t k = 0; k < s.beliefs; ++k) ids.insert(b.belief_token_ids[i][k].item<int64_t>());
    EXPECT_EQ(static_cast<int64_t>(ids.size()), s.beliefs);
    EXPECT_EQ(b.chosen_is_majority[i].item<bool>(), c == b.target_probs[i].argmax().item<int64_t>());
  }
}

TEST(SyntheticPairBatch, DeterministicInTheSeed) {
  const auto s = small_shape();
  EXPECT_TRUE(synthetic_pair_batch(s, 50, 3).input_ids.equal(synthetic_pair_batch(s, 50, 3).input_ids));
  EXPECT_FALSE(synthetic_pair_batch(s, 50, 3).input_ids.equal(synthetic_pair_batch(s, 50, 4).input_ids));
}

TEST(SyntheticPairBatch, ImpossibleShapesAreUsageErrors) {
  auto s = small_shape();
  s.response_tokens = 1;  // shorter than the belief span
  EXPECT_THROW(synthetic_pair_batch(s, 50, 0), UsageError);
  s = small_shape();
  s.beliefs = 1;
  EXPECT_THROW(synthetic_pair_batch(s, 50, 0), UsageError);
  s = small_shape();
  EXPECT_THROW(synthetic_pair_batch(s, 3, 0), UsageError);  // K = 4 distinct ids in 3
}

TEST(SyntheticReference, SumsAreConsistent) {
  const auto b = synthetic_pair_batch(small_shape(), 50, 1);
  const auto r = synthetic_reference(b, 2);
  ASSERT_EQ(r.response.numel(), 2 * b.pairs());
  EXPECT_TRUE(torch::allclose(r.belief + r.after_belief, r.response));
  EXPECT_TRUE((r.response < 0).all().item<bool>());
}

// The batch passes the objectives' own consistency checks and gives finite losses.
TEST(SyntheticPairBatch, AcceptedByEveryObjective) {
  const auto s = small_shape();
  const int64_t V = 50, H = 8;
  const auto b = synthetic_pair_batch(s, V, 5);
  const auto ref = synthetic_reference(b, 6);
  auto hidden = torch::randn({2 * s.pairs, s.seq_len(), H});
  auto weight = torch::randn({V, H});
  for (const char* type : {"sft", "dpo", "gdpo"}) {
    loss::LossConfig c;
    c.type = type;
    auto out = loss::compute_objective(c, hidden, weight, b, ref);
    EXPECT_TRUE(std::isfinite(out.loss.item<double>())) << type;
  }
}

}  // namespace
}  // namespace gdpo::train
