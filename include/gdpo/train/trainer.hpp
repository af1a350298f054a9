// The trainer: data-parallel SFT, DPO (and variants) and GDPO steps over MPI ranks, evaluation with
// early stopping, metrics into metrics.h5, HDF5 checkpoints with exact resume, graceful stop on
// SIGTERM/SIGUSR1, and the final model exported as a Hugging Face folder.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "gdpo/data/tokenized.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/loss/loss_config.hpp"
#include "gdpo/model/causal_lm.hpp"
#include "gdpo/train/checkpoint.hpp"
#include "gdpo/train/train_config.hpp"

namespace gdpo::train {

struct TrainerInputs {
  TrainConfig train;
  EvalConfig eval;
  loss::LossConfig loss;
  std::shared_ptr<dist::Communicator> comm;
  model::CausalLMPtr policy;     // the starting weights (replaced by a checkpoint's on resume)
  // Makes the frozen reference model (the starting weights, in the reference dtype); called when
  // the objective needs a reference and its log-probs are not cached for these weights and data.
  std::function<model::CausalLMPtr()> make_reference;
  const data::TokenizedPairs* train_data = nullptr;
  const data::TokenizedPairs* eval_data = nullptr;  // may hold no pairs: no evaluation
  std::string config_ini;        // the effective configuration (stored in checkpoints)
  std::string tokenizer_source;  // copied into the exported model folder ("" = none)
};

class Trainer {
 public:
  explicit Trainer(TrainerInputs inputs);
  ~Trainer();

  // Trains until the end (epochs, examples or max steps), early stopping, or a stop signal.
  // Returns kExitOk, or kExitPreempted after checkpointing on SIGTERM/SIGUSR1.
  int run();

  // Evaluates the policy on the fixed eval subset: the objective's metrics and the belief
  // calibration (belief.js_distance, belief.prob_sum), averaged over pairs and ranks.
  std::map<std::string, double> evaluate();

  const TrainerState& state() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gdpo::train
