// `gdpo evaluate`: the paper's metrics of one model on the test rows (the belief distribution from
// its logits, and from a `gdpo generate` file the sampling metrics, consistency and ROUGE-L), into
// eval.h5 and a printed table with the reference rows. SIGTERM or SIGUSR1 before the last forward
// pass is done stops it with exit code 75 (requeue) and nothing written: it starts over.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <optional>

#include "bind.hpp"
#include "command.hpp"
#include "common_options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/core/fault_injection.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/eval/belief_judge.hpp"
#include "gdpo/eval/belief_metrics.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/eval/evaluator.hpp"
#include "gdpo/eval/generation_store.hpp"
#include "gdpo/train/stop_signal.hpp"
#include "output_paths.hpp"
#include "test_inputs.hpp"

namespace gdpo::app {

int cmd_evaluate(const Args& args) {
  OptionSet set("gdpo evaluate",
                "the paper's evaluation of a model on the test rows (one per question)");
  model::ModelSource model_source;
  bind_model(set, model_source);
  std::string tokenizer_path = "bytes";
  bind_tokenizer(set, tokenizer_path);
  data::DataConfig data_config;
  bind_test_data(set, data_config);
  eval::EvaluateConfig config;
  std::string generations, output, option_map, judge_path, judge_data;
  set.group("evaluate", "Evaluation [evaluate]")
      .add("generations", &generations,
           "a `gdpo generate` file of this model on the same test data (empty: only the metrics "
           "from the logits)")
      .add("output", &output, "eval.h5 to write (empty: print only)")
      .add("label", &config.label, "the method's name in tables (default: the run folder's name)")
      .add("option-map", &option_map,
           "option text -> id JSON for class-belief consistency (the authors' option_map.json); "
           "empty: each question's own options")
      .add("judge", &judge_path,
           "the belief judge for belief-preference consistency: a model trained with `gdpo train "
           "--loss.type sft` on `gdpo data judge` examples (folder, run or checkpoint)")
      .add("judge-data", &judge_data,
           "held-out `gdpo data judge` examples: the judge's accuracy is printed beside its scores")
      .add("judge-sample", &config.judge_sample,
           "the sample the judge scores (the authors: their predict_4); -1: every sample")
      .add("batch-size", &config.batch_size, "prompts per forward pass")
      .add("rouge-sample", &config.rouge_sample,
           "the sample ROUGE-L scores (the authors: the first)")
      .add("device", &config.device,
           "auto (each rank's GPU when GPUs are visible, else cpu) | cpu | cuda (rank r of a node "
           "takes its GPU r): the model and the judge");
  CommonOptions common;
  common.bind(set);
  if (!set.parse(args)) return kExitOk;
  if (config.batch_size < 1) throw UsageError("--evaluate.batch-size must be >= 1");
  if (config.rouge_sample < 0) throw UsageError("--evaluate.rouge-sample must be >= 0");
  if (!dist::is_device_choice(config.device))
    throw UsageError("--evaluate.device '" + config.device + "' is not auto, cpu or cuda");

  require_writable_file(output, "--evaluate.output");
  // First: from here on SIGTERM/SIGUSR1 (a preemption, even during the set-up) only set a flag.
  train::StopSignalGuard signals;

  auto comm = dist::make_communicator(common.backend);
  common.apply(comm->local_size());
  comm->require_identical("the configuration", set.effective_config());
  const torch::Device device = dist::select_device(config.device, *comm, "--evaluate.device").device;
  try {
    std::optional<eval::OptionMap> map;
    if (!option_map.empty()) map = eval::OptionMap::load(option_map);
    std::optional<eval::Generations> gens;
    if (!generations.empty()) gens = eval::read_generations(generations);
    TestInputs in = load_test_inputs(model_source, tokenizer_path, data_config, nullptr);
    dist::move_to_device(*in.policy.model, device);
    fault::on_setup_done();
    if (train::stop_agreed(*comm)) throw train::StopRequested("the set-up");
    if (config.label.empty() && !model_source.path.empty()) {
      auto p = std::filesystem::path(model_source.path).lexically_normal();
      if (p.filename().empty()) p = p.parent_path();
      config.label = p.filename().string();
    }
    if (config.label.empty()) config.label = "model";
    config.dataset = in.data_name;
    config.model = in.policy.description;

    eval::Judge judge;
    std::optional<eval::BeliefJudge> judge_model;
    eval::JudgeAccuracy judge_accuracy;
    if (!judge_path.empty()) {
      if (!gens)
        throw UsageError("--evaluate.judge needs --evaluate.generations (it judges samples)");
      model::ModelSource judge_source;
      judge_source.path = judge_path;
      judge_source.dtype = model_source.dtype;
      auto loaded = eval::load_policy(judge_source);
      dist::move_to_device(*loaded.model, device);
      const auto& jc = loaded.model->config();
      judge_model.emplace(loaded.model, in.tokenizer, config.batch_size,
                          jc.family == model::Family::kGpt2 ? jc.max_positions - 1 : 0);
      if (!judge_data.empty())
        judge_accuracy =
            judge_model->accuracy(data::read_records(judge_data, data_config.read), *comm);
      else if (comm->is_root())
        std::cerr << "evaluate: no --evaluate.judge-data: the judge's accuracy is unknown\n";
      judge = [&](const std::vector<eval::JudgeQuery>& queries) {
        return judge_model->classify(queries, *comm);
      };
    } else if (!judge_data.empty()) {
      throw UsageError("--evaluate.judge-data without --evaluate.judge");
    }
    auto report = eval::evaluate(*in.policy.model, in.rows, gens ? &*gens : nullptr, in.kind,
                                 map ? &*map : nullptr, judge, config, *comm);
    report.judge_accuracy = judge_accuracy.value();
    if (gens) {
      report.generations = generations;
      const auto settings = nlohmann::json::parse(gens->settings, nullptr, false);
      if (settings.is_object() && settings.contains("seed"))
        report.seed = settings["seed"].get<int64_t>();
    }
    if (comm->is_root()) {
      std::cout << "evaluate: " << config.label << " on " << report.question.size()
                << " test rows of " << config.dataset
                << (gens ? ", " + std::to_string(report.n_samples) + " samples per row"
                         : std::string(", no generations (sampling metrics: -)"))
                << "\n"
                << eval::format_eval_table(report, config);
      if (judge)
        std::cout << "belief-preference consistency by the judge " << judge_path
                  << ": its accuracy on held-out examples is "
                  << (judge_accuracy.total > 0
                          ? std::to_string(judge_accuracy.value()).substr(0, 5) + " (" +
                                std::to_string(judge_accuracy.correct) + " of " +
                                std::to_string(judge_accuracy.total) + ")"
                          : std::string("unknown (no --evaluate.judge-data)"))
                  << "\n";
      if (!output.empty()) {
        eval::write_eval(output, report, config);
        std::cout << "evaluate: wrote " << output << "\n";
      }
    }
    comm->barrier();
    return kExitOk;
  } catch (const train::StopRequested& stopped) {  // thrown on every rank at the same point
    log::info(stopped.what(), "; nothing was written: rerun the same command to evaluate");
    return kExitPreempted;
  }
}

}  // namespace gdpo::app
