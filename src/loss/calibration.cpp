#include "gdpo/loss/calibration.hpp"

#include "gdpo/core/error.hpp"

namespace gdpo::loss {

torch::Tensor calibration_kl(const torch::Tensor& belief_logps, const torch::Tensor& target_probs,
                             const torch::Tensor& valid) {
  GDPO_CHECK(belief_logps.dim() == 2 && target_probs.sizes() == belief_logps.sizes() &&
                 valid.sizes() == belief_logps.sizes(),
             "calibration needs belief log-probs, target probabilities and validity of one [B, K] "
             "shape, got "
                 << belief_logps.sizes() << ", " << target_probs.sizes() << ", " << valid.sizes());
  auto p = target_probs.to(belief_logps.scalar_type());
  auto used = valid.to(torch::kBool) & (p > 0);
  // Where an entry is unused, log p* is read at 1 (0) and the term is dropped, so no log(0) and no
  // padding log-prob reaches the value or the gradient.
  auto log_p = torch::log(torch::where(used, p, torch::ones_like(p)));
  auto terms = p * (log_p - belief_logps);
  return torch::where(used, terms, torch::zeros_like(terms)).sum(1);
}

}  // namespace gdpo::loss
