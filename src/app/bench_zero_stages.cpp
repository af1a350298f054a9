#include "bench_zero_stages.hpp"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "bench_util.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/train_step.hpp"

namespace gdpo::app::bench {

using json = nlohmann::json;

std::vector<int> parse_zero_stages(const std::string& text) {
  const std::string usage = " (a comma-separated list of ZeRO stages 0..3, e.g. 0,1,2,3)";
  std::vector<int> stages;
  std::set<int> seen;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    const std::string s = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    if (s.empty())
      throw UsageError("--bench.zero-stages: empty item in '" + text + "'" + usage);
    if (s.size() != 1 || s[0] < '0' || s[0] > '9')
      throw UsageError("--bench.zero-stages: '" + s + "' is not a stage" + usage);
    const int stage = s[0] - '0';
    if (stage > 3)
      throw UsageError("--bench.zero-stages: stage " + s + " does not exist" + usage);
    if (!seen.insert(stage).second)
      throw UsageError("--bench.zero-stages: stage " + s + " is listed twice");
    stages.push_back(stage);
  }
  // getline yields nothing for "" and drops one trailing empty item ("0,1,").
  if (stages.empty() || (!text.empty() && text.back() == ','))
    throw UsageError("--bench.zero-stages: '" + text + "' names no stage" + usage);
  return stages;
}

double zero_predicted_bytes(int stage, const ZeroSizes& z) {
  const double f = z.world > 1 ? static_cast<double>(z.world - 1) / z.world : 0.0;
  const double m = static_cast<double>(z.micro_batches);
  switch (stage) {
    case 0: return 2 * f * z.unpadded;                              // all-reduce
    case 1: return 2 * f * z.unpadded + f * z.padded;              // all-reduce + all-gather
    case 2: return f * z.padded + f * z.padded;                    // reduce-scatter + all-gather
    case 3: return f * (2 * m * z.blocks + z.rest) + f * z.padded;  // gathers + reduce-scatter
    default: throw Error("zero_predicted_bytes: no ZeRO stage " + std::to_string(stage));
  }
}

namespace {

struct StageRow {
  int stage = 0;
  StepTimes times;
  dist::Communicator::Traffic traffic;  // over the timed steps
  double measured = 0, predicted = 0;   // bytes sent per rank per step
  ZeroSizes sizes;
  bool padded_known = false;            // sizes.padded/blocks/rest come from a ShardLayout
  train::ZeroState::Memory memory;      // max over ranks of each field
  int64_t total = 0;                    // max over ranks of the rank's total
};

// The element-wise maximum over ranks (a collective).
std::vector<double> max_over_ranks(dist::Communicator& comm, const std::vector<double>& values) {
  auto t = torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat64));
  comm.all_reduce(t, dist::ReduceOp::Max);
  t = t.cpu().contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

