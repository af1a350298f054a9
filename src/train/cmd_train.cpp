// `gdpo train`: SFT, DPO (cDPO, IPO) or Group Distributional Preference Optimization of a causal LM
// on preference data, data-parallel over MPI ranks, into a run directory.
#include <iostream>

#include "gdpo/cli/common_options.hpp"
#include "gdpo/cli/subcommand.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/data/data_options.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/loss/loss_options.hpp"
#include "gdpo/model/model_options.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"
#include "gdpo/train/trainer.hpp"

namespace gdpo::train {
namespace {

int run_train(const std::vector<std::string>& args) {
  cli::OptionSet set("gdpo train",
                     "train a policy with SFT, DPO (cDPO, IPO) or Group Distributional Preference "
                     "Optimization");
  model::ModelOptions model_options;
  model_options.bind(set);
  std::string tokenizer_path = "bytes";
  set.group("tokenizer", "Tokenizer [tokenizer]")
      .add("path", &tokenizer_path,
           "tokenizer folder (tokenizer.json, or vocab.json + merges.txt), a tokenizer.json, or "
           "'bytes'");
  data::DataOptions data_options;
  data_options.add_to(set);
  loss::LossConfig loss_config;
  loss::bind_loss_options(set, loss_config);
  TrainerInputs in;
  bind(set, in.train);
  bind(set, in.eval);
  cli::CommonOptions common;
  common.bind(set);
  if (!set.parse(args)) return kExitOk;
  // DPO-family data puts the rejected response's own belief in it; GDPO's shares the chosen one.
  if (!set.given("data.mode")) data_options.mode = loss_config.type == "gdpo" ? "gdpo" : "dpo";

  std::shared_ptr<dist::Communicator> comm = dist::make_communicator(common.backend);
  common.apply(comm->local_size());
  const std::string config = set.effective_config();
  comm->require_identical("the configuration", config);
  if (comm->is_root()) std::cout << config << std::flush;
  in.train.micro_batch(comm->world_size());  // reject an indivisible batch before any work

  auto tokenizer = tokenizer::load_tokenizer(tokenizer_path);
  // Rank 0 tokenizes first (and fills the cache); the others then read the cache.
  data::LoadedData data;
  for (int turn = 0; turn < 2; ++turn) {
    if ((turn == 0) == comm->is_root()) data = data::load_data(data_options, *tokenizer, &std::cerr);
    comm->barrier();
  }
  if (data.train.pairs() == 0) throw InputError("no training pairs in --data.train");

  in.policy = model::load_model(model_options);
  if (tokenizer->vocab_size() > in.policy->config().vocab_size)
    throw UsageError("the tokenizer (" + tokenizer->name() + ") has " +
                     std::to_string(tokenizer->vocab_size()) + " tokens but the model only " +
                     std::to_string(in.policy->config().vocab_size) +
                     " (--tokenizer.path / --model.*)");
  in.make_reference = [model_options, dtype = in.train.reference_dtype] {
    auto options = model_options;
    options.dtype = dtype == "bf16" ? "bfloat16" : "float32";
    return model::load_model(options);
  };
  in.loss = loss_config;
  in.comm = comm;
  in.train_data = &data.train;
  in.eval_data = &data.eval;
  in.config_ini = config;
  in.tokenizer_source = tokenizer_path == "bytes" ? "" : tokenizer_path;
  Trainer trainer(std::move(in));
  return trainer.run();
}

}  // namespace
}  // namespace gdpo::train

GDPO_SUBCOMMAND("train",
                "Train with SFT, DPO, cDPO, IPO or GDPO (Group Distributional Preference "
                "Optimization)",
                gdpo::train::run_train);
