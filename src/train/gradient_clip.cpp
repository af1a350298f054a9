#include "gdpo/train/gradient_clip.hpp"

#include <cmath>

namespace gdpo::train {

double clip_gradients(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  double total = 0;
  // sum(kFloat64) accumulates in float64 without a float64 copy of each gradient.
  for (const auto& p : params)
    if (p.grad().defined()) total += p.grad().pow(2).sum(torch::kFloat64).item<double>();
  const double norm = std::sqrt(total);
  const double coef = max_norm / (norm + 1e-6);
  if (max_norm > 0 && coef < 1)
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  return norm;
}

}  // namespace gdpo::train
