// `gdpo bench step`: examples/s, tokens/s, MFU and memory of full training steps (forward, objective,
// backward, clipping, optimizer) for SFT, DPO and GDPO on a synthetic micro-batch: the trainer's own
// TrainStep, with reference log-probs as the cache returns them (no reference forward), on the CPU
// or a CUDA device. Two checking modes print numbers instead of timing them:
//   --bench.check        the loss and gradient norm of step 1 of each objective from the seeded model
//                        on the seeded batch (the GPU suite compares --bench.device cpu and cuda);
//   --bench.golden DIR   the losses and gradient norms of tests/golden's fixtures (the GDPO authors'
//                        values, golden.json) recomputed by TrainStep on the chosen device, compared
//                        within --bench.tolerance; exit status 1 when one differs.
// --bench.zero-stages 0,1,2,3 times one objective's step at each ZeRO stage on the communicator's
// ranks (mpiexec -n 2 ...) with the bytes sent and held per rank (bench_zero_stages.hpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench_util.hpp"
#include "bench_zero_stages.hpp"
#include "bind.hpp"
#include "command.hpp"
#include "common_options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/record.hpp"
#include "gdpo/data/sampler.hpp"
#include "gdpo/data/tokenized.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "gdpo/loss/reference_logprobs.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"
#include "gdpo/train/synthetic_batch.hpp"
#include "gdpo/train/train_step.hpp"

// Peak device memory needs the CUDA caching allocator, i.e. a CUDA LibTorch (-DGDPO_CUDA=ON).
#if defined(GDPO_TORCH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#define GDPO_BENCH_DEVICE_MEMORY 1
#endif

