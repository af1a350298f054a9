// Per-row sums of token log-probs over the spans of a PairBatch row: the belief span, the response
// after the belief, and the whole response (belief included), with their token counts. Masks come
// from position comparisons against the span bounds; there is no loop over rows.
#pragma once
#include <torch/torch.h>

#include "gdpo/data/batch.hpp"

namespace gdpo::loss {

struct SequenceLogprobs {
  torch::Tensor belief;         // [rows] sum over [prompt_len, prompt_len + belief_len)
  torch::Tensor after_belief;   // [rows] sum over [prompt_len + belief_len, seq_len)
  torch::Tensor response;       // [rows] sum over [prompt_len, seq_len) = belief + after_belief
  torch::Tensor belief_tokens;  // [rows] int64 token counts of the same spans
  torch::Tensor after_belief_tokens;  // [rows] int64
  torch::Tensor response_tokens;      // [rows] int64
};

// token_logps [rows, T] (as from token_logprobs: logp[r, t] is the log-prob of token t);
// prompt_len, belief_len, seq_len [rows] int64. Positions outside every span are ignored.
SequenceLogprobs sequence_logprobs(const torch::Tensor& token_logps,
                                   const torch::Tensor& prompt_len, const torch::Tensor& belief_len,
                                   const torch::Tensor& seq_len);

// The same on the 2B rows of a batch (chosen rows [0, B), rejected rows [B, 2B)).
SequenceLogprobs sequence_logprobs(const torch::Tensor& token_logps, const data::PairBatch& batch);

}  // namespace gdpo::loss
