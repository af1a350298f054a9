// Which objective to train (SFT, DPO, cDPO, IPO, GDPO) and its hyper-parameters: one typed struct,
// validated once where it is built (the app binds it to `[loss]` / `--loss.*`).
#pragma once
#include <cstdint>

#include "gdpo/loss/token_logprobs.hpp"

namespace gdpo::loss {

enum class LossType { kSft, kDpo, kCdpo, kIpo, kGdpo };
inline constexpr LossType kLossTypes[] = {LossType::kSft, LossType::kDpo, LossType::kCdpo,
                                          LossType::kIpo, LossType::kGdpo};

// The preference term's form, on a margin m of summed log-probs against the reference:
enum class DpoVariant {
  kSigmoid,       // -log sigmoid(beta m)                                          (DPO)
  kConservative,  // -(1 - eps) log sigmoid(beta m) - eps log sigmoid(-beta m)      (cDPO)
  kIpo,           // (m - 1 / (2 beta))^2, on the unscaled margin as in the DPO reference code
};
inline constexpr DpoVariant kDpoVariants[] = {DpoVariant::kSigmoid, DpoVariant::kConservative,
                                              DpoVariant::kIpo};

struct LossConfig {
  LossType type = LossType::kGdpo;
  double beta = 0.1;                 // DPO temperature (the paper's value)
  double label_smoothing = 0.0;      // cDPO's eps in (0, 0.5); conservative variant only
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
const char* dpo_variant_name(DpoVariant variant);  // "dpo", "cdpo", "ipo"

// The DPO variant of the dpo/cdpo/ipo losses, or of GDPO's preference term (SFT: kSigmoid, unused).
DpoVariant preference_variant(const LossConfig& config);
// Whether the objective compares against a frozen reference model (DPO family, not reference-free).
bool needs_reference(const LossConfig& config);

}  // namespace gdpo::loss
