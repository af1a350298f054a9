#include "bench_util.hpp"

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "gdpo/core/error.hpp"

namespace gdpo::app::bench {

// paper-4l: the shape the reference CPU figure was measured on. gpt2-medium / gpt2-large /
// pythia-2.8b: GPT-2 medium (the ZeRO stage table's model, docs/performance.md) and the paper's
// models with the authors' lengths (max_length 512, max_prompt_length 256: 256 prompt + 256
// response tokens per row) and one micro-batch of their step (batch 32 / grad-accum 8 = 4 pairs,
// 8 rows); K = 5 beliefs.
const std::map<std::string, Preset>& presets() {
  static const std::map<std::string, Preset> p = {
      {"paper-4l", {"bench-gpt2-4l", {8, 48, 48, 2, 5}, "8 pairs of 48 + 48 tokens, K=5"}},
      {"tiny", {"tiny-gpt2", {4, 16, 16, 2, 3}, "4 pairs of 16 + 16 tokens, K=3"}},
      {"gpt2-medium", {"gpt2-medium", {4, 256, 256, 2, 5}, "4 pairs of 256 + 256 tokens, K=5"}},
      {"gpt2-large", {"gpt2-large", {4, 256, 256, 2, 5}, "4 pairs of 256 + 256 tokens, K=5"}},
      {"pythia-2.8b", {"pythia-2.8b", {4, 256, 256, 2, 5}, "4 pairs of 256 + 256 tokens, K=5"}},
  };
  return p;
}

std::string preset_help() {
  std::string s;
  for (const auto& [name, p] : presets())
    s += (s.empty() ? "" : " | ") + name + " (" + p.model + ", " + p.what + ")";
  return s;
}

void synchronize(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.has_index() ? d.index() : -1);
}

StepTimes summarize_times(std::vector<double> times) {
  GDPO_CHECK(!times.empty(), "summarize_times: no step times");
  std::sort(times.begin(), times.end());
  return {times.front(), times[times.size() / 2]};
}

std::string mib(double bytes, int decimals) {
  if (bytes < 0) return "n/a";
  std::ostringstream os;
  os << std::fixed << std::setprecision(decimals) << bytes / (1 << 20);
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

void write_json(const std::string& path, const nlohmann::json& report) {
  if (path.empty()) return;
  std::ofstream out(path);
  if (!out) throw UsageError("--bench.json: cannot write '" + path + "'");
  out << report.dump(2) << "\n";
  if (!out) throw Error("--bench.json: writing '" + path + "' failed");
}

}  // namespace gdpo::app::bench
