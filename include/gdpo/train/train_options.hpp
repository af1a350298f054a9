// The options of `gdpo train` and `gdpo bench step`: groups [train] and [eval]. Defaults are the
// paper's (RMSprop, lr 5e-7, 150 warmup steps, clip 10, eval every 10,000 examples, patience 4).
#pragma once
#include <cstdint>
#include <string>

#include "gdpo/cli/options.hpp"
#include "gdpo/train/optimizer.hpp"

namespace gdpo::train {

struct TrainOptions {
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
  std::string precision = "fp32";     // fp32 | bf16 (autocast, fp32 master weights)
  std::string reference = "cache";    // cache (computed once, stored in HDF5) | online | none
  std::string reference_dtype = "fp32";  // fp32 | bf16: the reference model's weights
  int64_t seed = 0;
  int64_t keep_last = 2;              // checkpoints kept besides the best
  int64_t save_every_examples = 0;    // 0: checkpoint at every evaluation
  double progress_seconds = 30;       // progress line period when stdout is not a terminal
  int64_t max_steps = 0;              // > 0: stop after this many optimizer steps (tests, smoke runs)
  std::string export_model = "best";  // best | last: the weights written to <run-dir>/model

  // Pairs of one micro-batch on one rank; checks that batch_size divides evenly.
  int64_t micro_batch(int world_size) const;
};

struct EvalOptions {
  int64_t every_examples = 10000;  // evaluate after every this many training pairs (0: only at end)
  int64_t n_examples = 256;        // the fixed eval subset (0: the whole eval split)
  int64_t batch_size = 32;         // pairs per eval batch over all ranks
  int64_t patience = 4;            // early stopping: evaluations without improvement (0: off)
  std::string metric = "loss";     // the eval metric for early stopping and the best checkpoint
  std::string mode = "min";        // min | max
  bool first_eval = true;          // evaluate before the first step
};

void bind(cli::OptionSet& set, TrainOptions& options);
void bind(cli::OptionSet& set, EvalOptions& options);

}  // namespace gdpo::train
