#include "gdpo/loss/belief_distribution.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/loss/js_distance.hpp"

namespace gdpo::loss {

BeliefDistribution belief_distribution(const torch::Tensor& belief_logps,
                                       const torch::Tensor& target_probs,
                                       const torch::Tensor& valid) {
  GDPO_CHECK(belief_logps.dim() == 2 && target_probs.sizes() == belief_logps.sizes() &&
                 valid.sizes() == belief_logps.sizes(),
             "belief log-probs " << belief_logps.sizes() << ", p* " << target_probs.sizes()
                                 << " and validity " << valid.sizes() << " must share one [B, K] "
                                 << "shape");
  torch::NoGradGuard no_grad;
  const auto invalid = valid.to(torch::kBool).logical_not();
  const auto logps = belief_logps.detach().to(torch::kFloat64).masked_fill(invalid, -INFINITY);
  BeliefDistribution out;
  out.prob_sum = logps.exp().sum(1);
  out.probs = torch::softmax(logps, 1).masked_fill(invalid, 0);
  out.js_distance = js_distance(out.probs, target_probs.to(torch::kFloat64), valid);
  return out;
}

}  // namespace gdpo::loss
