#include "gdpo/train/metric_accumulator.hpp"

#include <cmath>
#include <optional>
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

// A metric value as a 0-d float64 tensor (converting float32 to float64 is exact: the same double
// as item<double>()).
torch::Tensor as_float64(const torch::Tensor& t) {
  return t.detach().to(torch::kFloat64).reshape({});
}

// Values to pack into one float64 vector: some host doubles, some 0-d device tensors.
class Packer {
 public:
  void host(double v) {
    host_.push_back(v);
    device_.emplace_back();
  }
  void device(const torch::Tensor& t) {
    host_.push_back(0.0);
    device_.push_back(as_float64(t));
    if (!where_) where_ = t.device();
  }
  int64_t size() const { return static_cast<int64_t>(host_.size()); }
  // [size()] float64 on the first device tensor's device (CPU when there is none): the host values
  // uploaded in one copy, the device values gathered by one stack. No host read.
  torch::Tensor pack() const {
    const auto device = where_.value_or(torch::Device(torch::kCPU));
    auto host = torch::tensor(host_, torch::kFloat64);
    if (!where_) return host;
    host = host.to(device);
    std::vector<torch::Tensor> parts;
    parts.reserve(host_.size());
    for (size_t i = 0; i < host_.size(); ++i)
      parts.push_back(device_[i].defined() ? device_[i].to(device) : host.select(0, i));
    return torch::stack(parts);
  }

 private:
  std::vector<double> host_;
  std::vector<torch::Tensor> device_;
  std::optional<torch::Device> where_;
};

// The host copy of a packed vector (the one device-to-host read), as doubles.
std::vector<double> read_back(const torch::Tensor& packed) {
  auto host = packed.to(torch::kCPU).contiguous();
  const double* p = host.data_ptr<double>();
  return std::vector<double>(p, p + host.numel());
}
}  // namespace

void MetricAccumulator::add(const std::string& name, double mean, double weight) {
  auto& e = sums_[name];
  if (!(weight > 0 && std::isfinite(mean))) return;
  if (e.on_device()) {  // the same float64 additions, on the device
    e.device_sum = e.device_sum + mean * weight;
    e.device_weight = e.device_weight + weight;
  } else {
    e.sum += mean * weight;
    e.weight += weight;
  }
}

void MetricAccumulator::add_on_device(Entry& e, const torch::Tensor& mean,
                                      const torch::Tensor& weight) {
  if (!e.on_device()) {
    e.device_sum = torch::full({}, e.sum, mean.options());
    e.device_weight = torch::full({}, e.weight, mean.options());
  }
  const auto m = mean.to(e.device_sum.device());
  const auto w = weight.to(e.device_sum.device());
  // sum += mean * weight and weight += weight where weight > 0 and the mean is finite: the host
  // arithmetic's float64 operations, selected instead of branched on.
  const auto ok = torch::isfinite(m).logical_and(w > 0);
  e.device_sum = torch::where(ok, e.device_sum + m * w, e.device_sum);
  e.device_weight = torch::where(ok, e.device_weight + w, e.device_weight);
}

void MetricAccumulator::add(const std::map<std::string, torch::Tensor>& metrics, int64_t pairs) {
  if (metrics.empty()) return;
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions(torch::kFloat64).device(metrics.begin()->second.device());
  auto weight_of = [&](const std::string& key) {
    auto it = metrics.find(key);
    return it == metrics.end() ? torch::zeros({}, options) : as_float64(it->second);
  };
  const auto majority = weight_of("count.majority");
  const auto minority = weight_of("count.minority");
  const auto per_pair = torch::full({}, static_cast<double>(pairs), options);
  const auto one = torch::ones({}, options);
  for (const auto& [name, tensor] : metrics) {
    const auto v = as_float64(tensor);
    if (is_count(name))
      add_on_device(sums_[name], v, one);  // a total: summed (weight 1 per micro-batch)
    else if (ends_with(name, "_majority"))
      add_on_device(sums_[name], v, majority);
    else if (ends_with(name, "_minority"))
      add_on_device(sums_[name], v, minority);
    else
      add_on_device(sums_[name], v, per_pair);
  }
}

void MetricAccumulator::all_reduce(dist::Communicator& comm) { all_reduce(comm, {}, {}); }

std::vector<double> MetricAccumulator::all_reduce(dist::Communicator& comm,
                                                  const std::vector<torch::Tensor>& summed,
                                                  const std::vector<torch::Tensor>& local) {
  torch::NoGradGuard no_grad;
  const bool reduce = comm.world_size() > 1;
  // The ranks may have added different names (a rank without an eval batch added none): every rank
  // reduces the union, in the same (sorted) order, its missing names contributing (0, 0). Without
  // a collective only the device totals need reading.
  std::vector<std::string> names;
  if (reduce)
    names = names_of_all_ranks(sums_, comm);
  else
    for (const auto& [name, e] : sums_)
      if (e.on_device()) names.push_back(name);
  // [sum, weight] per name, then `summed`, then `local`.
  Packer packer;
  for (const auto& name : names) {
    auto it = sums_.find(name);
    if (it == sums_.end()) {
      packer.host(0.0);
      packer.host(0.0);
    } else if (it->second.on_device()) {
      packer.device(it->second.device_sum);
      packer.device(it->second.device_weight);
    } else {
      packer.host(it->second.sum);
      packer.host(it->second.weight);
    }
  }
  for (const auto& t : summed) packer.device(t);
  const int64_t reduced = packer.size();
  for (const auto& t : local) packer.device(t);
  if (packer.size() == 0) return {};  // no rank added anything (the same answer on every rank)

  // Where the collective runs (the host for MPI: then this copy is the one read; the GPU for NCCL),
  // the reduced head summed in place, then everything read back at once.
  auto packed = packer.pack();
  if (reduce) {
    packed = packed.to(comm.device());
    if (reduced > 0) {
      auto head = packed.narrow(0, 0, reduced);
      comm.all_reduce(head, dist::ReduceOp::Sum);
    }
  }
  const auto values = read_back(packed);
  for (size_t i = 0; i < names.size(); ++i) {
    auto& e = sums_[names[i]];
    e.sum = values[2 * i];
    e.weight = values[2 * i + 1];
    e.device_sum = torch::Tensor();
    e.device_weight = torch::Tensor();
  }
  return std::vector<double>(values.begin() + 2 * static_cast<int64_t>(names.size()), values.end());
}

std::map<std::string, double> MetricAccumulator::result() const {
  // Device totals (when all_reduce() has not read them) in one read.
  Packer packer;
  for (const auto& [name, e] : sums_)
    if (e.on_device()) {
      packer.device(e.device_sum);
      packer.device(e.device_weight);
    }
  const auto read = packer.size() > 0 ? read_back(packer.pack()) : std::vector<double>();
  std::map<std::string, double> out;
  size_t next = 0;
  for (const auto& [name, e] : sums_) {
    double sum = e.sum, weight = e.weight;
    if (e.on_device()) {
      sum = read[next++];
      weight = read[next++];
    }
    if (is_count(name))
      out[name] = sum;
    else
      out[name] = weight > 0 ? sum / weight : std::nan("");
  }
  return out;
}

}  // namespace gdpo::train
