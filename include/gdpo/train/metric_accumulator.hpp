// Averages named scalar metrics over micro-batches and ranks with the right weights: most metrics by
// pairs, the *_majority / *_minority rewards by how many pairs of that kind there were, and count.*
// metrics summed. One all-reduce combines every rank's sums, whichever names each rank added.
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
  // Sums every rank's totals. Call on every rank. The ranks may have added different names (a rank
  // with no eval batch adds none): every rank ends with the union of the names (their sorted lists
  // are gathered as one string each), a name a rank lacks counting as weight 0 there.
  void all_reduce(dist::Communicator& comm);
  // name -> weighted mean (count.* -> total).
  std::map<std::string, double> result() const;
  bool empty() const { return sums_.empty(); }

 private:
  std::map<std::string, std::pair<double, double>> sums_;  // name -> (sum of value x weight, weight)
};

}  // namespace gdpo::train
