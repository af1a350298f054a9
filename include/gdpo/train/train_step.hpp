// One optimizer step of data-parallel training: the code `gdpo train` runs every step and
// `gdpo bench step` times. Forward (under bf16 autocast when asked), objective, backward per
// micro-batch; gradients averaged over the ranks, clipped, then one optimizer update.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gdpo/core/error.hpp"
#include "gdpo/data/batch.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/loss/loss_config.hpp"
#include "gdpo/loss/reference_logprobs.hpp"
#include "gdpo/model/causal_lm.hpp"
#include "gdpo/train/gradient_sync.hpp"
#include "gdpo/train/optimizer.hpp"
#include "gdpo/train/train_config.hpp"

namespace gdpo::train {

// The reference log-probs of a micro-batch (already on the policy's device): from the cache, from a
// reference model run online, or none (default-constructed) when the objective needs none.
using ReferenceSource = std::function<loss::ReferenceLogprobs(const data::PairBatch& micro_batch)>;

// Seconds spent in each phase of one step, summed over its micro-batches (filled when asked).
struct StepPhases {
  double forward = 0;             // policy hidden states (under autocast with bf16)
  double objective = 0;           // compute_objective: chunked log-probs + loss
  double objective_backward = 0;  // backward of the loss down to the hidden states + output weight
  double model_backward = 0;      // backward of the transformer from the hidden states
  double gradient_sync = 0;       // averaging the gradients over the ranks
  double clip = 0;                // global gradient norm and clipping
  double optimizer = 0;           // optimizer step
  double total() const {
    return forward + objective + objective_backward + model_backward + gradient_sync + clip +
           optimizer;
  }
};

// A step whose loss or gradient is NaN or infinite (exit code 1): training cannot go on from it.
class NonFiniteError : public Error {
 public:
  using Error::Error;
};

// What one step did, the same on every rank.
struct StepResult {
  // The objective's metrics (LossOutput::metrics) averaged over the step's pairs on every rank,
  // plus "grad_norm" (before clipping) and "lr".
  std::map<std::string, double> metrics;
  int64_t tokens = 0;  // non-padding tokens of the step, over all ranks
};

class TrainStep {
 public:
  // Owns the optimizer and the gradient averaging over every parameter of `policy` (which must
  // outlive it). Takes train.optimizer, lr, warmup_steps, max_grad_norm, grad_accum and precision.
  TrainStep(model::CausalLM& policy, const TrainConfig& train, const loss::LossConfig& loss,
            std::shared_ptr<dist::Communicator> comm);

  // Optimizer step number `step` (0-based; sets the warmup learning rate) on this rank's `batch`:
  // train.grad_accum micro-batches of equal size, each moved to the policy's device, its loss
  // divided by grad_accum before backward. With `phases`, the backward is split at the hidden
  // states (the same arithmetic, in two calls) and every phase is timed.
  // A non-finite loss on any rank or a non-finite gradient norm throws NonFiniteError on every rank
  // (they agree through one all-reduce) BEFORE the optimizer step: the weights stay as they were.
  StepResult run(const data::PairBatch& batch, int64_t step, const ReferenceSource& reference,
                 StepPhases* phases = nullptr);

  Optimizer& optimizer() { return *optimizer_; }
  const std::vector<torch::Tensor>& parameters() const { return params_; }

 private:
  model::CausalLM& policy_;
  TrainConfig train_;
  loss::LossConfig loss_;
  std::shared_ptr<dist::Communicator> comm_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<GradientSync> sync_;
};

}  // namespace gdpo::train