StageRow run_stage(const ZeroBenchInputs& in, int stage) {
  auto& comm = *in.comm;
  StageRow row;
  row.stage = stage;
  row.sizes.world = comm.world_size();
  row.sizes.micro_batches = in.train.grad_accum;

  // A fresh model from the same seed (or files) on every rank: the same starting weights, which
  // ZeroState requires.
  auto policy = model::load_model(in.model);
  policy->to(in.device);
  for (const auto& [name, p] : policy->hf_state_dict())
    row.sizes.unpadded += static_cast<double>(p.numel() * static_cast<int64_t>(p.element_size()));
  row.sizes.padded = row.sizes.unpadded;

  train::TrainConfig config = in.train;
  config.zero_stage = stage;
  {
    train::TrainStep step(*policy, config, in.loss, in.comm);
    if (const auto* zero = step.zero()) {
      const auto& layout = zero->layout();
      const double element = row.sizes.unpadded / static_cast<double>(layout.numel());
      row.sizes.padded = row.sizes.blocks = row.sizes.rest = 0;
      for (size_t u = 0; u < layout.units().size(); ++u) {
        const double bytes = static_cast<double>(layout.unit(u).padded) * element;
        row.sizes.padded += bytes;
        (u == 0 ? row.sizes.rest : row.sizes.blocks) += bytes;
      }
      row.padded_known = true;
    }
    const train::ReferenceSource cached = [&](const data::PairBatch&) { return in.reference; };
    int64_t n = 0;
    for (int64_t i = 0; i < in.warmup; ++i) step.run(*in.batch, n++, cached);
    synchronize(in.device);
    comm.reset_traffic();
    std::vector<double> times;
    for (int64_t i = 0; i < in.steps; ++i) {
      synchronize(in.device);
      comm.barrier();  // the ranks start together (a barrier moves no counted bytes)
      const auto t0 = std::chrono::steady_clock::now();
      step.run(*in.batch, n++, cached);
      synchronize(in.device);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    row.traffic = comm.traffic();  // before the reductions below add to it
    const auto steps = static_cast<double>(in.steps);
    row.measured = row.traffic.wire_bytes(comm.world_size()) / steps;
    row.predicted = zero_predicted_bytes(stage, row.sizes);
    row.times = summarize_times(max_over_ranks(comm, times));  // each step: the slowest rank
    const auto m = step.memory();
    const auto held = max_over_ranks(
        comm, {static_cast<double>(m.parameters), static_cast<double>(m.gradients),
               static_cast<double>(m.optimizer), static_cast<double>(m.total())});
    row.memory.parameters = static_cast<int64_t>(held[0]);
    row.memory.gradients = static_cast<int64_t>(held[1]);
    row.memory.optimizer = static_cast<int64_t>(held[2]);
    row.total = static_cast<int64_t>(held[3]);
  }
  return row;
}

std::string ratio_text(const StageRow& r) {
  if (!(r.predicted > 0)) return "n/a";
  std::ostringstream os;
  os << std::fixed << std::setprecision(3) << r.measured / r.predicted;
  return os.str();
}

json row_json(const StageRow& r, int64_t steps) {
  const auto per_step = [&](int64_t bytes) { return static_cast<double>(bytes) / steps; };
  json sizes = {{"unpadded_bytes", r.sizes.unpadded}, {"micro_batches", r.sizes.micro_batches}};
  if (r.padded_known) {
    sizes["padded_bytes"] = r.sizes.padded;
    sizes["block_bytes"] = r.sizes.blocks;
    sizes["rest_bytes"] = r.sizes.rest;
  }
  return {{"stage", r.stage},
          {"seconds_per_step", r.times.best},
          {"median_seconds_per_step", r.times.median},
          {"measured_bytes_per_step", r.measured},
          {"predicted_bytes_per_step", r.predicted},
          {"ratio", r.predicted > 0 ? json(r.measured / r.predicted) : json(nullptr)},
          {"collective_bytes_per_step",
           {{"all_reduce", per_step(r.traffic.all_reduce)},
            {"reduce_scatter", per_step(r.traffic.reduce_scatter)},
            {"all_gather", per_step(r.traffic.all_gather)},
            {"broadcast", per_step(r.traffic.broadcast)}}},
          {"collective_calls_per_step", per_step(r.traffic.calls)},
          {"sizes", sizes},
          {"memory",
           {{"parameters", r.memory.parameters},
            {"gradients", r.memory.gradients},
            {"optimizer", r.memory.optimizer},
            {"total", r.total}}}};
}

}  // namespace

