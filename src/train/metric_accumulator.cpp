#include "gdpo/train/metric_accumulator.hpp"

#include <cmath>
#include <set>
#include <sstream>
#include <vector>

namespace gdpo::train {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool is_count(const std::string& name) { return name.rfind("count.", 0) == 0; }

// The sorted union of every rank's names (each rank's sent as one string, a name per line).
template <class Map>
std::vector<std::string> names_of_all_ranks(const Map& sums, dist::Communicator& comm) {
  std::string mine;
  for (const auto& [name, sw] : sums) mine += name + '\n';  // metric names hold no '\n'
  std::set<std::string> names;
  for (const auto& theirs : comm.all_gather(mine)) {
    std::istringstream in(theirs);
    for (std::string name; std::getline(in, name);) names.insert(name);
  }
  return {names.begin(), names.end()};
}
}  // namespace

void MetricAccumulator::add(const std::string& name, double mean, double weight) {
  auto& [sum, w] = sums_[name];
  if (weight > 0 && std::isfinite(mean)) {
    sum += mean * weight;
    w += weight;
  }
}

void MetricAccumulator::add(const std::map<std::string, torch::Tensor>& metrics, int64_t pairs) {
  auto value = [&](const std::string& key) {
    auto it = metrics.find(key);
    return it == metrics.end() ? 0.0 : it->second.item<double>();
  };
  const double majority = value("count.majority");
  const double minority = value("count.minority");
  for (const auto& [name, tensor] : metrics) {
    const double v = tensor.item<double>();
    if (is_count(name))
      add(name, v, 1.0);  // a total: summed (weight 1 per micro-batch, result() undoes the mean)
    else if (ends_with(name, "_majority"))
      add(name, v, majority);
    else if (ends_with(name, "_minority"))
      add(name, v, minority);
    else
      add(name, v, static_cast<double>(pairs));
  }
}

void MetricAccumulator::all_reduce(dist::Communicator& comm) {
  if (comm.world_size() == 1) return;
  // The ranks may have added different names (a rank without an eval batch added none): every rank
  // reduces the union, in the same (sorted) order, its missing names contributing (0, 0).
  const auto names = names_of_all_ranks(sums_, comm);
  if (names.empty()) return;  // no rank added anything (the same answer on every rank)
  auto packed = torch::zeros({static_cast<int64_t>(names.size()) * 2}, torch::kFloat64);
  auto* p = packed.data_ptr<double>();
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = sums_.find(names[i]);
    if (it == sums_.end()) continue;
    p[2 * i] = it->second.first;
    p[2 * i + 1] = it->second.second;
  }
  comm.all_reduce(packed, dist::ReduceOp::Sum);
  p = packed.data_ptr<double>();
  for (size_t i = 0; i < names.size(); ++i) sums_[names[i]] = {p[2 * i], p[2 * i + 1]};
}

std::map<std::string, double> MetricAccumulator::result() const {
  std::map<std::string, double> out;
  for (const auto& [name, sw] : sums_) {
    if (is_count(name))
      out[name] = sw.first;
    else
      out[name] = sw.second > 0 ? sw.first / sw.second : std::nan("");
  }
  return out;
}

}  // namespace gdpo::train