namespace gdpo::app {
namespace {

using namespace train;
using json = nlohmann::json;

using bench::mib;
using bench::Preset;
using bench::preset_help;
using bench::presets;
using bench::split_list;
using bench::synchronize;
using bench::write_json;

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

#ifdef GDPO_BENCH_DEVICE_MEMORY
c10::DeviceIndex cuda_index(const torch::Device& d) {
  return d.has_index() ? d.index() : c10::cuda::current_device();
}
#endif

// Peak bytes allocated by LibTorch's CUDA caching allocator since the last reset (-1: not a CUDA
// device, or a build without CUDA LibTorch).
void reset_device_peak(const torch::Device& d) {
#ifdef GDPO_BENCH_DEVICE_MEMORY
  if (d.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_index(d));
#endif
}
int64_t device_peak(const torch::Device& d) {
#ifdef GDPO_BENCH_DEVICE_MEMORY
  if (d.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(cuda_index(d));
    return stats.allocated_bytes[0].peak;  // StatType::AGGREGATE
  }
#endif
  return -1;
}

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9e", v);
  return buf;
}

// Parameters that take part in a matrix product per token (MFU's N): every parameter except the
// lookups, i.e. GPT-2's position table and, when the output projection is not tied to it, the
// input token embedding (a tied embedding is counted once, as the output projection it is).
int64_t matmul_parameters(const model::ModelConfig& c) {
  int64_t n = c.parameter_count();
  if (c.family == model::Family::kGpt2) n -= c.max_positions * c.hidden_size;
  if (!c.tie_word_embeddings) n -= c.vocab_size * c.hidden_size;
  return n;
}

// Model FLOPs of one training step (forward + backward = 3x forward), PaLM's convention:
// 6 N per token plus 12 L d T per token for attention's QK^T and AV (T = sequence length, the full
// square, not halved for the causal mask). Recomputation and the objective are not counted.
double step_flops(const model::ModelConfig& c, int64_t tokens, int64_t seq_len) {
  return 6.0 * static_cast<double>(matmul_parameters(c)) * static_cast<double>(tokens) +
         12.0 * static_cast<double>(c.n_layers) * static_cast<double>(c.hidden_size) *
             static_cast<double>(seq_len) * static_cast<double>(tokens);
}

struct Row {
  std::string loss;
  double seconds = 0;  // best and median seconds per step
  double median = 0;
  int64_t peak = -1, growth = -1, device_peak = -1;
  StepPhases phases;  // best step's, with --bench.breakdown
  double check_loss = NAN, check_grad_norm = NAN;  // step 1's, with --bench.check
};

// ---- --bench.golden: tests/golden's fixtures through TrainStep -------------------------------------

// A golden pair as a record of the published schema (as tests/golden/golden_test.cpp builds it): all
// six beliefs "0".."5", the options a question does not use (p* = 0) with a placeholder text.
json golden_record(const json& pair, bool opinion) {
  json r;
  r["prompt"] = pair["question"];
  const auto& p = pair["p_star"];
  json options = json::array(), map = json::object();
  for (int k = 0; k < static_cast<int>(p.size()); ++k) {
    const std::string id = std::to_string(k);
    std::string text = id;
    if (opinion)
      text = pair["options"].contains(id) ? pair["options"][id].get<std::string>()
                                          : "unused option " + id;
    options.push_back(text);
    map[text] = k;
  }
  r["options"] = options;
  r["probabilities"] = p;
  if (opinion) {
    if (!pair["context"].get<std::string>().empty()) r["context"] = pair["context"];
    r["options_map"] = map;
    r["accept_choice"] = pair["chosen"]["option"];
    r["reject_choice"] = pair["rejected"]["option"];
  }
  r["accept_choice_id"] = pair["chosen"]["id"];
  r["accept_response"] = pair["chosen"]["text"];
  r["reject_choice_id"] = pair["rejected"]["id"];
  r["reject_response"] = pair["rejected"]["text"];
  return r;
}

// Every batch x scenario x objective of golden.json: one TrainStep (fp32, step 1) on `device` from
// the fixture's policy, reference log-probs from its reference model on the same device; loss and
// gradient norm (before clipping) against the authors' float64 values, |a - e| <= tol * max(1, |e|).
// Returns the number of mismatches; appends one entry per value to `report`.
int run_golden(const std::string& dir, const torch::Device& device, TrainConfig train_config,
               const std::vector<loss::LossConfig>& configs, double tol,
               std::shared_ptr<dist::Communicator> comm, json& report) {
  std::ifstream in(dir + "/golden.json");
  if (!in) throw UsageError("--bench.golden: cannot open '" + dir + "/golden.json'");
  const json g = json::parse(in);
  const auto tok = tokenizer::load_tokenizer(dir + "/tokenizer");
  train_config.precision = Precision::kFp32;  // the authors' values are fp32/float64
  train_config.grad_accum = 1;
  int failures = 0;
  std::cout << "golden values of " << dir << "/golden.json (the GDPO authors' formulas, float64), "
            << "TrainStep step 1 on " << device << ", fp32, tolerance " << tol
            << " x max(1, |expected|)\n";
  for (const std::string batch_name : {"opinion", "review"}) {
    const json& b = g["batches"][batch_name];
    std::ostringstream lines;
    for (const auto& pair : b["pairs"])
      lines << golden_record(pair, batch_name == "opinion").dump() << "\n";
    std::istringstream records(lines.str());
    const data::Dataset dataset = data::parse_records(records, "golden-" + batch_name + ".jsonl");
    for (const std::string scenario : {"same", "perturbed"}) {
      auto reference = model::load_hf_model(dir + "/tiny-gpt2", torch::kFloat32);
      reference->to(device);
      reference->eval();
      for (const auto& config : configs) {
        const std::string name = loss::loss_type_name(config.type);
        const json& e = b["values"]["float64"][scenario];
        if (!e.contains(name)) continue;
        data::TokenizeOptions o;
        o.max_length = g["max_length"];
        o.max_prompt_length = g["max_prompt_length"];
        o.mode = loss::rejected_has_own_belief(config.type) ? data::PairMode::kDpo
                                                            : data::PairMode::kGdpo;
        data::TokenizedPairs pairs = data::tokenize_pairs(dataset, *tok, o);
        if (config.type == loss::LossType::kSft) pairs = data::last_pair_per_question(pairs);
        std::vector<int64_t> all(static_cast<size_t>(pairs.pairs()));
        for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
        const data::PairBatch batch = data::make_batch(pairs, all);

        auto policy = model::load_hf_model(
            dir + (scenario == "same" ? "/tiny-gpt2" : "/tiny-gpt2-policy"), torch::kFloat32);
        policy->to(device);
        TrainStep step(*policy, train_config, config, comm);
        ReferenceSource source;
        if (loss::needs_reference(config))
          source = [&](const data::PairBatch& mb) {
            torch::NoGradGuard no_grad;
            return loss::reference_logprobs(reference->hidden_states(mb.input_ids, mb.attention_mask),
                                            reference->output_weight(), mb);
          };
        const auto result = step.run(batch, 0, source);
        for (const std::string what : {"loss", "grad_norm"}) {
          const double actual = result.metrics.at(what), expected = e[name][what].get<double>();
          const double diff = std::abs(actual - expected);
          const bool pass = diff <= tol * std::max(1.0, std::abs(expected));
          failures += pass ? 0 : 1;
          std::cout << "golden " << batch_name << "/" << scenario << " " << std::left
                    << std::setw(5) << name << " " << std::setw(10) << what << std::right
                    << sci(actual)
                    << "  expected " << sci(expected) << "  |diff| " << std::setprecision(2)
                    << std::scientific << diff << std::defaultfloat << "  "
                    << (pass ? "PASS" : "FAIL") << "\n";
          report.push_back({{"batch", batch_name}, {"scenario", scenario}, {"loss", name},
                            {"value", what}, {"actual", actual}, {"expected", expected},
                            {"abs_diff", diff}, {"passed", pass}});
        }
      }
    }
  }
  return failures;
}

}  // namespace

