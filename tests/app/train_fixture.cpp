#include "app/train_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <sstream>
#include <vector>

#include "gdpo/data/record.hpp"
#include "gdpo/data/synthetic.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/io/metric_log.hpp"
#include "gdpo/train/checkpoint_shards.hpp"

namespace gdpo::test {

void write_synthetic_data(const std::string& path, int questions, uint64_t seed) {
  data::SyntheticConfig c;
  c.questions = questions;
  c.beliefs = 4;
  c.pairs_per_question = 4;
  c.seed = seed;
  data::write_records(path, data::make_synthetic(c));
}

std::string train_args(const std::string& data, const std::string& run_dir,
                       const std::string& extra) {
  // "--key value" pairs; those in `extra` replace the defaults.
  std::vector<std::pair<std::string, std::string>> options = {
      {"--model.config", "tiny-gpt2"},   {"--model.seed", "1"},
      {"--tokenizer.path", "bytes"},     {"--data.train", "'" + data + "'"},
      {"--data.split", "0.75,0.25"},     {"--data.max-length", "200"},
      {"--data.max-prompt-length", "120"}, {"--train.run-dir", "'" + run_dir + "'"},
      {"--train.batch-size", "8"},       {"--train.lr", "1e-3"},
      {"--train.warmup-steps", "2"},     {"--eval.every-examples", "16"},
      {"--eval.n-examples", "16"},       {"--eval.batch-size", "8"},
      {"--train.n-epochs", "10"},        {"--dist.threads", "1"},
      {"--log.level", "warn"}};
  std::istringstream in(extra);
  for (std::string key, value; in >> key >> value;) {
    auto it = std::find_if(options.begin(), options.end(),
                           [&](const auto& kv) { return kv.first == key; });
    if (it != options.end())
      it->second = value;
    else
      options.emplace_back(key, value);
  }
  std::string args = "train";
  for (const auto& [key, value] : options) args += " " + key + " " + value;
  return args;
}

std::map<std::string, torch::Tensor> read_group(const std::string& checkpoint,
                                                const std::string& group) {
  // Through the checkpoint reader: a single file and a manifest with per-rank shards alike.
  const train::CheckpointTensors tensors(checkpoint);
  std::map<std::string, torch::Tensor> out;
  for (const auto& name : tensors.names())
    if (name.rfind(group + "/", 0) == 0)
      out[name] = tensors.read(name, tensors.dtype(name), tensors.shape(name));
  return out;
}

double max_abs_diff(const std::map<std::string, torch::Tensor>& a,
                    const std::map<std::string, torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end()) {
      ADD_FAILURE() << "missing " << name;
      continue;
    }
    worst = std::max(worst, (t.to(torch::kFloat64) - it->second.to(torch::kFloat64))
                                .abs()
                                .max()
                                .item<double>());
  }
  return worst;
}

std::vector<double> column(const std::string& run_dir, const std::string& table,
                           const std::string& name) {
  auto rows = io::MetricLog::read((std::filesystem::path(run_dir) / "metrics.h5").string(), table);
  auto it = rows.find(name);
  if (it == rows.end()) {
    ADD_FAILURE() << run_dir << ": no column " << table << "/" << name;
    return {};
  }
  return it->second;
}

}  // namespace gdpo::test
