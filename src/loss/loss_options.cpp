#include "gdpo/loss/loss_options.hpp"

#include "gdpo/core/error.hpp"

namespace gdpo::loss {

namespace {

constexpr LossType kAllTypes[] = {LossType::kSft, LossType::kDpo, LossType::kCdpo, LossType::kIpo,
                                  LossType::kGdpo};

// dpo | cdpo | ipo as a DPO variant; `option` names the option in the error message.
DpoVariant parse_variant(const std::string& value, const std::string& option) {
  if (value == "dpo") return DpoVariant::kSigmoid;
  if (value == "cdpo") return DpoVariant::kConservative;
  if (value == "ipo") return DpoVariant::kIpo;
  GDPO_THROW(UsageError, "--" << option << ": unknown DPO variant '" << value
                              << "' (expected dpo, cdpo or ipo)");
}

}  // namespace

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

LossType loss_type(const LossConfig& config) {
  for (LossType t : kAllTypes)
    if (config.type == loss_type_name(t)) return t;
  GDPO_THROW(UsageError, "--loss.type: unknown loss '"
                             << config.type << "' (expected sft, dpo, cdpo, ipo or gdpo)");
}

DpoOptions dpo_options(const LossConfig& config) {
  const LossType type = loss_type(config);
  DpoOptions o;
  o.variant = type == LossType::kGdpo
                  ? parse_variant(config.preference_loss, "loss.preference-loss")
                  : parse_variant(loss_type_name(type), "loss.type");
  o.beta = config.beta;
  o.label_smoothing = config.label_smoothing;
  o.reference_free = config.reference_free;
  return o;
}

GdpoOptions gdpo_options(const LossConfig& config) {
  GdpoOptions o;
  o.calibration_weight = config.calibration_weight;
  o.belief_weight = config.belief_weight;
  o.preference_weight = config.preference_weight;
  o.preference = dpo_options(config);
  return o;
}

bool needs_reference(const LossConfig& config) {
  return loss_type(config) != LossType::kSft && !config.reference_free;
}

void validate_loss_config(const LossConfig& config) {
  const LossType type = loss_type(config);
  if (!(config.beta > 0)) GDPO_THROW(UsageError, "--loss.beta must be > 0, got " << config.beta);
  if (config.logprob_chunk < 1)
    GDPO_THROW(UsageError, "--loss.logprob-chunk must be >= 1, got " << config.logprob_chunk);
  for (auto [name, w] :
       {std::pair<const char*, double>{"calibration-weight", config.calibration_weight},
        {"belief-weight", config.belief_weight},
        {"preference-weight", config.preference_weight}})
    if (!(w >= 0) || !std::isfinite(w))
      GDPO_THROW(UsageError, "--loss." << name << " must be a finite value >= 0, got " << w);
  if (type == LossType::kGdpo && config.calibration_weight == 0 && config.belief_weight == 0 &&
      config.preference_weight == 0)
    GDPO_THROW(UsageError,
               "--loss.calibration-weight, --loss.belief-weight and "
               "--loss.preference-weight are all 0: GDPO would train nothing");
  if (type == LossType::kSft && config.reference_free)
    GDPO_THROW(UsageError, "--loss.reference-free applies to the DPO-family losses, not sft");
  const DpoVariant variant =
      type == LossType::kSft ? DpoVariant::kSigmoid : dpo_options(config).variant;
  const double eps = config.label_smoothing;
  if (variant == DpoVariant::kConservative) {
    if (!(eps > 0 && eps < 0.5))
      GDPO_THROW(UsageError, "--loss.label-smoothing must be in (0, 0.5) for cdpo, got " << eps);
  } else if (eps != 0) {
    GDPO_THROW(UsageError, "--loss.label-smoothing " << eps
                                                     << " applies only to cdpo (--loss.type "
                                                        "cdpo, or --loss.preference-loss cdpo "
                                                        "with gdpo)");
  }
}

void bind_loss_options(cli::OptionSet& options, LossConfig& config) {
  options.group("loss", "Objective [loss]")
      .add("type", &config.type, "objective: sft | dpo | cdpo | ipo | gdpo")
      .add("beta", &config.beta, "DPO temperature beta (dpo, cdpo, ipo, GDPO's preference term)")
      .add("label-smoothing", &config.label_smoothing,
           "cDPO label smoothing eps in (0, 0.5): the assumed rate of flipped preferences")
      .add("preference-loss", &config.preference_loss,
           "GDPO's preference term on the response after the belief: dpo | cdpo | ipo")
      .add("calibration-weight", &config.calibration_weight,
           "GDPO weight of KL(p* || p_theta) over the belief tokens (0: preference-only ablation)")
      .add("belief-weight", &config.belief_weight,
           "GDPO weight of the chosen belief's negative log-likelihood")
      .add("preference-weight", &config.preference_weight,
           "GDPO weight of the belief-conditioned DPO term (0: calibration-only ablation)")
      .flag("reference-free", &config.reference_free,
            "DPO-family losses against no reference model (reference log-probs taken as 0)")
      .add("logprob-chunk", &config.logprob_chunk,
           "positions whose full-vocabulary logits are computed at once (memory vs speed)");
  options.validate([&config] { validate_loss_config(config); });
}

}  // namespace gdpo::loss
