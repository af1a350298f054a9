// `gdpo bench step`: examples/s, tokens/s and memory of full training steps (forward, objective,
// backward, clipping, optimizer) for SFT, DPO and GDPO on a synthetic micro-batch: the trainer's own
// TrainStep, with reference log-probs as the cache returns them (no reference forward).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "bind.hpp"
#include "command.hpp"
#include "common_options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/synthetic_batch.hpp"
#include "gdpo/train/train_step.hpp"

namespace gdpo::app {
namespace {

using namespace train;

struct Preset {
  std::string model;
  SyntheticBatchShape shape;
};

// paper-4l: the shape the reference figure was measured on.
const std::map<std::string, Preset>& presets() {
  static const std::map<std::string, Preset> p = {
      {"paper-4l", {"bench-gpt2-4l", {8, 48, 48, 2, 5}}},
      {"tiny", {"tiny-gpt2", {4, 16, 16, 2, 3}}},
  };
  return p;
}

// The authors' Python implementation of the same GDPO step on the paper-4l shape, measured on a
// 2-core machine of this kind with OpenBLAS and the same LibTorch version (issue text).
constexpr double kReferenceExamplesPerSecond = 1.7;
constexpr double kReferenceSecondsPerStep = 4.8;

// A field of /proc/self/status in bytes ("VmHWM", "VmRSS"); -1 where unavailable.
int64_t proc_status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false where the kernel does not allow it.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::string mib(int64_t bytes) {
  if (bytes < 0) return "n/a";
  std::ostringstream os;
  os << std::fixed << std::setprecision(0) << static_cast<double>(bytes) / (1 << 20);
  return os.str();
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Row {
  std::string loss;
  double seconds = 0;  // best and median seconds per step
  double median = 0;
  int64_t peak = -1, growth = -1;
  StepPhases phases;  // best step's, with --bench.breakdown
};

}  // namespace

int cmd_bench_step(const Args& args) {
  OptionSet set("gdpo bench step",
                "training-step speed (examples/s, tokens/s, peak RSS) for SFT, DPO and GDPO");
  CommonOptions common;
  common.bind(set);
  model::ModelSource model_source;
  model_source.config = presets().at("paper-4l").model;
  bind_model(set, model_source);
  loss::LossConfig loss_config;
  bind_loss(set, loss_config);
  std::string preset = "paper-4l", losses = "sft,dpo,gdpo";
  TrainConfig train_config;  // the paper's lr and clipping; one micro-batch per step
  train_config.warmup_steps = 0;
  SyntheticBatchShape shape;
  int64_t steps = 5, warmup = 1, seed = 0;
  bool breakdown = false;
  set.group("bench", "Step benchmark [bench]")
      .add("preset", &preset, "paper-4l (bench-gpt2-4l, 8 pairs of 48 + 48 tokens, K=5) | tiny")
      .add("pairs", &shape.pairs, "pairs per step (overrides the preset)")
      .add("prompt-tokens", &shape.prompt_tokens, "prompt tokens per row (overrides the preset)")
      .add("response-tokens", &shape.response_tokens,
           "response tokens per row, belief span included (overrides the preset)")
      .add("belief-tokens", &shape.belief_tokens, "belief span tokens (overrides the preset)")
      .add("beliefs", &shape.beliefs, "K beliefs per question (overrides the preset)")
      .add("losses", &losses, "comma-separated objectives run in turn (replaces --loss.type)")
      .choice("precision", &train_config.precision,
              {{"fp32", Precision::kFp32}, {"bf16", Precision::kBf16}},
              "bf16: autocast forward, fp32 master weights")
      .choice("optimizer", &train_config.optimizer.kind,
              {{"rmsprop", OptimizerKind::kRmsprop}, {"adamw", OptimizerKind::kAdamw}},
              "the optimizer stepped")
      .add("steps", &steps, "timed steps per objective")
      .add("warmup", &warmup, "untimed steps per objective first (allocates optimizer state)")
      .add("seed", &seed, "seed of the synthetic batch")
      .flag("breakdown", &breakdown,
            "time forward, log-probs+loss, their backwards, clipping and optimizer separately");
  if (!set.parse(args)) return kExitOk;

  auto it = presets().find(preset);
  if (it == presets().end()) throw UsageError("--bench.preset: unknown preset '" + preset + "'");
  const Preset& p = it->second;
  auto pick = [&](const char* name, int64_t& field, int64_t preset_value) {
    if (!set.given(std::string("bench.") + name)) field = preset_value;
  };
  pick("pairs", shape.pairs, p.shape.pairs);
  pick("prompt-tokens", shape.prompt_tokens, p.shape.prompt_tokens);
  pick("response-tokens", shape.response_tokens, p.shape.response_tokens);
  pick("belief-tokens", shape.belief_tokens, p.shape.belief_tokens);
  pick("beliefs", shape.beliefs, p.shape.beliefs);
  if (!set.given("model.config") && !set.given("model.path")) model_source.config = p.model;
  if (steps < 1) throw UsageError("--bench.steps must be >= 1");
  if (warmup < 0) throw UsageError("--bench.warmup must be >= 0");
  std::vector<loss::LossConfig> configs;
  for (const auto& name : split_list(losses)) {
    loss::LossConfig c = loss_config;
    bool known = false;
    for (loss::LossType t : loss::kLossTypes)
      if (name == loss::loss_type_name(t)) c.type = t, known = true;
    if (!known) throw UsageError("--bench.losses: unknown loss '" + name + "'");
    try {
      loss::validate(c);
    } catch (const UsageError& e) {
      throw UsageError(std::string("--bench.losses: ") + e.what());
    }
    configs.push_back(c);
  }
  if (configs.empty()) throw UsageError("--bench.losses is empty");
  common.apply(1);
  auto comm = std::make_shared<dist::SingleProcessCommunicator>();

  // The batch's vocabulary comes from the model; built once to learn it.
  model::ModelConfig model_config;
  {
    auto probe = model::load_model(model_source);
    model_config = probe->config();
  }
  const int64_t vocab = model_config.vocab_size, parameters = model_config.parameter_count();
  const auto batch = synthetic_pair_batch(shape, vocab, static_cast<uint64_t>(seed));
  const auto reference = synthetic_reference(batch, static_cast<uint64_t>(seed) + 1);
  const int64_t tokens = batch.tokens();

  const char* precision = precision_name(train_config.precision);
  std::cout << "bench step: model " << model_source.describe() << " (" << parameters
            << " parameters, " << model::dtype_name(model_source.dtype) << ", vocab " << vocab
            << "), " << shape.pairs << " pairs x 2 rows x " << shape.seq_len() << " tokens ("
            << shape.prompt_tokens << " prompt + " << shape.response_tokens << " response, belief "
            << shape.belief_tokens << ", K=" << shape.beliefs << "), " << precision << ", "
            << optimizer_kind_name(train_config.optimizer.kind) << ", " << torch::get_num_threads()
            << " LibTorch threads, "
            << warmup << " warm-up + " << steps << " timed steps per loss, OMP_WAIT_POLICY="
            << (std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "unset") << "\n";

  std::vector<Row> rows;
  bool peak_is_per_loss = true;
  for (const auto& config : configs) {
    Row row;
    row.loss = loss::loss_type_name(config.type);
    const int64_t rss_before = proc_status_bytes("VmRSS");
    peak_is_per_loss = reset_peak_rss() && peak_is_per_loss;
    auto policy = model::load_model(model_source);
    TrainStep step(*policy, train_config, config, comm);
    const ReferenceSource cached = [&](const data::PairBatch&) { return reference; };
    int64_t n = 0;
    for (int64_t i = 0; i < warmup; ++i) step.run(batch, n++, cached);
    std::vector<double> times;
    for (int64_t i = 0; i < steps; ++i) {
      StepPhases phases;
      const auto t0 = std::chrono::steady_clock::now();
      step.run(batch, n++, cached, breakdown ? &phases : nullptr);
      times.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      if (times.back() <= *std::min_element(times.begin(), times.end())) row.phases = phases;
    }
    std::sort(times.begin(), times.end());
    row.seconds = times.front();
    row.median = times[times.size() / 2];
    row.peak = proc_status_bytes("VmHWM");
    row.growth = row.peak >= 0 && rss_before >= 0 ? row.peak - rss_before : -1;
    rows.push_back(row);
  }

  std::cout << std::fixed << std::setprecision(2) << std::left << std::setw(6) << "loss"
            << std::right << std::setw(12) << "examples/s" << std::setw(12) << "tokens.s"
            << std::setw(10) << "s/step" << std::setw(10) << "median" << std::setw(14)
            << "peak RSS MiB" << std::setw(14) << "growth MiB" << "\n";
  for (const auto& r : rows)
    std::cout << std::left << std::setw(6) << r.loss << std::right << std::setw(12)
              << shape.pairs / r.seconds << std::setw(12) << std::setprecision(0)
              << static_cast<double>(tokens) / r.seconds << std::setprecision(3) << std::setw(10) << r.seconds
              << std::setw(10) << r.median << std::setw(14) << mib(r.peak) << std::setw(14)
              << mib(r.growth) << std::setprecision(2) << "\n";
  std::cout << "(best of " << steps << " steps; examples = pairs; tokens = " << tokens
            << " per step; peak RSS = VmHWM "
            << (peak_is_per_loss ? "reset before each loss"
                                 : "of the whole process (could not reset it)")
            << "; growth = peak - RSS before the loss's model was built)\n";

  if (breakdown) {
    std::cout << "\nbreakdown of the best step, seconds (share):\n"
              << std::left << std::setw(6) << "loss" << std::right;
    const char* names[] = {"forward", "logp+loss", "loss bwd", "model bwd", "sync", "clip", "optim"};
    for (const char* n : names) std::cout << std::setw(16) << n;
    std::cout << "\n";
    for (const auto& r : rows) {
      const auto& ph = r.phases;
      const double parts[] = {ph.forward,        ph.objective,     ph.objective_backward,
                              ph.model_backward, ph.gradient_sync, ph.clip, ph.optimizer};
      std::cout << std::left << std::setw(6) << r.loss << std::right;
      for (double s : parts) {
        std::ostringstream cell;
        cell << std::fixed << std::setprecision(3) << s << " (" << std::setprecision(0)
             << 100 * s / ph.total() << "%)";
        std::cout << std::setw(16) << cell.str();
      }
      std::cout << "\n";
    }
  }

  const auto& paper = presets().at("paper-4l");
  const bool paper_shape =
      model_config == model::load_model_config(paper.model) && shape.pairs == paper.shape.pairs &&
      shape.prompt_tokens == paper.shape.prompt_tokens &&
      shape.response_tokens == paper.shape.response_tokens &&
      shape.belief_tokens == paper.shape.belief_tokens && shape.beliefs == paper.shape.beliefs;
  for (const auto& r : rows)
    if (paper_shape && r.loss == loss::loss_type_name(loss::LossType::kGdpo))
      std::cout << "\nreference (NOT measured here): the authors' Python implementation runs this "
                   "GDPO step in "
                << kReferenceSecondsPerStep << " s (" << kReferenceExamplesPerSecond
                << " examples/s), figure measured on a 2-core machine of this kind with OpenBLAS "
                   "and the same LibTorch; here "
                << shape.pairs / r.seconds << " examples/s = " << std::setprecision(2)
                << shape.pairs / r.seconds / kReferenceExamplesPerSecond
                << "x that figure (aim: >= 2x = " << 2 * kReferenceExamplesPerSecond
                << " examples/s) with " << torch::get_num_threads() << " threads, " << precision
                << "\n";
  return kExitOk;
}

}  // namespace gdpo::app
