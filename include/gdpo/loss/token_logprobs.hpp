// Log-probabilities of tokens read from final hidden states and the output projection, computed in
// chunks of rows so that the [rows, vocab] logits never exist for more than `chunk_rows` rows at
// once, neither in the forward nor in the backward (which recomputes each chunk's logits).
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace gdpo::loss {

// Rows of logits materialised at once by default: 1024 x 50257 float32 logits are ~200 MB.
inline constexpr int64_t kDefaultChunkRows = 1024;

// The full-vocabulary log-softmax of rows of logits, read at given token ids:
//   out[m, k] = log_softmax(hidden[m] . weight^T)[targets[m, k]]      (not renormalised over k)
// hidden [M, H], weight [V, H], targets [M, K] int64 in [0, V)  ->  [M, K].
// Differentiable w.r.t. hidden and weight (first order). Forward and backward hold at most
// chunk_rows x V logits; the forward saves only the per-row logsumexp [M] besides the inputs.
// The matmul runs in the promoted dtype of hidden and weight (never under autocast); the
// log-softmax and the output in at least float32 (float32 for half/bfloat16, float64 for float64).
torch::Tensor gathered_log_softmax(const torch::Tensor& hidden, const torch::Tensor& weight,
                                   const torch::Tensor& targets,
                                   int64_t chunk_rows = kDefaultChunkRows);

// Per-token log-probs of the next token, for first[n] <= t < end[n] (0 elsewhere):
//   logp[n, t] = log softmax(hidden[n, t-1] . weight^T)[input_ids[n, t]]
// Position 0 has no prediction, so first >= 1.
// Only the selected positions are projected onto the vocabulary.
// hidden [N, T, H], weight [V, H], input_ids [N, T] int64, first [N], end [N] int64  ->  [N, T].
torch::Tensor token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                             const torch::Tensor& input_ids, const torch::Tensor& first,
                             const torch::Tensor& end, int64_t chunk_rows = kDefaultChunkRows);

// The full-vocabulary log-softmax of the next-token distribution after position[n], read at K
// token ids: out[n, k] = log softmax(hidden[n, position[n]] . weight^T)[token_ids[n, k]].
// Not renormalised over the K ids (their probabilities sum to at most 1).
// hidden [N, T, H], weight [V, H], position [N] int64 in [0, T), token_ids [N, K] int64
//   ->  [N, K].
torch::Tensor position_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                const torch::Tensor& position, const torch::Tensor& token_ids,
                                int64_t chunk_rows = kDefaultChunkRows);

}  // namespace gdpo::loss
