#include "gdpo/data/stats.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "gdpo/data/split.hpp"

namespace gdpo::data {

void accumulate_stats(DatasetStats& s, const Dataset& data, int split) {
  // Entropy and majority are running means over every question of every split.
  const int64_t before = s.questions[0] + s.questions[1] + s.questions[2];
  double h_sum = s.mean_entropy * static_cast<double>(before);
  double m_sum = s.majority_share * static_cast<double>(before);
  for (const auto& q : data.questions) {
    const int64_t k = static_cast<int64_t>(q.probabilities.size());
    s.k_min = s.k_min == 0 ? k : std::min(s.k_min, k);
    s.k_max = std::max(s.k_max, k);
    double h = 0;
    for (double p : q.probabilities)
      if (p > 0) h -= p * std::log(p);
    h_sum += h;
    m_sum += q.probabilities[q.majority()];
  }
  s.questions[split] += static_cast<int64_t>(data.questions.size());
  s.pairs[split] += static_cast<int64_t>(data.pairs.size());
  const int64_t after = s.questions[0] + s.questions[1] + s.questions[2];
  if (after > 0) {
    s.mean_entropy = h_sum / static_cast<double>(after);
    s.majority_share = m_sum / static_cast<double>(after);
  }
}

std::pair<std::string, int> dataset_name_and_split(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  for (const char* ext : {".jsonl", ".json"})
    if (stem.size() > std::strlen(ext) && stem.compare(stem.size() - std::strlen(ext), std::string::npos, ext) == 0)
      stem.resize(stem.size() - std::strlen(ext));
  const std::pair<const char*, int> names[] = {{"train", kTrain}, {"eval", kEval},
                                               {"validation", kEval}, {"valid", kEval},
                                               {"dev", kEval}, {"test", kTest}};
  for (const auto& [word, split] : names) {
    for (const char sep : {'_', '-', '.'}) {
      const std::string suffix = std::string(1, sep) + word;
      if (stem.size() > suffix.size() &&
          stem.compare(stem.size() - suffix.size(), std::string::npos, suffix) == 0)
        return {stem.substr(0, stem.size() - suffix.size()), split};
    }
    if (stem == word) return {std::filesystem::path(path).parent_path().filename().string(), split};
  }
  return {stem, -1};
}

std::string format_stats_table(const std::vector<DatasetStats>& rows) {
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-24s %9s %9s %9s %9s %9s %9s %7s %9s %9s\n", "dataset", "Q train",
                "Q eval", "Q test", "P train", "P eval", "P test", "K", "H(p*)", "maj p*");
  out += buf;
  for (const auto& r : rows) {
    const std::string k = r.k_min == r.k_max ? std::to_string(r.k_min)
                                             : std::to_string(r.k_min) + "-" + std::to_string(r.k_max);
    std::snprintf(buf, sizeof buf, "%-24s %9lld %9lld %9lld %9lld %9lld %9lld %7s %9.3f %9.3f\n",
                  r.name.c_str(), (long long)r.questions[0], (long long)r.questions[1],
                  (long long)r.questions[2], (long long)r.pairs[0], (long long)r.pairs[1],
                  (long long)r.pairs[2], k.c_str(), r.mean_entropy, r.majority_share);
    out += buf;
  }
  out += "(Q: questions, P: pairs, K: beliefs per question, H(p*): mean entropy of p* in nats, "
         "maj p*: mean share of the majority belief)\n";
  return out;
}

}  // namespace gdpo::data
