#include "gdpo/train/synthetic_batch.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <numeric>
#include <string>

#include "gdpo/core/error.hpp"
#include "gdpo/data/majority.hpp"

namespace gdpo::train {

void SyntheticBatchShape::check(int64_t vocab_size) const {
  auto fail = [](const std::string& what) { throw UsageError(what); };
  if (pairs < 1) fail("--bench.pairs must be >= 1");
  if (prompt_tokens < 1) fail("--bench.prompt-tokens must be >= 1");
  if (belief_tokens < 1) fail("--bench.belief-tokens must be >= 1");
  if (response_tokens < belief_tokens)
    fail("--bench.response-tokens must be >= --bench.belief-tokens (the belief span is part of "
         "the response)");
  if (beliefs < 2) fail("--bench.beliefs must be >= 2 (chosen and rejected beliefs differ)");
  if (beliefs > vocab_size)
    fail("--bench.beliefs " + std::to_string(beliefs) + " exceeds the vocabulary of " +
         std::to_string(vocab_size));
}

data::PairBatch synthetic_pair_batch(const SyntheticBatchShape& s, int64_t vocab_size,
                                     uint64_t seed) {
  s.check(vocab_size);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto i64 = torch::TensorOptions(torch::kInt64);
  const int64_t B = s.pairs, K = s.beliefs, P = s.prompt_tokens, T = s.seq_len();

  data::PairBatch b;
  // K distinct ids per pair: the first K of a random permutation of the vocabulary.
  b.belief_token_ids =
      torch::rand({B, vocab_size}, gen, torch::kFloat).argsort(/*dim=*/1, /*descending=*/false).narrow(1, 0, K).contiguous();
  b.belief_valid = torch::ones({B, K}, torch::kBool);
  auto weights = torch::rand({B, K}, gen, torch::kFloat) + 0.05;
  b.target_probs = weights / weights.sum(1, /*keepdim=*/true);
  const auto chosen_belief = torch::randint(0, K, {B}, gen, i64);
  const auto rejected_belief = (chosen_belief + torch::randint(1, K, {B}, gen, i64)).remainder(K);
  b.chosen_is_majority = torch::empty({B}, torch::kBool);
  for (int64_t i = 0; i < B; ++i) {
    const auto p = b.target_probs[i].contiguous();
    const float* first = p.data_ptr<float>();
    b.chosen_is_majority[i] = chosen_belief[i].item<int64_t>() == data::majority_belief(first, first + K);
  }

  auto prompt = torch::randint(0, vocab_size, {B, P}, gen, i64);
  auto response = torch::randint(0, vocab_size, {2 * B, s.response_tokens}, gen, i64);
  b.input_ids = torch::cat({torch::cat({prompt, prompt}, 0), response}, 1);  // [2B, T]
  auto belief_index = torch::cat({chosen_belief, rejected_belief}).unsqueeze(1);  // [2B, 1]
  auto row_ids = torch::cat({b.belief_token_ids, b.belief_token_ids}, 0);             // [2B, K]
  b.input_ids.select(1, P).copy_(row_ids.gather(1, belief_index).squeeze(1));

  b.attention_mask = torch::ones({2 * B, T}, i64);
  b.prompt_len = torch::full({2 * B}, P, i64);
  b.belief_len = torch::full({2 * B}, s.belief_tokens, i64);
  b.pref_begin = b.prompt_len + b.belief_len;  // the token after the belief span plays the ">"
  b.seq_len = torch::full({2 * B}, T, i64);
  b.example_index.resize(B);
  std::iota(b.example_index.begin(), b.example_index.end(), 0);
  return b;
}

loss::ReferenceLogprobs synthetic_reference(const data::PairBatch& batch, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const int64_t rows = batch.input_ids.size(0);
  // Mean per-token log-probs in [-10, -1), times the span lengths.
  auto per_token = [&] { return -1.0 - 9.0 * torch::rand({rows}, gen, torch::kFloat); };
  auto after_len = (batch.seq_len - batch.prompt_len - batch.belief_len).to(torch::kFloat);
  loss::ReferenceLogprobs r;
  const auto belief = per_token() * batch.belief_len.to(torch::kFloat);
  r.after_belief = per_token() * after_len;
  r.response = belief + r.after_belief;
  return r;
}

}  // namespace gdpo::train
