// Synthetic input for `gdpo bench step` and the step tests: a PairBatch with random tokens and valid
// spans, and reference log-probs shaped as the reference cache returns them.
#pragma once
#include <torch/torch.h>

#include <cstdint>

#include "gdpo/data/batch.hpp"
#include "gdpo/loss/reference_logprobs.hpp"

namespace gdpo::train {

// Every row is prompt_tokens + response_tokens long (no padding); the response starts with the
// belief span of belief_tokens tokens, whose first token is one of the pair's `beliefs` belief ids.
struct SyntheticBatchShape {
  int64_t pairs = 8;
  int64_t prompt_tokens = 48;
  int64_t response_tokens = 48;  // belief span included
  int64_t belief_tokens = 2;
  int64_t beliefs = 5;           // K

  // UsageError naming the --bench option for a shape no batch can have in `vocab_size` ids.
  void check(int64_t vocab_size) const;
  int64_t seq_len() const { return prompt_tokens + response_tokens; }
};

// Random token ids in [0, vocab_size); chosen row i and rejected row B + i share their prompt and
// start their responses with two different beliefs of the pair's K distinct belief ids; p* is
// random and sums to 1; chosen_is_majority says whether the chosen belief is the majority of p*.
// Deterministic in `seed`. CPU tensors.
data::PairBatch synthetic_pair_batch(const SyntheticBatchShape& shape, int64_t vocab_size,
                                     uint64_t seed);

// Random (negative) summed log-probs for each row, as the reference cache would return them:
// after_belief <= response. [2B] float32 each.
loss::ReferenceLogprobs synthetic_reference(const data::PairBatch& batch, uint64_t seed);

}  // namespace gdpo::train
