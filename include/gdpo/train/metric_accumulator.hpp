// Averages named scalar metrics over micro-batches and ranks with the right weights: most metrics by
// pairs, the *_majority / *_minority rewards by how many pairs of that kind there were, and count.*
// metrics summed. One all-reduce combines every rank's sums.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

#include "gdpo/dist/communicator.hpp"

namespace gdpo::train {

class MetricAccumulator {
 public:
  // Adds one micro-batch's metrics (0-d tensors or doubles), each the mean over `pairs` pairs.
  void add(const std::map<std::string, torch::Tensor>& metrics, int64_t pairs);
  void add(const std::string& name, double mean, double weight);
  // Sums every rank's totals (all ranks must have added the same names). Call on every rank.
  void all_reduce(dist::Communicator& comm);
  // name -> weighted mean (count.* -> total).
  std::map<std::string, double> result() const;
  bool empty() const { return sums_.empty(); }

 private:
  std::map<std::string, std::pair<double, double>> sums_;  // name -> (sum of value x weight, weight)
};

}  // namespace gdpo::train
