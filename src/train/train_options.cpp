#include "gdpo/train/train_options.hpp"

#include "gdpo/cli/checks.hpp"
#include "gdpo/core/error.hpp"

namespace gdpo::train {

int64_t TrainOptions::micro_batch(int world_size) const {
  const int64_t per_step = static_cast<int64_t>(world_size) * grad_accum;
  if (batch_size % per_step != 0)
    throw UsageError("--train.batch-size " + std::to_string(batch_size) +
                     " must be divisible by world size x --train.grad-accum = " +
                     std::to_string(world_size) + " x " + std::to_string(grad_accum));
  return batch_size / per_step;
}

void bind(cli::OptionSet& set, TrainOptions& o) {
  set.group("train", "Training [train]")
      .add("run-dir", &o.run_dir, "run directory: checkpoints/, metrics.h5, config.ini")
      .add("resume", &o.resume,
           "auto (newest complete checkpoint in the run directory, if any) | none | PATH")
      .add("optimizer", &o.optimizer.kind, "rmsprop (the paper's) | adamw")
      .add("lr", &o.lr, "peak learning rate")
      .add("warmup-steps", &o.warmup_steps, "linear warmup steps")
      .add("weight-decay", &o.optimizer.weight_decay, "weight decay")
      .add("max-grad-norm", &o.max_grad_norm, "clip the global gradient norm (0: off)")
      .add("batch-size", &o.batch_size, "preference pairs per optimizer step, over all ranks")
      .add("grad-accum", &o.grad_accum, "micro-batches accumulated per step on each rank")
      .add("n-epochs", &o.n_epochs, "epochs over the training split")
      .add("n-examples", &o.n_examples, "train on this many pairs instead (0: use n-epochs)")
      .add("max-steps", &o.max_steps, "stop after this many optimizer steps (0: no limit)")
      .add("precision", &o.precision, "fp32 | bf16 (autocast, fp32 master weights)")
      .add("reference", &o.reference,
           "reference log-probs: cache (once, in HDF5) | online (every step) | none")
      .add("reference-dtype", &o.reference_dtype, "reference model weights: fp32 | bf16")
      .add("seed", &o.seed, "seed of data order and initialisation")
      .add("keep-last", &o.keep_last, "checkpoints kept besides the best")
      .add("save-every-examples", &o.save_every_examples,
           "checkpoint every this many pairs (0: at every evaluation)")
      .add("progress-seconds", &o.progress_seconds,
           "progress line period when stdout is not a terminal")
      .add("export", &o.export_model,
           "best (the best evaluation's checkpoint) | last: the weights written to <run-dir>/model");
  set.validate([&o] {
    cli::require_positive("train.lr", o.lr);
    cli::require_positive("train.batch-size", static_cast<double>(o.batch_size));
    cli::require_positive("train.grad-accum", static_cast<double>(o.grad_accum));
    if (o.warmup_steps < 0) throw UsageError("--train.warmup-steps must be >= 0");
    if (o.max_grad_norm < 0) throw UsageError("--train.max-grad-norm must be >= 0");
    if (o.n_epochs < 1 && o.n_examples <= 0)
      throw UsageError("--train.n-epochs must be >= 1 when --train.n-examples is 0");
    if (o.keep_last < 1) throw UsageError("--train.keep-last must be >= 1");
    cli::require_one_of("train.precision", o.precision, {"fp32", "bf16"});
    cli::require_one_of("train.reference", o.reference, {"cache", "online", "none"});
    cli::require_one_of("train.reference-dtype", o.reference_dtype, {"fp32", "bf16"});
    cli::require_one_of("train.export", o.export_model, {"best", "last"});
    cli::require_one_of("train.optimizer", o.optimizer.kind, {"rmsprop", "adamw"});
  });
}

void bind(cli::OptionSet& set, EvalOptions& o) {
  set.group("eval", "Evaluation during training [eval]")
      .add("every-examples", &o.every_examples,
           "evaluate after every this many training pairs (0: only at the end)")
      .add("n-examples", &o.n_examples, "size of the fixed eval subset (0: the whole split)")
      .add("batch-size", &o.batch_size, "pairs per eval batch, over all ranks")
      .add("patience", &o.patience, "early stopping after this many evaluations without "
                                    "improvement (0: off)")
      .add("metric", &o.metric, "eval metric for early stopping and the best checkpoint")
      .add("mode", &o.mode, "min | max: whether a lower or higher metric is better")
      .flag("first-eval", &o.first_eval, "evaluate before the first step");
  set.validate([&o] {
    cli::require_one_of("eval.mode", o.mode, {"min", "max"});
    if (o.batch_size < 1) throw UsageError("--eval.batch-size must be >= 1");
    if (o.patience < 0) throw UsageError("--eval.patience must be >= 0");
  });
}

}  // namespace gdpo::train
