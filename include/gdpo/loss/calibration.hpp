// The calibration term of GDPO: how far the policy's next-token distribution over a question's K
// belief tokens (read after the prompt) is from the group's belief distribution p*.
#pragma once
#include <torch/torch.h>

namespace gdpo::loss {

// KL(p* || p_theta) per example: sum_k p*_k (log p*_k - log p_theta_k) over valid k with p*_k > 0
// (0 log 0 = 0). p_theta is NOT renormalised over the K beliefs: belief_logps are full-vocabulary
// log-probs, so mass the policy puts outside the K belief tokens is penalised too: the value is
// >= -log sum_k p_theta_k >= 0, and 0 only when p_theta equals p* on the K tokens.
// belief_logps [B, K]; target_probs [B, K] (p*, 0 on padding); valid [B, K] bool  ->  [B].
torch::Tensor calibration_kl(const torch::Tensor& belief_logps, const torch::Tensor& target_probs,
                             const torch::Tensor& valid);

}  // namespace gdpo::loss
