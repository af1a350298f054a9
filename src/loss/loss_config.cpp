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
  switch (variant) {
    case DpoVariant::kSigmoid: return "dpo";
    case DpoVariant::kConservative: return "cdpo";
    case DpoVariant::kIpo: return "ipo";
  }
  return "?";
}

DpoVariant preference_variant(const LossConfig& config) {
  switch (config.type) {
    case LossType::kCdpo: return DpoVariant::kConservative;
    case LossType::kIpo: return DpoVariant::kIpo;
    case LossType::kGdpo: return config.gdpo_preference;
    case LossType::kSft:
    case LossType::kDpo: break;
  }
  return DpoVariant::kSigmoid;
}

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
  if (config.type != LossType::kSft && preference_variant(config) == DpoVariant::kConservative) {
    if (!(eps > 0 && eps < 0.5))
      GDPO_THROW(UsageError, "--loss.label-smoothing must be in (0, 0.5) for cdpo, got " << eps);
  } else if (eps != 0) {
    GDPO_THROW(UsageError, "--loss.label-smoothing " << eps
                                                     << " applies only to cdpo (--loss.type "
                                                        "cdpo, or --loss.preference-loss cdpo "
                                                        "with gdpo)");
  }
}

}  // namespace gdpo::loss
