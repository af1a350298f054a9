// A micro-batch of tokenized preference pairs, the contract between the data pipeline, the losses and
// the trainer. Chosen and rejected are stacked so that one policy forward serves every loss term:
// rows [0, B) are the chosen responses, rows [B, 2B) the rejected ones (row i pairs with row B + i).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gdpo::data {

// Token layout of row r (all counts in tokens, no searching of text):
//   [0, prompt_len)                          prompt        `{context}<Q>{question}<A>`
//   [prompt_len, prompt_len + belief_len)    belief span   `{belief_id}<{belief_text}>` or `{rating}`
//   [prompt_len + belief_len, seq_len)       response after the belief
//   [seq_len, T)                             padding (attention_mask 0, input_ids = pad id)
// The first belief token (at prompt_len) is one of the question's K belief tokens.
struct PairBatch {
  torch::Tensor input_ids;       // [2B, T] int64, right-padded
  torch::Tensor attention_mask;  // [2B, T] int64, 1 for real tokens, 0 for padding
  torch::Tensor prompt_len;      // [2B] int64, >= 1
  torch::Tensor belief_len;      // [2B] int64, >= 1 (0 only for SFT data without beliefs)
  torch::Tensor seq_len;         // [2B] int64, prompt_len + belief_len <= seq_len <= T

  // The question's belief distribution, padded to the largest K in the batch.
  torch::Tensor belief_token_ids;  // [B, K] int64, single-token ids of the K beliefs (pad: 0)
  torch::Tensor belief_valid;      // [B, K] bool, false on padding
  torch::Tensor target_probs;      // [B, K] float32, p*(b|x), 0 on padding, sums to 1 per row
  torch::Tensor chosen_is_majority;  // [B] bool, the chosen belief is argmax p*

  std::vector<int64_t> example_index;  // [B] the pairs' indices in the tokenized dataset

  int64_t pairs() const { return input_ids.defined() ? input_ids.size(0) / 2 : 0; }
  int64_t tokens() const { return attention_mask.defined() ? attention_mask.sum().item<int64_t>() : 0; }
  // The rows of pairs [begin, end) (chosen and rejected), for gradient-accumulation micro-batches.
  PairBatch slice(int64_t begin, int64_t end) const;
  PairBatch to(const torch::Device& device) const;
};

}  // namespace gdpo::data
