#include "gdpo/loss/sequence_logprobs.hpp"

#include "gdpo/core/error.hpp"

namespace gdpo::loss {

SequenceLogprobs sequence_logprobs(const torch::Tensor& token_logps,
                                   const torch::Tensor& prompt_len, const torch::Tensor& belief_len,
                                   const torch::Tensor& pref_begin, const torch::Tensor& seq_len) {
  GDPO_CHECK(token_logps.dim() == 2,
             "token log-probs must be [rows, T], got " << token_logps.sizes());
  const int64_t rows = token_logps.size(0), T = token_logps.size(1);
  GDPO_CHECK(prompt_len.numel() == rows && belief_len.numel() == rows &&
                 pref_begin.numel() == rows && seq_len.numel() == rows,
             "span lengths must hold one value per row (" << rows << ")");
  auto pos = torch::arange(T, token_logps.options().dtype(torch::kInt64)).unsqueeze(0);  // [1, T]
  auto start = prompt_len.reshape({rows, 1});
  auto stop = seq_len.reshape({rows, 1});
  auto belief_mask = (pos >= start) & (pos < start + belief_len.reshape({rows, 1}));  // [rows, T]
  auto after_mask = (pos >= pref_begin.reshape({rows, 1})) & (pos < stop);            // [rows, T]
  auto response_mask = (pos >= start) & (pos < stop);                                 // [rows, T]
  auto sum = [&](const torch::Tensor& mask) {
    return token_logps.masked_fill(mask.logical_not(), 0).sum(1);
  };
  SequenceLogprobs out;
  out.belief = sum(belief_mask);
  out.after_belief = sum(after_mask);
  out.response = sum(response_mask);
  out.belief_tokens = belief_mask.sum(1);
  out.response_tokens = response_mask.sum(1);
  return out;
}

SequenceLogprobs sequence_logprobs(const torch::Tensor& token_logps, const data::PairBatch& batch) {
  GDPO_CHECK(batch.pref_begin.defined(), "the batch has no pref_begin (see data/batch.hpp)");
  return sequence_logprobs(token_logps, batch.prompt_len, batch.belief_len, batch.pref_begin,
                           batch.seq_len);
}

}  // namespace gdpo::loss
