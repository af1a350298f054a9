// Dataset statistics in the layout of the paper's Table 1: per dataset, questions and pairs per split
// (train/eval/test), K, mean entropy of p* and the mean majority share (max p*).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "gdpo/data/record.hpp"

namespace gdpo::data {

struct DatasetStats {
  std::string name;
  std::array<int64_t, 3> questions{};  // train, eval, test
  std::array<int64_t, 3> pairs{};
  int64_t k_min = 0, k_max = 0;
  double mean_entropy = 0;   // nats, mean over questions of H(p*)
  double majority_share = 0; // mean over questions of max_k p*(k)
};

// Adds `data` as split `split` of `stats` (questions are counted once per split).
void accumulate_stats(DatasetStats& stats, const Dataset& data, int split);
// The name and split of a file: "mmoqa_usa_train.jsonl" -> ("mmoqa_usa", 0); -1 when the name holds
// no split (train/eval/valid/validation/dev/test).
std::pair<std::string, int> dataset_name_and_split(const std::string& path);
// The table: one row per dataset.
std::string format_stats_table(const std::vector<DatasetStats>& rows);

}  // namespace gdpo::data
