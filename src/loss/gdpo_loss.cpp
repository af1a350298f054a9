#include "gdpo/loss/gdpo_loss.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/loss/calibration.hpp"

namespace gdpo::loss {

GdpoOutput gdpo_loss(const GdpoInputs& in, const LossConfig& config) {
  GDPO_CHECK(config.calibration_weight >= 0 && config.belief_weight >= 0 &&
                 config.preference_weight >= 0,
             "GDPO weights must be >= 0");
  const int64_t B = in.belief_logps.size(0);
  GDPO_CHECK(in.chosen_belief.numel() == B && in.chosen_after.numel() == B &&
                 in.rejected_after.numel() == B,
             "GDPO sequence log-probs must hold one value per pair (" << B << ")");
  auto valid = in.belief_valid.to(torch::kBool);
  auto kl = calibration_kl(in.belief_logps, in.target_probs, valid);  // [B]
  auto nll = -in.chosen_belief;                                       // [B]
  DpoOutput dpo = dpo_loss(in.chosen_after, in.rejected_after, in.reference_chosen_after,
                           in.reference_rejected_after, config.gdpo_preference, config.beta,
                           config.label_smoothing);

  GdpoOutput out;
  out.loss = config.calibration_weight * kl.mean() + config.belief_weight * nll.mean() +
             config.preference_weight * dpo.losses.mean();
  out.calibration = kl.mean().detach();
  out.belief_nll = nll.mean().detach();
  out.preference = dpo.losses.mean().detach();
  out.calibration_kl = kl.detach();
  out.beliefs = belief_distribution(in.belief_logps, in.target_probs, valid);
  out.dpo = std::move(dpo);
  return out;
}

}  // namespace gdpo::loss
