#include "gdpo/train/train_config.hpp"

#include "gdpo/core/checks.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/loss/objective.hpp"

namespace gdpo::train {

const char* precision_name(Precision p) { return p == Precision::kFp32 ? "fp32" : "bf16"; }

const char* reference_mode_name(ReferenceMode m) {
  switch (m) {
    case ReferenceMode::kCache: return "cache";
    case ReferenceMode::kOnline: return "online";
    case ReferenceMode::kNone: return "none";
  }
  return "?";
}

const char* export_choice_name(ExportChoice e) { return e == ExportChoice::kBest ? "best" : "last"; }

const char* metric_goal_name(MetricGoal g) { return g == MetricGoal::kMin ? "min" : "max"; }

int64_t TrainConfig::micro_batch(int world_size) const {
  const int64_t per_step = static_cast<int64_t>(world_size) * grad_accum;
  if (batch_size % per_step != 0)
    throw UsageError("--train.batch-size " + std::to_string(batch_size) +
                     " must be divisible by world size x --train.grad-accum = " +
                     std::to_string(world_size) + " x " + std::to_string(grad_accum));
  return batch_size / per_step;
}

void validate(const TrainConfig& o) {
  require_positive("train.lr", o.lr);
  require_positive("train.batch-size", static_cast<double>(o.batch_size));
  require_positive("train.grad-accum", static_cast<double>(o.grad_accum));
  require_at_least("train.warmup-steps", static_cast<double>(o.warmup_steps), 0);
  require_at_least("train.max-grad-norm", o.max_grad_norm, 0);
  if (o.zero_stage < 0 || o.zero_stage > 3)
    throw UsageError("--dist.zero-stage must be 0, 1, 2 or 3 (got " +
                     std::to_string(o.zero_stage) + ")");
  require_at_least("train.weight-decay", o.optimizer.weight_decay, 0);
  if (o.n_epochs < 1 && o.n_examples <= 0)
    throw UsageError("--train.n-epochs must be >= 1 when --train.n-examples is 0");
  require_at_least("train.keep-last", static_cast<double>(o.keep_last), 1);
  require_at_least("train.n-examples", static_cast<double>(o.n_examples), 0);
  require_at_least("train.max-steps", static_cast<double>(o.max_steps), 0);
  require_at_least("train.save-every-examples", static_cast<double>(o.save_every_examples), 0);
  require_positive("train.progress-seconds", o.progress_seconds);
  require_at_least("train.seed", static_cast<double>(o.seed), 0);
  if (!dist::is_device_choice(o.device))
    throw UsageError("--train.device '" + o.device + "' is not auto, cpu or cuda");
}

void validate(const EvalConfig& o) {
  require_at_least("eval.batch-size", static_cast<double>(o.batch_size), 1);
  require_at_least("eval.patience", static_cast<double>(o.patience), 0);
  require_at_least("eval.every-examples", static_cast<double>(o.every_examples), 0);
  require_at_least("eval.n-examples", static_cast<double>(o.n_examples), 0);
  if (o.metric.empty()) throw UsageError("--eval.metric must name an eval metric");
}

std::set<std::string> eval_metric_names(const loss::LossConfig& loss) {
  auto names = loss::objective_metric_names(loss, /*belief_metrics=*/true);
  names.insert({"count.pairs", "belief.js_distance_per_question"});
  return names;
}

void validate(const EvalConfig& config, const loss::LossConfig& loss) {
  validate(config);
  const auto names = eval_metric_names(loss);
  if (names.count(config.metric)) return;
  std::string list;
  for (const auto& n : names) list += " " + n;
  throw UsageError("--eval.metric '" + config.metric + "' is not an eval metric of --loss.type " +
                   loss::loss_type_name(loss.type) + "; they are:" + list);
}

}  // namespace gdpo::train
