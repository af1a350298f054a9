#include "gdpo/loss/gdpo_loss.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/loss/calibration.hpp"
#include "gdpo/loss/js_distance.hpp"

namespace gdpo::loss {

GdpoOutput gdpo_loss(const GdpoInputs& in, const GdpoOptions& options) {
  GDPO_CHECK(options.calibration_weight >= 0 && options.belief_weight >= 0 &&
                 options.preference_weight >= 0,
             "GDPO weights must be >= 0");
  const int64_t B = in.belief_logps.size(0);
  GDPO_CHECK(in.chosen_belief.numel() == B && in.chosen_after.numel() == B &&
                 in.rejected_after.numel() == B,
             "GDPO sequence log-probs must hold one value per pair (" << B << ")");
  auto valid = in.belief_valid.to(torch::kBool);
  auto kl = calibration_kl(in.belief_logps, in.target_probs, valid);  // [B]
  auto nll = -in.chosen_belief;                                       // [B]
  DpoOutput dpo = dpo_loss(in.chosen_after, in.rejected_after, in.reference_chosen_after,
                           in.reference_rejected_after, options.preference);

  GdpoOutput out;
  out.loss = options.calibration_weight * kl.mean() + options.belief_weight * nll.mean() +
             options.preference_weight * dpo.losses.mean();
  out.calibration = kl.mean().detach();
  out.belief_nll = nll.mean().detach();
  out.preference = dpo.losses.mean().detach();
  out.calibration_kl = kl.detach();
  torch::NoGradGuard no_grad;
  out.belief_prob_sum = belief_prob_sum(in.belief_logps, valid);
  auto renormalised = torch::softmax(in.belief_logps.masked_fill(valid.logical_not(), -INFINITY), 1)
                          .masked_fill(valid.logical_not(), 0);
  out.js_distance =
      js_distance(renormalised, in.target_probs.to(renormalised.scalar_type()), valid);
  out.dpo = std::move(dpo);
  return out;
}

}  // namespace gdpo::loss
