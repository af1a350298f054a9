// The trainer: data-parallel SFT, DPO (and variants) and GDPO steps over MPI ranks, evaluation with
// early stopping, metrics into metrics.h5, HDF5 checkpoints with exact resume, graceful stop on
// SIGTERM/SIGUSR1, and the final model exported as a Hugging Face folder.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

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
  // Where the policy, its optimizer state, the reference model, batches, reference log-probs and
  // the loss live (the app resolves --train.device with dist::select_device). The trainer moves the
  // policy (and each reference model it makes) there before the optimizer state is created;
  // checkpoints and the exported model are written from host copies and read back onto it.
  torch::Device device = torch::kCPU;
  // Makes the frozen reference model (the starting weights, in the reference dtype); called when
  // the objective needs a reference and its log-probs are not cached for these weights and data.
  std::function<model::CausalLMPtr()> make_reference;
  const data::TokenizedPairs* train_data = nullptr;
  const data::TokenizedPairs* eval_data = nullptr;  // may hold no pairs: no evaluation
  std::string config_ini;        // the effective configuration (stored in checkpoints)
  std::string tokenizer_source;  // copied into the exported model folder ("" = none)
};

// The eval subset as the GDPO authors choose it (their eval iterator shuffles the PROMPTS with the
// run's seed, then yields their pairs until n_eval_examples): the questions of `data` in an order
// shuffled by data::Rng seeded from `seed` (--train.seed), each question's pairs in file order, the
// list cut after `n_examples` pairs (0: every pair; the last question may be cut). Pair indices
// into `data`; a function of (data, n_examples, seed) only, so the same on every rank and for the
// whole run (a resumed run included). A file grouped by question thus gives a sample of many
// questions, not the file's first few.
std::vector<int64_t> eval_subset(const data::TokenizedPairs& data, int64_t n_examples,
                                 int64_t seed);

class Trainer {
 public:
  explicit Trainer(TrainerInputs inputs);
  ~Trainer();

  // Trains until the end (epochs, examples or max steps), early stopping, or a stop signal.
  // Returns kExitOk, or kExitPreempted on SIGTERM/SIGUSR1: after a checkpoint when it arrived while
  // training, at once (nothing written half) when it arrived during set-up (data, resume, the
  // reference pass). A run resumed at its end with summary.json and model/ written is complete:
  // it returns kExitOk and writes nothing (not even config.ini); one killed before those are written
  // evaluates (unless its checkpoint holds the last step's evaluation) and exports.
  int run();

  // Evaluates the policy on the fixed eval subset (eval_subset() of the eval data with
  // --eval.n-examples and --train.seed, chosen once at construction; rank r takes its pairs r,
  // r + world, ...): the objective's metrics and the belief calibration (belief.js_distance,
  // belief.prob_sum), averaged over pairs and ranks, and belief.js_distance_per_question, the mean
  // over the subset's questions of each question's mean JS distance (questions weighted equally).
  std::map<std::string, double> evaluate();

  const TrainerState& state() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gdpo::train