json run_zero_stages(const ZeroBenchInputs& in) {
  GDPO_CHECK(in.comm && in.batch, "run_zero_stages: no communicator or batch");
  auto& comm = *in.comm;
  const int world = comm.world_size();
  const bool root = comm.is_root();
  if (root)
    std::cout << "bench step --bench.zero-stages: model " << in.model.describe() << " ("
              << in.parameters << " parameters, " << model::dtype_name(in.model.dtype) << "), "
              << in.shape << ", loss " << loss::loss_type_name(in.loss.type)
              << " (ZeRO mode runs only the first of --bench.losses), "
              << train::precision_name(in.train.precision) << ", "
              << train::optimizer_kind_name(in.train.optimizer.kind) << ", "
              << in.train.grad_accum << " micro-batch(es) per step, " << world << " rank(s), "
              << "backend " << comm.backend() << ", device " << in.device_description << ", "
              << torch::get_num_threads() << " LibTorch threads per rank, " << in.warmup
              << " warm-up + " << in.steps << " timed steps per stage; every rank steps on the "
              << "same batch" << std::endl;

  std::vector<StageRow> rows;
  for (int stage : in.stages) rows.push_back(run_stage(in, stage));

  json out = json::array();
  for (const auto& r : rows) out.push_back(row_json(r, in.steps));
  if (!root) return out;

  auto cell = [](const std::string& s, int width) {
    std::ostringstream os;
    os << std::setw(width) << s;
    return os.str();
  };
  auto seconds = [](const StepTimes& t) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(3) << t.best << " / " << t.median;
    return os.str();
  };
  const char* heads[] = {"stage", "step s (best / median)", "sent MiB/rank/step", "predicted MiB",
                         "ratio", "params MiB", "grads MiB", "optimizer MiB", "total MiB/rank"};
  std::vector<int> widths;
  std::cout << "\n|";
  for (const char* h : heads) {
    widths.push_back(static_cast<int>(std::string(h).size()));
    std::cout << " " << h << " |";
  }
  std::cout << "\n|";
  for (int w : widths) std::cout << std::string(static_cast<size_t>(w) + 1, '-') << ":|";
  std::cout << "\n";
  for (const auto& r : rows) {
    const std::string cells[] = {std::to_string(r.stage),
                                 seconds(r.times),
                                 mib(r.measured, 2),
                                 mib(r.predicted, 2),
                                 ratio_text(r),
                                 mib(static_cast<double>(r.memory.parameters), 2),
                                 mib(static_cast<double>(r.memory.gradients), 2),
                                 mib(static_cast<double>(r.memory.optimizer), 2),
                                 mib(static_cast<double>(r.total), 2)};
    std::cout << "|";
    for (size_t i = 0; i < widths.size(); ++i) std::cout << " " << cell(cells[i], widths[i]) << " |";
    std::cout << "\n";
  }
  std::cout << "\ncollectives per step (bytes passed to them, MiB; sent = ring bytes per rank):\n";
  for (const auto& r : rows) {
    const double s = static_cast<double>(in.steps);
    std::cout << "stage " << r.stage << ": all-reduce "
              << mib(static_cast<double>(r.traffic.all_reduce) / s, 3) << ", reduce-scatter "
              << mib(static_cast<double>(r.traffic.reduce_scatter) / s, 3) << ", all-gather "
              << mib(static_cast<double>(r.traffic.all_gather) / s, 3) << ", broadcast "
              << mib(static_cast<double>(r.traffic.broadcast) / s, 3) << " ("
              << static_cast<double>(r.traffic.calls) / s << " calls)";
    if (r.padded_known)
      std::cout << "; ψ " << mib(r.sizes.padded, 2) << " MiB padded (ψ_b " << mib(r.sizes.blocks, 2)
                << ", ψ_r " << mib(r.sizes.rest, 2) << "), unpadded " << mib(r.sizes.unpadded, 2);
    else
      std::cout << "; ψ " << mib(r.sizes.unpadded, 2) << " MiB unpadded";
    std::cout << "\n";
  }
  std::cout << "(step s: the slowest rank's time of each step, best / median of " << in.steps
            << "; sent: Communicator::traffic() per step as bytes each rank sends with ring "
               "algorithms, f = (W-1)/W, all-reduce 2 f B, reduce-scatter / all-gather f B, the "
               "step's small metric reductions included; predicted: stage 0 2 f ψ, 1 2 f ψ + f ψ, "
               "2 f ψ + f ψ, 3 f (2 m ψ_b + ψ_r) + f ψ, the all-reduce over unpadded parameters, "
               "metric reductions left out, 0 on one rank; memory: TrainStep::memory() after the "
               "timed steps, i.e. between steps, max over ranks of each column)\n";
  return out;
}

}  // namespace gdpo::app::bench
