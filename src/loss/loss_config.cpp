#include "gdpo/loss/loss_config.hpp"

#include <cmath>
#include <utility>

#include "gdpo/core/checks.hpp"
#include "gdpo/core/error.hpp"

namespace gdpo::loss {

const char* loss_type_name(LossType type) {
  switch (type) {
    case LossType::kSft: return "sft";
    case LossType::kDpo: return "dpo";
    case LossType::kCdpo: return "cdpo";
    case LossType::kIpo: return "ipo";
    case LossType::kGdpo: return "gdpo";
  }
  return "?";
}

const char* dpo_variant_name(DpoVariant variant) {
  return variant == DpoVariant::kSigmoid ? "dpo" : "ipo";
}

DpoVariant preference_variant(const LossConfig& config) {
  switch (config.type) {
    case LossType::kIpo: return DpoVariant::kIpo;
    case LossType::kGdpo: return config.gdpo_preference;
    case LossType::kSft:
    case LossType::kDpo:
    case LossType::kCdpo: break;
  }
  return DpoVariant::kSigmoid;
}

PreferenceSpan preference_span(LossType type) {
  return type == LossType::kCdpo || type == LossType::kGdpo ? PreferenceSpan::kAfterBelief
                                                            : PreferenceSpan::kResponse;
}

bool rejected_has_own_belief(LossType type) { return type == LossType::kDpo; }

bool needs_reference(const LossConfig& config) {
  return config.type != LossType::kSft && !config.reference_free;
}

void validate(const LossConfig& config) {
  require_positive("loss.beta", config.beta);
  require_at_least("loss.logprob-chunk", static_cast<double>(config.logprob_chunk), 1);
  for (auto [name, w] :
       {std::pair<const char*, double>{"calibration-weight", config.calibration_weight},
        {"belief-weight", config.belief_weight},
        {"preference-weight", config.preference_weight}})
    if (!(w >= 0) || !std::isfinite(w))
      GDPO_THROW(UsageError, "--loss." << name << " must be a finite value >= 0, got " << w);
  if (config.type == LossType::kGdpo && config.calibration_weight == 0 &&
      config.belief_weight == 0 && config.preference_weight == 0)
    GDPO_THROW(UsageError,
               "--loss.calibration-weight, --loss.belief-weight and "
               "--loss.preference-weight are all 0: GDPO would train nothing");
  if (config.type == LossType::kSft && config.reference_free)
    GDPO_THROW(UsageError, "--loss.reference-free applies to the DPO-family losses, not sft");
  const double eps = config.label_smoothing;
  if (!(eps >= 0 && eps < 0.5))
    GDPO_THROW(UsageError, "--loss.label-smoothing must be in [0, 0.5), got " << eps);
  if (eps != 0 && (config.type == LossType::kSft || preference_variant(config) != DpoVariant::kSigmoid))
    GDPO_THROW(UsageError, "--loss.label-smoothing " << eps
                                                     << " applies to the sigmoid losses (dpo, cdpo, "
                                                        "gdpo with --loss.preference-loss dpo)");
}

}  // namespace gdpo::loss
