// Shared by the trainer tests: a small synthetic dataset on disk, the tiny GPT-2, and helpers that run
// `gdpo train` and compare checkpoint tensors.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "support/test_support.hpp"

namespace gdpo::test {

// Writes synthetic opinion pairs (12 questions x 4 beliefs x 4 pairs) to `path`.
void write_synthetic_data(const std::string& path, int questions = 12, uint64_t seed = 3);

// The options of a small, fast run on `data` into `run_dir`: tiny-gpt2, batch 8, evaluation every
// 16 pairs, one CPU thread. `extra` is appended (later options win only if not already given).
std::string train_args(const std::string& data, const std::string& run_dir,
                       const std::string& extra = "");

// Every dataset under `group` ("policy", "optimizer") of a checkpoint, by name.
std::map<std::string, torch::Tensor> read_group(const std::string& checkpoint,
                                                const std::string& group);

// The largest absolute difference between equally named tensors (fails the test on a name mismatch).
double max_abs_diff(const std::map<std::string, torch::Tensor>& a,
                    const std::map<std::string, torch::Tensor>& b);

// The `table` column `name` of a run's metrics.h5 (fails the test, and is empty, when it has none).
std::vector<double> column(const std::string& run_dir, const std::string& table,
                           const std::string& name);

}  // namespace gdpo::test
