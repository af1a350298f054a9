// One optimizer step of data-parallel training: the code `gdpo train` runs every step and
// `gdpo bench step` times. Forward (under bf16 autocast when asked), objective, backward per
// micro-batch; gradients averaged over the ranks, clipped, then one optimizer update.
//
// Everything stays on the policy's device: the loss, the metrics (accumulated there by
// MetricAccumulator), the finite-loss flag, the gradient norm and the clipping. The host reads the
// device ONCE per step: the reduced metrics, whether any rank's loss was not finite, and the gradient
// norm, in one transfer, which decides whether the update happens (no per-metric .item()). With more
// than one rank the gradient all-reduce is bucketed and overlapped with the last micro-batch's
// backward (GradientSync's overlap; not on the timed path, whose backward runs in two pieces). On CPU
// the step is bit for bit what it was with host metrics, host clipping and average() after the
// backward. With train.zero_stage > 0 the gradients, optimizer state and (stage 3) parameters
// are sharded over the ranks by a ZeroState (train/zero_state.hpp): the same step, the same
// arithmetic per element.
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
#include "gdpo/train/zero_state.hpp"

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
  double gradient_sync = 0;       // averaging the gradients over the ranks (after the backward:
                                  // the timed path does not overlap it)
  double clip = 0;                // global gradient norm, clipping, and the step's one host read
                                  // (with the metrics' reduction over the ranks)
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
  // (they agree through one all-reduce, the metrics') BEFORE the optimizer step: the weights stay as
  // they were (and the gradients are cleared).
  // `batch` may be on the host (as the trainer's are: its token count is then counted there) or
  // on the device.
  StepResult run(const data::PairBatch& batch, int64_t step, const ReferenceSource& reference,
                 StepPhases* phases = nullptr);

  // Whether the gradient all-reduce overlaps the backward: on by default, effective with more than
  // one rank and without `phases`. Off: GradientSync::average() after the backward. Either way the
  // same gradients, bit for bit.
  void set_overlap(bool on) { overlap_ = on; }
  bool overlap() const;

  // The optimizer of a stage-0 step (a ZeroState holds its own, over the shards, at other stages).
  Optimizer& optimizer();
  // The sharding at zero_stage > 0, else nullptr.
  ZeroState* zero() { return zero_.get(); }
  // Bytes of parameters, gradients and optimizer state this rank holds now.
  ZeroState::Memory memory() const;
  const std::vector<torch::Tensor>& parameters() const { return params_; }

 private:
  model::CausalLM& policy_;
  TrainConfig train_;
  loss::LossConfig loss_;
  std::shared_ptr<dist::Communicator> comm_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<GradientSync> sync_;  // stages 0 and 1; overlap hooks with more than one rank
  std::shared_ptr<ZeroState> zero_;     // stages 1-3
  bool overlap_ = true;
};

}  // namespace gdpo::train
