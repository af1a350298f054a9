// Which objective to train and its hyper-parameters, under the GDPO authors' names (sft, dpo, cdpo,
// ipo, gdpo = their `mpo`): one typed struct, validated once where it is built (the app binds it to
// `[loss]` / `--loss.*`). docs/fidelity.md says where gdpo offers more than their code.
#pragma once
#include <cstdint>

#include "gdpo/loss/token_logprobs.hpp"

namespace gdpo::loss {

// sft   minus the mean over examples of each chosen response's mean token log-prob
// dpo   DPO on whole responses; the rejected response carries its own belief
// cdpo  the authors' "conditioned" DPO: DPO on the preference span after the belief, the rejected
//       response conditioned on the chosen belief (not conservative DPO: that is label smoothing)
// ipo   IPO on whole responses, the rejected response conditioned on the chosen belief
// gdpo  calibration KL + belief NLL + DPO on the preference span (the authors' `mpo`)
enum class LossType { kSft, kDpo, kCdpo, kIpo, kGdpo };
inline constexpr LossType kLossTypes[] = {LossType::kSft, LossType::kDpo, LossType::kCdpo,
                                          LossType::kIpo, LossType::kGdpo};

// The preference term's form, on a margin m of summed log-probs against the reference:
enum class DpoVariant {
  kSigmoid,  // -(1 - eps) log sigmoid(beta m) - eps log sigmoid(-beta m); eps = label smoothing,
             // 0 by default (plain DPO); eps > 0 is conservative DPO (Mitchell's "cDPO")
  kIpo,      // (m - 1 / (2 beta))^2, on the unscaled margin as in the authors' code
};
inline constexpr DpoVariant kDpoVariants[] = {DpoVariant::kSigmoid, DpoVariant::kIpo};

// Which log-probs a preference loss compares, and which rejected response it is given.
enum class PreferenceSpan {
  kResponse,     // the whole response (dpo, ipo)
  kAfterBelief,  // the preference span after the belief, [pref_begin, seq_len) (cdpo, gdpo)
};

struct LossConfig {
  LossType type = LossType::kGdpo;
  double beta = 0.1;                 // DPO temperature (the paper's value)
  double label_smoothing = 0.0;      // eps in [0, 0.5) of the sigmoid losses (dpo, cdpo, gdpo)
  DpoVariant gdpo_preference = DpoVariant::kSigmoid;  // GDPO's preference term after the belief
  double calibration_weight = 1.0;   // GDPO weights; calibration 0 = preference-only ablation,
  double belief_weight = 1.0;        //   preference 0 = calibration-only ablation
  double preference_weight = 1.0;
  bool reference_free = false;       // DPO-family terms against reference log-probs of 0
  int64_t logprob_chunk = kDefaultChunkRows;  // rows of [rows, vocab] logits computed at once
};

// Throws gdpo::UsageError naming the option (`--loss.beta`, ...) for any invalid value or
// inconsistent combination (label smoothing outside cdpo, all GDPO weights 0, beta <= 0, ...).
void validate(const LossConfig& config);

const char* loss_type_name(LossType type);        // "sft", "dpo", "cdpo", "ipo", "gdpo"
const char* dpo_variant_name(DpoVariant variant);  // "dpo", "ipo"

// The DPO variant of the dpo/cdpo/ipo losses, or of GDPO's preference term (SFT: kSigmoid, unused).
DpoVariant preference_variant(const LossConfig& config);
// The span a preference loss sums (SFT: kResponse, unused).
PreferenceSpan preference_span(LossType type);
// Whether the rejected response carries its own belief (dpo only, as the authors' dpo_mode) rather
// than the chosen one.
bool rejected_has_own_belief(LossType type);
// Whether the objective compares against a frozen reference model (DPO family, not reference-free).
bool needs_reference(const LossConfig& config);

}  // namespace gdpo::loss
