#include "gdpo/train/gradient_sync.hpp"

namespace gdpo::train {

GradientSync::GradientSync(std::shared_ptr<dist::Communicator> comm,
                           std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : comm_(std::move(comm)), params_(std::move(params)) {
  Bucket current;
  int64_t bytes = 0;
  auto close = [&] {
    if (current.members.empty()) return;
    int64_t numel = 0;
    for (size_t i : current.members) numel += params_[i].numel();
    current.flat = torch::empty({numel}, params_[current.members.front()].options());
    buckets_.push_back(std::move(current));
    current = Bucket();
    bytes = 0;
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    // A bucket holds one dtype; a dtype change closes it.
    if (!current.members.empty() &&
        params_[current.members.front()].scalar_type() != p.scalar_type())
      close();
    current.members.push_back(i);
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
    if (bytes >= bucket_bytes) close();
  }
  close();
}

void GradientSync::average() {
  if (comm_->world_size() == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    int64_t offset = 0;
    for (size_t i : bucket.members) {
      auto& p = params_[i];
      auto view = bucket.flat.narrow(0, offset, p.numel());
      if (p.grad().defined())
        view.copy_(p.grad().reshape({-1}));
      else
        view.zero_();
      offset += p.numel();
    }
    comm_->all_reduce(bucket.flat, dist::ReduceOp::Mean);
    offset = 0;
    for (size_t i : bucket.members) {
      auto& p = params_[i];
      auto view = bucket.flat.narrow(0, offset, p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(view);
      else
        p.mutable_grad() = view.clone();
      offset += p.numel();
    }
  }
}

}  // namespace gdpo::train
