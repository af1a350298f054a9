#include "gdpo/train/gradient_clip.hpp"

namespace gdpo::train {

torch::Tensor clip_gradients_on_device(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  // sum(kFloat64) accumulates in float64 without a float64 copy of each gradient.
  std::vector<torch::Tensor> sums;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) {
      grads.push_back(p.grad());
      sums.push_back(p.grad().pow(2).sum(torch::kFloat64));
    }
  if (sums.empty()) return torch::zeros({}, torch::kFloat64);
  // The sums added one after the other in parameter order, as a host loop `total += s` would: the
  // last element of a cumulative sum (CPU's cumsum is that sequential loop in float64; sum() would
  // add pairwise, which rounds differently).
  const auto total = torch::stack(sums).cumsum(0).select(0, -1);
  const auto norm = total.sqrt();
  scale_gradients_to_norm(grads, norm, max_norm);
  return norm;
}

void scale_gradients_to_norm(const std::vector<torch::Tensor>& grads, const torch::Tensor& norm,
                             double max_norm) {
  if (max_norm <= 0) return;
  torch::NoGradGuard no_grad;
  // max_norm / (norm + 1e-6) as a tensor division (a Scalar / Tensor would multiply by the
  // reciprocal, which rounds differently). NaN < 1 is false: a NaN norm leaves the gradients.
  const auto coef = torch::full({}, max_norm, norm.options()).div(norm + 1e-6);
  const auto scale = torch::where(coef < 1, coef, torch::ones_like(coef));
  for (auto g : grads) g.mul_(scale);  // x * 1.0 == x bitwise: the unclipped case is unchanged
}

double clip_gradients(const std::vector<torch::Tensor>& params, double max_norm) {
  return clip_gradients_on_device(params, max_norm).item<double>();
}

}  // namespace gdpo::train
