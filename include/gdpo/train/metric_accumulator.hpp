// Averages named scalar metrics over micro-batches and ranks with the right weights: most metrics by
// pairs, the *_majority / *_minority rewards by how many pairs of that kind there were, and count.*
// metrics summed. One all-reduce combines every rank's sums, whichever names each rank added.
//
// Metrics stay on their device: add() of a micro-batch's metric tensors reads nothing back (each
// name's running sum and weight are 0-d float64 tensors on the metrics' device, updated with the same
// float64 operations, in the same order, as the host arithmetic `sum += mean * weight`). Everything is
// read back to the host in ONE transfer, at all_reduce() (after the collective, which runs on the
// communicator's device) or, without one, at result(). On CPU the results are bit for bit those of
// the host arithmetic.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "gdpo/dist/communicator.hpp"

namespace gdpo::train {

class MetricAccumulator {
 public:
  // Adds one micro-batch's metrics (0-d tensors on any device), each the mean over `pairs` pairs,
  // without a host read. A mean that is not finite, or whose weight is 0, is skipped (as below).
  void add(const std::map<std::string, torch::Tensor>& metrics, int64_t pairs);
  // A host value: sum += mean * weight, weight += weight (skipped unless weight > 0 and mean finite).
  void add(const std::string& name, double mean, double weight);
  // Sums every rank's totals. Call on every rank. The ranks may have added different names (a rank
  // with no eval batch adds none): every rank ends with the union of the names (their sorted lists
  // are gathered as one string each), a name a rank lacks counting as weight 0 there. Afterwards
  // every total is on the host (one device-to-host read).
  void all_reduce(dist::Communicator& comm);
  // The same, and in the same collective and the same host read: `summed` (0-d tensors, any device
  // and dtype, e.g. "this rank saw a non-finite loss" flags) summed over the ranks, and `local`
  // (0-d tensors, this rank's own values, not reduced). Returns their host values as float64,
  // [summed..., local...]. Every rank must pass as many `summed` (and `local`) values. With a world
  // of one rank there is no collective, only the read.
  std::vector<double> all_reduce(dist::Communicator& comm, const std::vector<torch::Tensor>& summed,
                                 const std::vector<torch::Tensor>& local = {});
  // name -> weighted mean (count.* -> total). Reads device totals back in one transfer when
  // all_reduce() has not already.
  std::map<std::string, double> result() const;
  bool empty() const { return sums_.empty(); }

 private:
  struct Entry {
    double sum = 0, weight = 0;  // on the host (host adds, or after a read)
    // On the device, once a device metric was added (then the host values above are folded in):
    // 0-d float64, the running sum of value x weight and the running weight.
    torch::Tensor device_sum, device_weight;
    bool on_device() const { return device_sum.defined(); }
  };
  void add_on_device(Entry& entry, const torch::Tensor& mean, const torch::Tensor& weight);
  std::map<std::string, Entry> sums_;  // name -> totals
};

}  // namespace gdpo::train
