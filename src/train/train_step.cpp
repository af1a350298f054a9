#include "gdpo/train/train_step.hpp"

#include <chrono>
#include <cmath>

#include "gdpo/core/error.hpp"
#include "gdpo/loss/objective.hpp"
#include "gdpo/train/autocast.hpp"
#include "gdpo/train/gradient_clip.hpp"
#include "gdpo/train/lr_schedule.hpp"
#include "gdpo/train/metric_accumulator.hpp"

namespace gdpo::train {

namespace {

// Seconds since `t`, then `t` = now; waits for the device first so that the time is the work's.
class PhaseClock {
 public:
  PhaseClock(torch::Device device, bool enabled) : cuda_(device.is_cuda()), enabled_(enabled) {}
  void lap(double* into) {
    if (!enabled_) return;
    if (cuda_) torch::cuda::synchronize();
    const auto now = std::chrono::steady_clock::now();
    *into += std::chrono::duration<double>(now - t_).count();
    t_ = now;
  }

 private:
  bool cuda_, enabled_;
  std::chrono::steady_clock::time_point t_ = std::chrono::steady_clock::now();
};

}  // namespace

TrainStep::TrainStep(model::CausalLM& policy, const TrainConfig& train,
                     const loss::LossConfig& loss, std::shared_ptr<dist::Communicator> comm)
    : policy_(policy), train_(train), loss_(loss), comm_(std::move(comm)) {
  GDPO_CHECK(comm_, "TrainStep needs a communicator");
  auto named = policy_.hf_state_dict();
  for (auto& [name, p] : named) {
    GDPO_CHECK(p.is_floating_point(), "parameter " << name << " is not floating point");
    p.requires_grad_(true);
    params_.push_back(p);
  }
  GDPO_CHECK(train_.zero_stage >= 0 && train_.zero_stage <= 3,
             "--dist.zero-stage must be 0, 1, 2 or 3 (got " << train_.zero_stage << ")");
  if (train_.zero_stage > 0) {
    zero_ = std::make_shared<ZeroState>(policy_, train_.zero_stage, comm_, &train_.optimizer);
    zero_->attach();
  } else {
    optimizer_ = make_optimizer(train_.optimizer, std::move(named));
  }
  // Stage 0 and 1 all-reduce the whole gradients.
  if (train_.zero_stage <= 1)
    sync_ = std::make_unique<GradientSync>(comm_, params_, int64_t{32} << 20,
                                           /*overlap=*/comm_->world_size() > 1);
}

Optimizer& TrainStep::optimizer() {
  GDPO_CHECK(optimizer_, "TrainStep::optimizer(): at --dist.zero-stage "
                             << train_.zero_stage << " the ZeroState holds the optimizer");
  return *optimizer_;
}

bool TrainStep::overlap() const { return overlap_ && sync_ && sync_->overlap(); }

ZeroState::Memory TrainStep::memory() const {
  if (zero_) return zero_->memory();
  ZeroState::Memory m;
  auto bytes = [](const torch::Tensor& t) {
    return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : int64_t{0};
  };
  for (const auto& p : params_) {
    m.parameters += bytes(p);
    m.gradients += bytes(p.grad());
  }
  for (const auto& [name, t] : optimizer_->state()) m.optimizer += bytes(t);
  return m;
}

StepResult TrainStep::run(const data::PairBatch& batch, int64_t step,
                          const ReferenceSource& reference, StepPhases* phases) {
  const int64_t accum = train_.grad_accum;
  const int64_t pairs = batch.pairs();
  GDPO_CHECK(pairs > 0 && pairs % accum == 0,
             "a step's " << pairs << " pairs do not split into " << accum << " micro-batches");
  const int64_t micro = pairs / accum;
  const auto device = policy_.output_weight().device();
  StepPhases unused;
  StepPhases& ph = phases ? *phases : unused;
  PhaseClock clock(device, phases != nullptr);

  policy_.train();
  for (auto& p : params_) p.mutable_grad().reset();
  if (zero_) zero_->begin_step();
  // Overlapped: the last micro-batch's backward launches the buckets' all-reduces as it goes.
  const bool overlapped = overlap() && phases == nullptr;
  MetricAccumulator acc;  // on the device until the one read below
  torch::Tensor losses_finite;  // every micro-batch's loss finite: on the device, read once a step
  for (int64_t a = 0; a < accum; ++a) {
    auto mb = accum == 1 ? batch.to(device) : batch.slice(a * micro, (a + 1) * micro).to(device);
    auto ref = reference ? reference(mb) : loss::ReferenceLogprobs();
    torch::Tensor hidden;
    {
      AutocastGuard autocast(train_.precision == Precision::kBf16, device);
      hidden = policy_.hidden_states(mb.input_ids, mb.attention_mask);
    }
    clock.lap(&ph.forward);
    // With phases, cut the graph at the hidden states: the loss's backward stops there, then the
    // transformer's runs from the hidden states' gradient.
    auto input = phases ? hidden.detach().requires_grad_(true) : hidden;
    auto out = loss::compute_objective(loss_, input, policy_.output_weight(), mb, ref);
    acc.add(out.metrics, micro);
    const auto finite = torch::isfinite(out.loss.detach());
    losses_finite = losses_finite.defined() ? losses_finite.logical_and(finite) : finite;
    clock.lap(&ph.objective);
    if (overlapped) sync_->prepare(a == accum - 1);
    if (zero_) zero_->prepare(a == accum - 1);
    (out.loss / static_cast<double>(accum)).backward();
    clock.lap(&ph.objective_backward);
    if (phases) {
      hidden.backward(input.grad());
      clock.lap(&ph.model_backward);
    }
  }
  if (overlapped)
    sync_->finish();
  else if (sync_)
    sync_->average();
  if (zero_) zero_->reduce_gradients();
  clock.lap(&ph.gradient_sync);
  // The norm (the same on every rank: the gradients are) and the clipping, on the device.
  const auto grad_norm_on_device =
      train_.zero_stage >= 2 ? zero_->clip_gradient_shards(train_.max_grad_norm)
                             : clip_gradients_on_device(params_, train_.max_grad_norm);
  // count.*: summed over ranks. The step's tokens (the micro-batches partition the batch's rows).
  if (!batch.attention_mask.defined() || batch.attention_mask.is_cpu())
    acc.add("count.tokens", static_cast<double>(batch.tokens()), 1.0);
  else
    acc.add({{"count.tokens", batch.attention_mask.sum()}}, pairs);
  // The step's one host read: the metrics summed over the ranks, with how many ranks saw a
  // non-finite loss (in the same all-reduce), and this rank's gradient norm.
  const auto read = acc.all_reduce(*comm_, {losses_finite.logical_not()}, {grad_norm_on_device});
  const bool non_finite_loss = read.at(0) != 0;
  const double grad_norm = read.at(1);
  clock.lap(&ph.clip);
  if (non_finite_loss || !std::isfinite(grad_norm)) {
    for (auto& p : params_) p.mutable_grad().reset();
    if (zero_) zero_->abandon_step();
    throw NonFiniteError("step " + std::to_string(step + 1) + ": the " +
                         (std::isfinite(grad_norm) ? "loss" : "gradient norm") +
                         " is not finite (gradient norm " + std::to_string(grad_norm) +
                         "); the weights are left as they were after step " +
                         std::to_string(step) + ": lower --train.lr or check the data and model");
  }
  const double lr = warmup_lr(train_.lr, train_.warmup_steps, step);
  if (zero_)
    zero_->step(lr);
  else
    optimizer_->step(lr);
  clock.lap(&ph.optimizer);

  StepResult result;
  result.metrics = acc.result();  // already on the host: no read
  result.tokens = static_cast<int64_t>(result.metrics.at("count.tokens"));
  result.metrics.erase("count.tokens");
  result.metrics["grad_norm"] = grad_norm;
  result.metrics["lr"] = lr;
  return result;
}

}  // namespace gdpo::train
