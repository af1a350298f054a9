#include "gdpo/loss/dpo_loss.hpp"

#include "gdpo/core/error.hpp"

namespace gdpo::loss {

DpoOutput dpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                   const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                   DpoVariant variant, double beta, double label_smoothing) {
  GDPO_CHECK(beta > 0, "DPO beta must be > 0, got " << beta);
  GDPO_CHECK(policy_chosen.sizes() == policy_rejected.sizes(),
             "chosen " << policy_chosen.sizes() << " and rejected " << policy_rejected.sizes()
                       << " log-probs differ in shape");
  torch::Tensor ref_chosen = torch::zeros_like(policy_chosen);
  torch::Tensor ref_rejected = torch::zeros_like(policy_rejected);
  GDPO_CHECK(reference_chosen.defined() == reference_rejected.defined(),
             "DPO needs both reference log-probs or neither (reference-free)");
  if (reference_chosen.defined()) {
    GDPO_CHECK(reference_chosen.sizes() == policy_chosen.sizes() &&
                   reference_rejected.sizes() == policy_rejected.sizes(),
               "reference log-probs do not match the policy's shape " << policy_chosen.sizes());
    ref_chosen = reference_chosen.detach().to(policy_chosen.scalar_type());
    ref_rejected = reference_rejected.detach().to(policy_rejected.scalar_type());
  }
  auto margin = (policy_chosen - policy_rejected) - (ref_chosen - ref_rejected);  // [B]

  DpoOutput out;
  switch (variant) {
    case DpoVariant::kSigmoid: {
      const double eps = label_smoothing;
      GDPO_CHECK(eps >= 0 && eps < 0.5, "DPO label smoothing must be in [0, 0.5), got " << eps);
      out.losses = -torch::log_sigmoid(beta * margin);
      if (eps != 0)  // conservative DPO
        out.losses = (1 - eps) * out.losses - eps * torch::log_sigmoid(-beta * margin);
      break;
    }
    case DpoVariant::kIpo: out.losses = (margin - 1 / (2 * beta)).pow(2); break;
  }
  out.chosen_rewards = (beta * (policy_chosen - ref_chosen)).detach();
  out.rejected_rewards = (beta * (policy_rejected - ref_rejected)).detach();
  out.margins = out.chosen_rewards - out.rejected_rewards;
  out.accuracy = (out.chosen_rewards > out.rejected_rewards).to(out.margins.scalar_type());
  return out;
}

}  // namespace gdpo::loss
