// Per-row sums of token log-probs over the spans of a PairBatch row (see data/batch.hpp): the belief
// span, the preference span after the belief, and the whole response, with their token counts.
// Masks come from position comparisons against the span bounds; there is no loop over rows.
#pragma once
#include <torch/torch.h>

#include "gdpo/data/batch.hpp"

namespace gdpo::loss {

struct SequenceLogprobs {
  torch::Tensor belief;        // [rows] sum over [prompt_len, prompt_len + belief_len)
  torch::Tensor after_belief;  // [rows] sum over the preference span [pref_begin, seq_len)
  torch::Tensor response;      // [rows] sum over the whole response [prompt_len, seq_len)
  torch::Tensor belief_tokens;    // [rows] int64 token counts of the same spans
  torch::Tensor response_tokens;  // [rows] int64
};

// token_logps [rows, T] (as from token_logprobs: logp[r, t] is the log-prob of token t);
// prompt_len, belief_len, pref_begin, seq_len [rows] int64. Positions outside every span are
// ignored. The spans may overlap (the authors' fallbacks, see data/batch.hpp).
SequenceLogprobs sequence_logprobs(const torch::Tensor& token_logps,
                                   const torch::Tensor& prompt_len, const torch::Tensor& belief_len,
                                   const torch::Tensor& pref_begin, const torch::Tensor& seq_len);

// The same on the 2B rows of a batch (chosen rows [0, B), rejected rows [B, 2B)).
SequenceLogprobs sequence_logprobs(const torch::Tensor& token_logps, const data::PairBatch& batch);

}  // namespace gdpo::loss
