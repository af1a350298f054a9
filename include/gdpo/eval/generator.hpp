// Batched text generation from a causal LM: prompts left-padded into one batch, the prompt run once
// into a KV cache, then one token per step for every unfinished sequence. Each sequence's tokens
// depend only on the model, its prompt, the seed and its (row, sample) key: not on the batch size,
// the other sequences in the batch or the rank (see token_sampler's counter_uniform). Precisely: the
// random numbers do not depend on them; the logits can differ in their last bits between batch
// shapes (another summation order), which changes a sampled token only when its uniform falls
// within that rounding of a cumulative-probability boundary (about 1e-7 relative per token).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "gdpo/eval/token_sampler.hpp"
#include "gdpo/model/causal_lm.hpp"

namespace gdpo::eval {

struct GenerationConfig {
  SamplingConfig sampling;      // the authors' evaluation: sampling, temperature 1, top-k off
  int64_t max_length = 1024;    // prompt + new tokens, as transformers' max_length (the authors')
  int64_t max_new_tokens = 0;   // > 0: also stop after this many new tokens
  int64_t seed = 0;             // >= 0
  bool use_cache = true;        // false: recompute the whole prefix every step (for checks, bench)
};

// One sequence to generate: the prompt's ids and the key its randomness comes from.
struct GenerationItem {
  int64_t row = 0;     // test row (question)
  int64_t sample = 0;  // sample index within the row
  std::vector<int64_t> prompt;
};

struct GeneratedSequence {
  int64_t row = 0, sample = 0;
  std::vector<int64_t> tokens;  // the new tokens, end-of-text excluded
  bool ended = false;           // stopped at end-of-text (else at the length limit)
};

// The new tokens of a prompt of `prompt_length` tokens may number at most this (>= 0).
int64_t new_token_budget(const GenerationConfig& config, int64_t prompt_length);

// Generates every item in one batch: [B, P] left-padded prompts (pad = eos_id, masked), then up to
// max over items of new_token_budget steps. A sequence ends at eos_id (not stored) or at its own
// budget. Runs under NoGradGuard on the model's device; the model is not modified.
// Memory: the cache holds 2 x layers x B x (P + steps) x hidden values; logits only [B, vocab] per step.
std::vector<GeneratedSequence> generate(model::CausalLM& model,
                                        const std::vector<GenerationItem>& items,
                                        const GenerationConfig& config, int64_t eos_id);

}  // namespace gdpo::eval