int cmd_bench_step(const Args& args) {
  OptionSet set("gdpo bench step",
                "training-step speed (examples/s, tokens/s, MFU, peak memory) for SFT, DPO and "
                "GDPO; --bench.check / --bench.golden print losses and gradient norms instead");
  CommonOptions common;
  common.bind(set);
  model::ModelSource model_source;
  model_source.config = presets().at("paper-4l").model;
  bind_model(set, model_source);
  loss::LossConfig loss_config;
  bind_loss(set, loss_config);
  std::string preset = "paper-4l", losses = "sft,dpo,gdpo", device_choice = "auto", json_path,
              golden_dir, zero_stages;
  TrainConfig train_config;  // the paper's lr and clipping; one micro-batch per step
  train_config.warmup_steps = 0;
  SyntheticBatchShape shape;
  int64_t steps = 5, warmup = 1, seed = 0;
  double peak_tflops = 989, tolerance = 1e-4;
  bool breakdown = false, check = false;
  set.group("bench", "Step benchmark [bench]")
      .add("preset", &preset, preset_help())
      .add("pairs", &shape.pairs, "pairs per step (overrides the preset)")
      .add("prompt-tokens", &shape.prompt_tokens, "prompt tokens per row (overrides the preset)")
      .add("response-tokens", &shape.response_tokens,
           "response tokens per row, belief span included (overrides the preset)")
      .add("belief-tokens", &shape.belief_tokens, "belief span tokens (overrides the preset)")
      .add("beliefs", &shape.beliefs, "K beliefs per question (overrides the preset)")
      .add("losses", &losses, "comma-separated objectives run in turn (replaces --loss.type)")
      .add("device", &device_choice,
           "auto (CUDA when available) | cpu | cuda | cuda:N: where the policy and the step run")
      .choice("precision", &train_config.precision,
              {{"fp32", Precision::kFp32}, {"bf16", Precision::kBf16}},
              "bf16: autocast forward, fp32 master weights")
      .choice("optimizer", &train_config.optimizer.kind,
              {{"rmsprop", OptimizerKind::kRmsprop}, {"adamw", OptimizerKind::kAdamw}},
              "the optimizer stepped")
      .add("steps", &steps, "timed steps per objective")
      .add("warmup", &warmup, "untimed steps per objective first (allocates optimizer state)")
      .add("seed", &seed, "seed of the synthetic batch")
      .add("peak-tflops", &peak_tflops,
           "the device's peak TFLOP/s for MFU (989: H100/H200 SXM dense bf16)")
      .flag("breakdown", &breakdown,
            "time forward, log-probs+loss, their backwards, clipping and optimizer separately")
      .flag("check", &check,
            "print the loss and gradient norm of step 1 of each objective (a fresh seeded model "
            "per objective, no warm-up, one step): compare --bench.device cpu and cuda")
      .add("golden", &golden_dir,
           "a tests/golden folder: recompute its losses and gradient norms with TrainStep on the "
           "device and compare them with golden.json (exit status 1 on a mismatch)")
      .add("tolerance", &tolerance, "--bench.golden: allowed |diff| / max(1, |expected|)")
      .add("zero-stages", &zero_stages,
           "comma-separated ZeRO stages (0,1,2,3): time the first of --bench.losses at each on "
           "--dist.backend's ranks (mpiexec -n 2 ...) with the bytes each rank sends per step "
           "(measured and predicted) and holds (parameters, gradients, optimizer state)")
      .add("grad-accum", &train_config.grad_accum,
           "micro-batches per step (they split --bench.pairs evenly)")
      .add("json", &json_path, "also write the results to this JSON file");
  if (!set.parse(args)) return kExitOk;

  auto it = presets().find(preset);
  if (it == presets().end())
    throw UsageError("--bench.preset: unknown preset '" + preset + "' (" + preset_help() + ")");
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
  if (!(peak_tflops > 0)) throw UsageError("--bench.peak-tflops must be > 0");
  if (!(tolerance > 0)) throw UsageError("--bench.tolerance must be > 0");
  if (train_config.grad_accum < 1) throw UsageError("--bench.grad-accum must be >= 1");
  if (shape.pairs % train_config.grad_accum != 0)
    throw UsageError("--bench.grad-accum " + std::to_string(train_config.grad_accum) +
                     " does not divide the " + std::to_string(shape.pairs) + " pairs of a step");
  const bool zero_mode = set.given("bench.zero-stages");
  std::vector<int> stages;
  if (zero_mode) {
    if (check) throw UsageError("--bench.zero-stages cannot be combined with --bench.check");
    if (!golden_dir.empty())
      throw UsageError("--bench.zero-stages cannot be combined with --bench.golden");
    if (breakdown)
      throw UsageError("--bench.zero-stages cannot be combined with --bench.breakdown");
    stages = bench::parse_zero_stages(zero_stages);
  }
  if (check) steps = 1, warmup = 0;
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
  // One process, except in ZeRO mode: --dist.backend's ranks.
  std::shared_ptr<dist::Communicator> comm;
  if (zero_mode)
    comm = dist::make_communicator(common.backend);
  else
    comm = std::make_shared<dist::SingleProcessCommunicator>();
  common.apply(comm->local_size());
  const dist::DeviceChoice chosen = dist::select_device(device_choice, *comm, "--bench.device");
  const torch::Device device = chosen.device;
#ifdef GDPO_BENCH_DEVICE_MEMORY
  if (device.is_cuda()) {  // fp32 means fp32: no TensorFloat-32 in cuBLAS or cuDNN
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
#endif

  json report = {{"device", chosen.description}, {"device_type", device.is_cuda() ? "cuda" : "cpu"}};
  if (!golden_dir.empty()) {
    report["mode"] = "golden";
    report["tolerance"] = tolerance;
    report["golden"] = json::array();
    const int failures =
        run_golden(golden_dir, device, train_config, configs, tolerance, comm, report["golden"]);
    report["passed"] = failures == 0;
    write_json(json_path, report);
    std::cout << (failures == 0 ? "golden: all values match\n"
                                : "golden: " + std::to_string(failures) + " values differ\n");
    if (failures) throw Error("bench step: " + std::to_string(failures) +
                              " golden values differ beyond --bench.tolerance");
    return kExitOk;
  }

  // The batch's vocabulary comes from the model's config (nothing allocated).
  const model::ModelConfig model_config =
      model_source.path.empty() ? model::load_model_config(model_source.config)
                                : model::check_model_files(model_source.path).config;
  const int64_t vocab = model_config.vocab_size, parameters = model_config.parameter_count();
  const auto batch = synthetic_pair_batch(shape, vocab, static_cast<uint64_t>(seed));
  auto reference = synthetic_reference(batch, static_cast<uint64_t>(seed) + 1);
  reference.after_belief = reference.after_belief.to(device);
  reference.response = reference.response.to(device);
  const int64_t tokens = batch.tokens();
  const double flops = step_flops(model_config, tokens, shape.seq_len());

  std::ostringstream shape_text;
  shape_text << shape.pairs << " pairs x 2 rows x " << shape.seq_len() << " tokens ("
             << shape.prompt_tokens << " prompt + " << shape.response_tokens << " response, belief "
             << shape.belief_tokens << ", K=" << shape.beliefs << ")";

  if (zero_mode) {
    bench::ZeroBenchInputs in;
    in.stages = stages;
    in.model = model_source;
    in.parameters = parameters;
    in.shape = shape_text.str();
    in.train = train_config;
    in.loss = configs.front();
    in.batch = &batch;
    in.reference = reference;
    in.device = device;
    in.device_description = chosen.description;
    in.steps = steps;
    in.warmup = warmup;
    in.comm = comm;
    report["mode"] = "zero";
    report["preset"] = preset;
    report["model"] = model_source.describe();
    report["parameters"] = parameters;
    report["loss"] = loss::loss_type_name(in.loss.type);
    report["precision"] = precision_name(train_config.precision);
    report["optimizer"] = optimizer_kind_name(train_config.optimizer.kind);
    report["pairs"] = shape.pairs;
    report["seq_len"] = shape.seq_len();
    report["tokens_per_step"] = tokens;
    report["grad_accum"] = train_config.grad_accum;
    report["world_size"] = comm->world_size();
    report["backend"] = comm->backend();
    report["steps"] = steps;
    report["warmup"] = warmup;
    report["zero"] = bench::run_zero_stages(in);
    if (comm->is_root()) write_json(json_path, report);
    return kExitOk;
  }

  const char* precision = precision_name(train_config.precision);
  std::cout << "bench step: model " << model_source.describe() << " (" << parameters
            << " parameters, " << model::dtype_name(model_source.dtype) << ", vocab " << vocab
            << "), " << shape_text.str() << ", " << precision << ", "
            << optimizer_kind_name(train_config.optimizer.kind) << ", device "
            << chosen.description << ", " << torch::get_num_threads() << " LibTorch threads, "
            << warmup << " warm-up + " << steps << " timed steps per loss, OMP_WAIT_POLICY="
            << (std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "unset") << "\n";

  // One model for every objective (each gets a fresh TrainStep and optimizer state); --bench.check
  // builds a fresh one per objective so that every objective's step 1 starts from the seeded weights.
  model::CausalLMPtr policy;
  std::vector<Row> rows;
  bool peak_is_per_loss = true;
  for (const auto& config : configs) {
    Row row;
    row.loss = loss::loss_type_name(config.type);
    if (check) policy.reset();
    const int64_t rss_before = proc_status_bytes("VmRSS");
    peak_is_per_loss = reset_peak_rss() && peak_is_per_loss;
    if (!policy) {
      policy = model::load_model(model_source);
      policy->to(device);
    }
    synchronize(device);
    reset_device_peak(device);
    {
      TrainStep step(*policy, train_config, config, comm);
      const ReferenceSource cached = [&](const data::PairBatch&) { return reference; };
      int64_t n = 0;
      for (int64_t i = 0; i < warmup; ++i) step.run(batch, n++, cached);
      std::vector<double> times;
      for (int64_t i = 0; i < steps; ++i) {
        StepPhases phases;
        synchronize(device);
        const auto t0 = std::chrono::steady_clock::now();
        const auto result = step.run(batch, n++, cached, breakdown ? &phases : nullptr);
        synchronize(device);
        times.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (times.back() <= *std::min_element(times.begin(), times.end())) row.phases = phases;
        if (check) {
          row.check_loss = result.metrics.at("loss");
          row.check_grad_norm = result.metrics.at("grad_norm");
        }
      }
      const auto summary = bench::summarize_times(times);
      row.seconds = summary.best;
      row.median = summary.median;
    }
    row.peak = proc_status_bytes("VmHWM");
    row.growth = row.peak >= 0 && rss_before >= 0 ? row.peak - rss_before : -1;
    row.device_peak = device_peak(device);
    for (auto& t : policy->parameters()) t.mutable_grad().reset();  // not the next loss's memory
    rows.push_back(row);
  }

  auto mfu = [&](const Row& r) { return flops / r.seconds / (peak_tflops * 1e12); };
  std::cout << std::fixed << std::setprecision(2) << std::left << std::setw(6) << "loss"
            << std::right << std::setw(12) << "examples/s" << std::setw(12) << "tokens/s"
            << std::setw(10) << "s/step" << std::setw(10) << "median" << std::setw(8) << "MFU %"
            << std::setw(14) << "peak RSS MiB" << std::setw(14) << "growth MiB" << std::setw(16)
            << "peak dev MiB" << "\n";
  for (const auto& r : rows)
    std::cout << std::left << std::setw(6) << r.loss << std::right << std::setw(12)
              << shape.pairs / r.seconds << std::setw(12) << std::setprecision(0)
              << static_cast<double>(tokens) / r.seconds << std::setprecision(3) << std::setw(10)
              << r.seconds << std::setw(10) << r.median << std::setprecision(1) << std::setw(8)
              << 100 * mfu(r) << std::setw(14) << mib(r.peak) << std::setw(14) << mib(r.growth)
              << std::setw(16) << mib(r.device_peak) << std::setprecision(2) << "\n";
  std::cout << "(best of " << steps << " steps; examples = pairs; tokens = " << tokens
            << " per step; MFU = (6 N + 12 L d T) x tokens / s / peak, N = "
            << matmul_parameters(model_config) << " matmul parameters, peak " << peak_tflops
            << " TFLOP/s; peak RSS = VmHWM "
            << (peak_is_per_loss ? "reset before each loss"
                                 : "of the whole process (could not reset it)")
            << "; growth = peak - RSS before the loss's model was built; peak dev = CUDA caching "
               "allocator's peak allocated bytes, reset before each loss, n/a off CUDA)\n";

  if (check)
    for (const auto& r : rows)
      std::cout << "check " << r.loss << ": loss " << sci(r.check_loss) << " grad_norm "
                << sci(r.check_grad_norm) << "\n";

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

  report["mode"] = check ? "check" : "bench";
  report["preset"] = preset;
  report["model"] = model_source.describe();
  report["parameters"] = parameters;
  report["matmul_parameters"] = matmul_parameters(model_config);
  report["precision"] = precision;
  report["optimizer"] = optimizer_kind_name(train_config.optimizer.kind);
  report["pairs"] = shape.pairs;
  report["rows_per_step"] = 2 * shape.pairs;
  report["seq_len"] = shape.seq_len();
  report["tokens_per_step"] = tokens;
  report["flops_per_step"] = flops;
  report["peak_tflops"] = peak_tflops;
  report["steps"] = steps;
  report["warmup"] = warmup;
  report["results"] = json::array();
  for (const auto& r : rows) {
    json j = {{"loss", r.loss},
              {"seconds_per_step", r.seconds},
              {"median_seconds_per_step", r.median},
              {"examples_per_second", shape.pairs / r.seconds},
              {"tokens_per_second", static_cast<double>(tokens) / r.seconds},
              {"mfu", mfu(r)},
              {"peak_rss_bytes", r.peak},
              {"peak_device_bytes", r.device_peak}};
    if (check) j["check"] = {{"loss", r.check_loss}, {"grad_norm", r.check_grad_norm}};
    report["results"].push_back(j);
  }
  write_json(json_path, report);

  const auto& paper = presets().at("paper-4l");
  const bool paper_shape =
      !device.is_cuda() && model_config == model::load_model_config(paper.model) &&
      shape.pairs == paper.shape.pairs && shape.prompt_tokens == paper.shape.prompt_tokens &&
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
