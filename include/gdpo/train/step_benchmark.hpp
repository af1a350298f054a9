// The pieces of `gdpo bench step`: a synthetic PairBatch with random tokens and valid spans,
// reference log-probs shaped as the reference cache returns them, and one training step exactly as
// the trainer runs it (forward, objective, backward, clipping, optimizer), optionally timed by phase.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "gdpo/data/batch.hpp"
#include "gdpo/loss/loss_options.hpp"
#include "gdpo/loss/reference_logprobs.hpp"
#include "gdpo/model/causal_lm.hpp"
#include "gdpo/train/optimizer.hpp"

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
// differ in belief (chosen_belief != rejected_belief); the K belief ids of a pair are distinct;
// p* is random and sums to 1; chosen_is_majority = (chosen_belief == argmax p*). Deterministic in
// `seed`. CPU tensors.
data::PairBatch synthetic_pair_batch(const SyntheticBatchShape& shape, int64_t vocab_size,
                                     uint64_t seed);

// Random (negative) summed log-probs for each row, as the reference cache would return them:
// belief + after_belief == response. [2B] float32 each.
loss::ReferenceLogprobs synthetic_reference(const data::PairBatch& batch, uint64_t seed);

// Seconds spent in each phase of one step (filled by StepRunner::step when asked).
struct StepPhases {
  double forward = 0;             // policy hidden states (under autocast with bf16)
  double objective = 0;           // compute_objective: chunked log-probs + loss
  double objective_backward = 0;  // backward of the loss down to the hidden states + output weight
  double model_backward = 0;      // backward of the transformer from the hidden states
  double clip = 0;                // global gradient norm and clipping
  double optimizer = 0;           // optimizer step
  double total() const {
    return forward + objective + objective_backward + model_backward + clip + optimizer;
  }
};

// Owns the optimizer over every parameter of `policy` (which must outlive it).
class StepRunner {
 public:
  StepRunner(model::CausalLM& policy, const OptimizerConfig& optimizer, double lr,
             double max_grad_norm, bool bf16);

  // One optimizer step on `batch` (already on the policy's device), as Trainer's train_step with
  // one micro-batch. With `phases`, the backward is split at the hidden states (the same
  // arithmetic, in two calls) and each phase is timed. Returns the loss.
  double step(const loss::LossConfig& loss, const data::PairBatch& batch,
              const loss::ReferenceLogprobs& reference, StepPhases* phases = nullptr);

 private:
  model::CausalLM& policy_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<Optimizer> optimizer_;
  double lr_, max_grad_norm_;
  bool bf16_;
};

}  // namespace gdpo::train
