// `gdpo train`: SFT, DPO (cDPO, IPO) or Group Distributional Preference Optimization of a causal LM
// on preference data, data-parallel over MPI ranks, into a run directory.
#include <iostream>

#include "bind.hpp"
#include "command.hpp"
#include "common_options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"
#include "gdpo/train/stop_signal.hpp"
#include "gdpo/train/trainer.hpp"
#include "output_paths.hpp"

namespace gdpo::app {

int cmd_train(const Args& args) {
  OptionSet set("gdpo train",
                "train a policy with SFT, DPO (cDPO, IPO) or Group Distributional Preference "
                "Optimization");
  model::ModelSource model_source;
  bind_model(set, model_source);
  std::string tokenizer_path = "bytes";
  bind_tokenizer(set, tokenizer_path);
  train::TrainerInputs in;
  bind_loss(set, in.loss);
  data::DataConfig data_config;
  bind_data(set, data_config, &in.loss);
  bind_train(set, in.train);
  bind_eval(set, in.eval);
  CommonOptions common;
  common.bind(set);
  if (!set.parse(args)) return kExitOk;
  train::validate(in.eval, in.loss);  // --eval.metric against --loss.type, before any work
  require_output_folder(in.train.run_dir, "--train.run-dir");
  // First: from here on SIGTERM/SIGUSR1 (a preemption during the long set-up) only set a flag.
  train::StopSignalGuard signals;

  std::shared_ptr<dist::Communicator> comm = dist::make_communicator(common.backend);
  common.apply(comm->local_size());
  const std::string config = set.effective_config();
  comm->require_identical("the configuration", config);
  if (comm->is_root()) std::cout << config << std::flush;
  in.train.micro_batch(comm->world_size());  // reject an indivisible batch before any work
  // Each rank's GPU (or the CPU), before any work: --train.device cuda without a GPU stops here.
  in.device = dist::select_device(in.train.device, *comm, "--train.device").device;

  auto tokenizer = tokenizer::load_tokenizer(tokenizer_path);
  // Rank 0 tokenizes first (and fills the cache); the others then read the cache.
  data::LoadedData data;
  for (int turn = 0; turn < 2; ++turn) {
    if ((turn == 0) == comm->is_root()) data = data::load_data(data_config, *tokenizer, &std::cerr);
    comm->barrier();
  }
  if (data.train.pairs() == 0) throw InputError("no training pairs in --data.train");

  in.policy = model::load_model(model_source);
  if (tokenizer->vocab_size() > in.policy->config().vocab_size)
    throw UsageError("the tokenizer (" + tokenizer->name() + ") has " +
                     std::to_string(tokenizer->vocab_size()) + " tokens but the model only " +
                     std::to_string(in.policy->config().vocab_size) +
                     " (--tokenizer.path / --model.*)");
  in.make_reference = [model_source, dtype = in.train.reference_dtype] {
    auto source = model_source;
    source.dtype = dtype == train::Precision::kBf16 ? torch::kBFloat16 : torch::kFloat32;
    return model::load_model(source);
  };
  in.comm = comm;
  in.train_data = &data.train;
  in.eval_data = &data.eval;
  in.config_ini = config;
  in.tokenizer_source = tokenizer_path == "bytes" ? "" : tokenizer_path;
  train::Trainer trainer(std::move(in));
  return trainer.run();
}

}  // namespace gdpo::app
