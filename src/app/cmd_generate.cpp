// `gdpo generate`: n samples per test row from a Hugging Face folder, a run directory or a checkpoint,
// data parallel over MPI ranks, into a resumable generations.h5 (and JSON lines on request).
// SIGTERM or SIGUSR1 stops it after the current batch, what it generated kept, with exit code 75
// (requeue: the same command continues).
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "bind.hpp"
#include "command.hpp"
#include "common_options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/core/fault_injection.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/data/test_split.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/eval/generation_run.hpp"
#include "gdpo/eval/policy_source.hpp"
#include "gdpo/eval/test_rows.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"
#include "gdpo/train/stop_signal.hpp"
#include "output_paths.hpp"
#include "test_inputs.hpp"

namespace gdpo::app {

int cmd_generate(const Args& args) {
  OptionSet set("gdpo generate",
                "sample responses for the test rows (one per question) of the test data");
  model::ModelSource model_source;
  bind_model(set, model_source);
  std::string tokenizer_path = "bytes";
  bind_tokenizer(set, tokenizer_path);
  data::DataConfig data_config;
  bind_test_data(set, data_config);
  eval::GenerateConfig config;
  bind_generate(set, config);
  CommonOptions common;
  common.bind(set);
  if (!set.parse(args)) return kExitOk;

  require_writable_file(config.output, "--generate.output");
  require_writable_file(config.jsonl, "--generate.jsonl");
  // First: from here on SIGTERM/SIGUSR1 (a preemption, even during the set-up) only set a flag.
  train::StopSignalGuard signals;

  auto comm = dist::make_communicator(common.backend);
  common.apply(comm->local_size());
  comm->require_identical("the configuration", set.effective_config());
  const torch::Device device = dist::select_device(config.device, *comm, "--generate.device").device;
  eval::GenerateResult result;
  try {
    TestInputs in = load_test_inputs(model_source, tokenizer_path, data_config, &config.generation);
    dist::move_to_device(*in.policy.model, device);
    fault::on_setup_done();
    result = eval::run_generation(*in.policy.model, *in.tokenizer, in.rows, in.kind, config,
                                  in.policy.description, *comm);
  } catch (const train::StopRequested& stopped) {  // thrown on every rank at the same point
    log::info(stopped.what(), "; rerun the same command to continue where it stopped");
    return kExitPreempted;
  }
  if (comm->is_root()) {
    if (result.already_complete) {
      std::cout << "generate: " << config.output
                << " is complete (same settings): nothing to do\n";
    } else {
      std::cout << "generate: " << config.output << ": " << result.chunks_done << " chunks generated"
                << (result.chunks_skipped ? ", " + std::to_string(result.chunks_skipped) +
                                                " taken from a killed run"
                                          : std::string())
                << (result.samples_resumed ? ", " + std::to_string(result.samples_resumed) +
                                                 " samples taken from a stopped run"
                                           : std::string())
                << ", " << result.new_tokens << " new tokens in " << std::fixed
                << std::setprecision(1) << result.seconds << " s ("
                << result.new_tokens / std::max(result.seconds, 1e-9) << " tokens/s)\n";
      if (!config.jsonl.empty()) std::cout << "generate: JSON lines in " << config.jsonl << "\n";
    }
  }
  return kExitOk;
}

}  // namespace gdpo::app
