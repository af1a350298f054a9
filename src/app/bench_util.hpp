// Helpers shared by `gdpo bench step`'s modes (cmd_bench_step.cpp, bench_zero_stages.cpp): the
// presets, device synchronisation, step-time summaries, MiB formatting, comma-separated lists and
// the --bench.json report.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gdpo/train/synthetic_batch.hpp"

namespace gdpo::app::bench {

// A --bench.preset: the model config it builds and the synthetic batch's shape.
struct Preset {
  std::string model;
  train::SyntheticBatchShape shape;
  const char* what;
};

// By name: paper-4l, tiny, gpt2-medium, gpt2-large, pythia-2.8b.
const std::map<std::string, Preset>& presets();
// "name (model, what) | ..." for --help and error messages.
std::string preset_help();

// Waits for the device's queued work (nothing on the CPU).
void synchronize(const torch::Device& device);

// The best and median of a set of step times (seconds); `times` must not be empty.
struct StepTimes {
  double best = 0, median = 0;
};
StepTimes summarize_times(std::vector<double> times);

// Bytes as MiB with `decimals` decimals; "n/a" for a negative count.
std::string mib(double bytes, int decimals = 0);

// "a,b,,c" -> {"a", "b", "c"} (empty items dropped).
std::vector<std::string> split_list(const std::string& text);

// Writes `report` (indented) to `path`; nothing when `path` is empty. UsageError naming --bench.json
// when it cannot be opened.
void write_json(const std::string& path, const nlohmann::json& report);

}  // namespace gdpo::app::bench
