// A micro-batch of tokenized preference pairs, the contract between the data pipeline, the losses and
// the trainer. Chosen and rejected are stacked so that one policy forward serves every loss term:
// rows [0, B) are the chosen responses, rows [B, 2B) the rejected ones (row i pairs with row B + i).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gdpo::data {

// Token layout of row r (all counts in tokens, no searching of text; the response `{belief_id}<{belief
// text}>{text}`, reviews `{rating}{text}`, is tokenized as one string, end-of-text appended):
//   [0, prompt_len)                          prompt `{context}<Q>{question}<A>`
//   [prompt_len, prompt_len + belief_len)    belief span: GDPO's belief NLL (a per-example MEAN) and
//                                            nothing else. The response tokens before its LAST ">"
//                                            token (">" excluded), e.g. `2<Somewhat bad`.
//   [pref_begin, seq_len)                    preference span: GDPO's DPO term and cdpo (SUMS). Starts
//                                            at the chosen row's last ">" token (">" included) and
//                                            holds the text and the end-of-text; the rejected row
//                                            (conditioned on the chosen belief) uses the same position.
//   [prompt_len, seq_len)                    the whole response, end-of-text included: SFT, DPO, IPO
//   [seq_len, T)                             padding (attention_mask 0, input_ids = pad id)
// Usually pref_begin = prompt_len + belief_len (the ">" is the first token after the belief span). The
// authors' fallbacks, kept on purpose: when the chosen response has no lone ">" token (GPT-2 merges
// `>"`, `>.`, ...; always for review data) the belief span is the whole response and pref_begin =
// prompt_len, so both spans cover the whole response; a rejected row without a lone ">" of its own has
// the whole response as belief span, overlapping its preference span; a rejected row not longer than
// the chosen row's pref_begin has pref_begin = prompt_len. Always 1 <= prompt_len,
// prompt_len + belief_len <= seq_len, prompt_len <= pref_begin <= seq_len <= T.
// The first response token (at prompt_len) is the row's belief id token, one of the question's K.
struct PairBatch {
  torch::Tensor input_ids;       // [2B, T] int64, right-padded
  torch::Tensor attention_mask;  // [2B, T] int64, 1 for real tokens, 0 for padding
  torch::Tensor prompt_len;      // [2B] int64, >= 1
  torch::Tensor belief_len;      // [2B] int64, >= 1, counted from prompt_len
  torch::Tensor pref_begin;      // [2B] int64, absolute position of the preference span's first token
  torch::Tensor seq_len;         // [2B] int64, prompt_len + belief_len <= seq_len <= T

  // The question's belief distribution, padded to the largest K in the batch.
  torch::Tensor belief_token_ids;  // [B, K] int64, single-token ids of the K beliefs (pad: 0)
  torch::Tensor belief_valid;      // [B, K] bool, false on padding
  torch::Tensor target_probs;      // [B, K] float32, p*(b|x) as given (not renormalised), 0 on padding
  torch::Tensor chosen_is_majority;  // [B] bool, the chosen belief is argmax p*

  std::vector<int64_t> example_index;  // [B] the pairs' indices in the tokenized dataset

  int64_t pairs() const { return input_ids.defined() ? input_ids.size(0) / 2 : 0; }
  int64_t tokens() const { return attention_mask.defined() ? attention_mask.sum().item<int64_t>() : 0; }
  // The rows of pairs [begin, end) (chosen and rejected), for gradient-accumulation micro-batches.
  PairBatch slice(int64_t begin, int64_t end) const;
  PairBatch to(const torch::Device& device) const;
};

}  // namespace gdpo::data
