// How `gdpo train` trains and evaluates: typed structs, validated once where they are built (the app
// binds them to `[train]` and `[eval]`). Defaults are the paper's (RMSprop, lr 5e-7, 150 warmup
// steps, clip 10, eval every 10,000 examples, patience 4).
#pragma once
#include <cstdint>
#include <set>
#include <string>

#include "gdpo/loss/loss_config.hpp"
#include "gdpo/train/optimizer.hpp"

namespace gdpo::train {

enum class Precision { kFp32, kBf16 };              // bf16: autocast forward, fp32 master weights
enum class ReferenceMode { kCache, kOnline, kNone };  // reference log-probs: once in HDF5, every
                                                      // step, or none (reference-free)
enum class ExportChoice { kBest, kLast };            // the weights written to <run-dir>/model
enum class MetricGoal { kMin, kMax };                // whether a lower or higher metric is better

const char* precision_name(Precision p);        // "fp32", "bf16"
const char* reference_mode_name(ReferenceMode m);  // "cache", "online", "none"
const char* export_choice_name(ExportChoice e);    // "best", "last"
const char* metric_goal_name(MetricGoal g);        // "min", "max"

struct TrainConfig {
  std::string run_dir = "runs/gdpo";  // checkpoints/, metrics.h5, config.ini
  std::string resume = "auto";        // auto | none | PATH to a checkpoint .h5
  OptimizerConfig optimizer;
  double lr = 5e-7;
  int64_t warmup_steps = 150;
  double max_grad_norm = 10.0;        // 0 disables clipping
  int64_t batch_size = 32;            // pairs per optimizer step, over all ranks
  int64_t grad_accum = 1;             // micro-batches per step on each rank
  int64_t n_epochs = 1;
  int64_t n_examples = 0;             // > 0: stop after this many pairs instead of n_epochs
  Precision precision = Precision::kFp32;
  ReferenceMode reference = ReferenceMode::kCache;
  Precision reference_dtype = Precision::kFp32;  // the reference model's weights
  int64_t seed = 0;
  int64_t keep_last = 2;              // checkpoints kept besides the best
  int64_t save_every_examples = 0;    // 0: checkpoint at every evaluation
  double progress_seconds = 30;       // progress line period when stdout is not a terminal
  int64_t max_steps = 0;              // > 0: stop after this many optimizer steps (tests, smoke runs)
  ExportChoice export_model = ExportChoice::kBest;
  // Where the policy, the reference model, the optimizer state, batches and reference log-probs
  // live: auto | cpu | cuda, resolved per rank by dist::select_device (the app passes the result
  // as TrainerInputs::device).
  std::string device = "auto";
  // Recompute each transformer block's activations in the backward pass instead of keeping them
  // (less memory, about one more forward pass of time); the policy only.
  bool activation_checkpointing = false;
  // ZeRO data parallelism (train/zero_state.hpp; --dist.zero-stage): 0 replicates everything, 1
  // shards the optimizer state, 2 also the gradients, 3 also the parameters.
  int zero_stage = 0;

  // Pairs of one micro-batch on one rank; UsageError unless batch_size divides evenly.
  int64_t micro_batch(int world_size) const;
};

struct EvalConfig {
  int64_t every_examples = 10000;  // evaluate after every this many training pairs (0: only at end)
  // The fixed eval subset's size in pairs (0: the whole eval split): the eval questions shuffled
  // with --train.seed, their pairs taken in that order up to n_examples (train::eval_subset, the
  // authors' prompt-level shuffle), chosen once per run.
  int64_t n_examples = 256;
  int64_t batch_size = 32;         // pairs per eval batch over all ranks
  int64_t patience = 4;            // early stopping: evaluations without improvement (0: off)
  std::string metric = "loss";     // the eval metric for early stopping and the best checkpoint
  MetricGoal goal = MetricGoal::kMin;
  bool first_eval = true;          // evaluate before the first step
};

// UsageError naming the `--train.*` / `--eval.*` option of any invalid value.
void validate(const TrainConfig& config);
void validate(const EvalConfig& config);
// --eval.metric must be one of eval_metric_names(loss): checked with the options, before any work.
void validate(const EvalConfig& config, const loss::LossConfig& loss);
// What the trainer's evaluation reports for `loss`: the objective's metrics with the belief
// metrics, count.pairs and belief.js_distance_per_question.
std::set<std::string> eval_metric_names(const loss::LossConfig& loss);

}  // namespace gdpo::train
