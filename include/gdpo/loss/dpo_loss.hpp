// Direct Preference Optimization on summed log-probs against a frozen reference model: the sigmoid
// loss (DPO), its label-smoothed conservative form, IPO, and reference-free DPO.
#pragma once
#include <torch/torch.h>

#include "gdpo/loss/loss_config.hpp"

namespace gdpo::loss {

struct DpoOutput {
  torch::Tensor losses;            // [B] per-example loss, differentiable
  torch::Tensor chosen_rewards;    // [B] beta (logp_chosen - ref_chosen), detached
  torch::Tensor rejected_rewards;  // [B] beta (logp_rejected - ref_rejected), detached
  torch::Tensor margins;           // [B] chosen_rewards - rejected_rewards, detached
  torch::Tensor accuracy;          // [B] 1 where chosen_rewards > rejected_rewards else 0, detached
};

// m = (policy_chosen - policy_rejected) - (reference_chosen - reference_rejected), every input [B]
// of summed log-probs; undefined reference tensors are read as 0 (reference-free DPO). The loss
// form is `variant` (see DpoVariant) with temperature `beta` > 0 and, for kSigmoid only, label
// smoothing eps in [0, 0.5) (0: plain DPO).
DpoOutput dpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                   const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                   DpoVariant variant, double beta, double label_smoothing = 0.0);

}  // namespace gdpo::loss
