// The frozen reference model's summed log-probs of each row of a batch: what the DPO-family losses
// compare the policy against. The trainer computes them once per example and caches them.
#pragma once
#include <torch/torch.h>

#include <cstdint>

#include "gdpo/data/batch.hpp"
#include "gdpo/loss/sequence_logprobs.hpp"
#include "gdpo/loss/token_logprobs.hpp"

namespace gdpo::loss {

// Per row of a PairBatch (chosen rows [0, B), rejected rows [B, 2B)); detached, no gradient.
struct ReferenceLogprobs {
  torch::Tensor after_belief;  // [2B] sum over the response after the belief (GDPO's preference)
  torch::Tensor response;      // [2B] sum over the whole response (DPO, cDPO, IPO)

  ReferenceLogprobs() = default;
  // Detached copies of the sums of `seq` (the token counts are not kept).
  explicit ReferenceLogprobs(const SequenceLogprobs& seq);
  bool defined() const { return response.defined(); }
};

// The reference model's sums from its final hidden states, without building a graph.
// hidden [2B, T, H], output_weight [V, H].
ReferenceLogprobs reference_logprobs(const torch::Tensor& hidden,
                                     const torch::Tensor& output_weight,
                                     const data::PairBatch& batch,
                                     int64_t chunk_rows = kDefaultChunkRows);

}  // namespace gdpo::loss
