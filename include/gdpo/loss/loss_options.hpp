// The [loss] option group: which objective to train (SFT, DPO, cDPO, IPO, GDPO) and its
// hyper-parameters, as `--loss.type gdpo --loss.beta 0.1 ...` or `[loss] type = gdpo` in INI.
#pragma once
#include <cstdint>
#include <string>

#include "gdpo/cli/options.hpp"
#include "gdpo/loss/dpo_loss.hpp"
#include "gdpo/loss/gdpo_loss.hpp"
#include "gdpo/loss/token_logprobs.hpp"

namespace gdpo::loss {

enum class LossType { kSft, kDpo, kCdpo, kIpo, kGdpo };

// The option values as given; loss_type(), dpo_options() and gdpo_options() interpret them.
struct LossConfig {
  std::string type = "gdpo";            // sft | dpo | cdpo | ipo | gdpo
  double beta = 0.1;                    // DPO temperature (the paper's value)
  double label_smoothing = 0.0;         // cDPO's eps in (0, 0.5); cdpo only
  std::string preference_loss = "dpo";  // GDPO's preference term: dpo | cdpo | ipo
  double calibration_weight = 1.0;      // GDPO weights; calibration 0 = preference-only ablation,
  double belief_weight = 1.0;           //   preference 0 = calibration-only ablation
  double preference_weight = 1.0;
  bool reference_free = false;                // DPO-family losses without a reference model
  int64_t logprob_chunk = kDefaultChunkRows;  // rows of [rows, vocab] logits computed at once
};

// Registers the group "loss" and a check run after parsing (validate_loss_config).
void bind_loss_options(cli::OptionSet& options, LossConfig& config);

// Throws gdpo::UsageError naming the option (`--loss.type`, ...) for any invalid value or
// inconsistent combination (label smoothing outside cdpo, all GDPO weights 0, beta <= 0, ...).
void validate_loss_config(const LossConfig& config);

LossType loss_type(const LossConfig& config);  // UsageError on an unknown --loss.type
const char* loss_type_name(LossType type);     // "sft", "dpo", ...
// The DPO options of the dpo/cdpo/ipo losses, or of GDPO's preference term.
DpoOptions dpo_options(const LossConfig& config);
GdpoOptions gdpo_options(const LossConfig& config);
// Whether the objective compares against a frozen reference model (DPO family, not reference-free).
bool needs_reference(const LossConfig& config);

}  // namespace gdpo::loss
