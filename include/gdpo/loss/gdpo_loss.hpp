// The GDPO loss (Group Distributional Preference Optimization, "No Preference Left Behind", ICLR
// 2025; not TRL's GDPO): calibrate the policy's belief distribution to the group's, learn to state
// the chosen belief, and prefer the chosen response over the rejected one given that belief.
#pragma once
#include <torch/torch.h>

#include "gdpo/loss/belief_distribution.hpp"
#include "gdpo/loss/dpo_loss.hpp"
#include "gdpo/loss/loss_config.hpp"

namespace gdpo::loss {

// Everything the loss saw, for one micro-batch of B pairs whose chosen and rejected responses are
// both conditioned on the chosen belief.
struct GdpoInputs {
  torch::Tensor belief_logps;    // [B, K] full-vocabulary log p_theta(b_k | x) after the prompt
  torch::Tensor target_probs;    // [B, K] p*(b | x), 0 on padding
  torch::Tensor belief_valid;    // [B, K] bool
  torch::Tensor chosen_belief;   // [B] MEAN token log-prob of each chosen row's belief span
  torch::Tensor chosen_after;    // [B] summed log-probs of the chosen row's preference span
  torch::Tensor rejected_after;  // [B] the same for the rejected row (the chosen belief's)
  torch::Tensor reference_chosen_after;    // [B] the reference model's; undefined: reference-free
  torch::Tensor reference_rejected_after;  // [B]
};

struct GdpoOutput {
  torch::Tensor loss;             // scalar, differentiable: w_cal cal + w_belief nll + w_pref pref
  torch::Tensor calibration;      // scalar, detached: mean over examples of KL(p* || p_theta)
  torch::Tensor belief_nll;       // scalar, detached: mean over examples of -chosen_belief
  torch::Tensor preference;       // scalar, detached: mean over examples of the DPO loss
  torch::Tensor calibration_kl;   // [B] detached, per example
  BeliefDistribution beliefs;     // p_theta over the K beliefs, its mass and JS distance to p*
  DpoOutput dpo;                  // per-example preference losses, rewards, margins, accuracy
};

// The authors' `mpo` loss (trainers.py: losses = CE_losses + dpo_losses - policy_logps_belief):
// total = w_cal * mean_i KL(p*_i || p_theta_i)              (see calibration_kl: not renormalised)
//       + w_belief * mean_i -(1/n_i) log p_theta(chosen belief span_i | x_i)   (per-token mean)
//       + w_pref * mean_i DPO(preference-span log-probs of chosen_i vs rejected_i)
// All weights 1 by default (the authors have none).
// with the weights, beta and preference variant (config.gdpo_preference) of `config`.
GdpoOutput gdpo_loss(const GdpoInputs& in, const LossConfig& config);

}  // namespace gdpo::loss
