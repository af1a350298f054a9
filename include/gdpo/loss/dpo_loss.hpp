// Direct Preference Optimization on summed response log-probs against a frozen reference model:
// the sigmoid loss (DPO), its label-smoothed conservative form (cDPO), IPO, and reference-free DPO.
#pragma once
#include <torch/torch.h>

namespace gdpo::loss {

enum class DpoVariant {
  kSigmoid,       // -log sigmoid(beta m)
  kConservative,  // -(1 - eps) log sigmoid(beta m) - eps log sigmoid(-beta m)   (cDPO)
  kIpo,           // (m - 1 / (2 beta))^2, on the unscaled margin as in the DPO reference code
};

struct DpoOptions {
  DpoVariant variant = DpoVariant::kSigmoid;
  double beta = 0.1;             // the paper's value
  double label_smoothing = 0.0;  // eps of cDPO, in [0, 0.5); used only by kConservative
  bool reference_free = false;   // reference log-probs taken as 0
};

struct DpoOutput {
  torch::Tensor losses;            // [B] per-example loss, differentiable
  torch::Tensor chosen_rewards;    // [B] beta (logp_chosen - ref_chosen), detached
  torch::Tensor rejected_rewards;  // [B] beta (logp_rejected - ref_rejected), detached
  torch::Tensor margins;           // [B] chosen_rewards - rejected_rewards, detached
  torch::Tensor accuracy;          // [B] 1 where chosen_rewards > rejected_rewards else 0, detached
};

// m = (policy_chosen - policy_rejected) - (reference_chosen - reference_rejected), every input [B]
// of summed log-probs. The reference tensors are ignored (may be undefined) when reference_free.
DpoOutput dpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                   const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                   const DpoOptions& options);

}  // namespace gdpo::loss
