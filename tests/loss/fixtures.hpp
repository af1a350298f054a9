// Small hand-made PairBatches for the loss tests (PairBatch fields set directly).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "gdpo/data/batch.hpp"

namespace gdpo::loss::test {

// Tolerance of the float64 hand-value checks.
constexpr double kTol = 1e-12;

// log(probs) as one float64 row: [1, probs.size()].
inline torch::Tensor logs(std::vector<double> probs) {
  return torch::log(torch::tensor(probs, torch::kFloat64)).unsqueeze(0);
}

// One pair (B = 1), T = 5, K = 2 belief tokens {0, 1} with p* = [0.5, 0.5], chosen belief 0:
//   position:   0  1 | 2      | 3  4
//   chosen:     p  p | belief | r  pad      prompt_len 2, belief_len 1, seq_len 4
//   rejected:   p  p | belief | r  r        prompt_len 2, belief_len 1, seq_len 5
// Token ids: prompt 3 1, belief 0 (the chosen belief, shared), chosen response 2, rejected 3 3.
inline data::PairBatch one_pair_batch() {
  data::PairBatch b;
  b.input_ids = torch::tensor({3, 1, 0, 2, 0, 3, 1, 0, 3, 3}, torch::kInt64).reshape({2, 5});
  b.attention_mask = torch::tensor({1, 1, 1, 1, 0, 1, 1, 1, 1, 1}, torch::kInt64).reshape({2, 5});
  b.prompt_len = torch::tensor({2, 2}, torch::kInt64);
  b.belief_len = torch::tensor({1, 1}, torch::kInt64);
  b.pref_begin = b.prompt_len + b.belief_len;
  b.seq_len = torch::tensor({4, 5}, torch::kInt64);
  b.belief_token_ids = torch::tensor({{0, 1}}, torch::kInt64);
  b.belief_valid = torch::tensor({{true, true}});
  b.target_probs = torch::tensor({{0.5f, 0.5f}});
  b.chosen_is_majority = torch::tensor({true});
  b.example_index = {0};
  return b;
}

}  // namespace gdpo::loss::test
