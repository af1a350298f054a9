// The one entry point the trainer calls: the configured objective (SFT, DPO, cDPO, IPO or GDPO) of
// a micro-batch, from ONE policy forward over the stacked chosen and rejected rows, with its
// metrics.
#pragma once
#include <torch/torch.h>

#include <map>
#include <set>
#include <string>

#include "gdpo/data/batch.hpp"
#include "gdpo/loss/loss_config.hpp"
#include "gdpo/loss/reference_logprobs.hpp"

namespace gdpo::loss {

struct LossOutput {
  torch::Tensor loss;  // scalar, differentiable: the micro-batch mean to back-propagate
  // Detached float64 scalars (0-dim, on the loss's device; call .item() only when logging), named
  // as they appear everywhere (logs, metrics.h5 columns, summary.json, gdpo inspect):
  //   loss, loss.<term>            sft | preference | calibration | belief_nll
  //   logps.chosen, logps.rejected  mean summed log-probs entering the loss (GDPO: after the
  //                                 belief; SFT: chosen response), tokens.chosen (mean count)
  //   rewards.{chosen,rejected,margin,accuracy}   beta (policy - reference), DPO family and GDPO
  //   rewards.{margin,accuracy}_{majority,minority}  the same over the pairs whose chosen belief
  //                                 is / is not argmax p* (0 when there are none), with
  //   count.majority, count.minority  the number of such pairs, to weight averages across batches
  //   belief.prob_sum, belief.js_distance   GDPO, or any objective with belief_metrics (see
  //                                 BeliefDistribution)
  std::map<std::string, torch::Tensor> metrics;
  // [B] detached per-pair rewards (undefined for SFT).
  torch::Tensor chosen_rewards, rejected_rewards;
  // [B] detached float64 JS distance of each pair's belief distribution to p* (defined with the
  // belief metrics), for averages per question.
  torch::Tensor js_distance;
};

// From the policy's final hidden states of the whole micro-batch (rows [0, B) chosen, [B, 2B)
// rejected): hidden [2B, T, H], output_weight [V, H]. Only the positions the objective reads are
// projected onto the vocabulary, in chunks of config.logprob_chunk (SFT: the chosen responses;
// DPO family: every response; GDPO: every response and the K belief tokens after each prompt).
// `reference` may be default-constructed when !needs_reference(config). `belief_metrics` adds the
// belief calibration metrics to objectives that do not compute them anyway (evaluation).
// The batch is checked once here (spans, shapes, token ids against the vocabulary).
LossOutput compute_objective(const LossConfig& config, const torch::Tensor& hidden,
                             const torch::Tensor& output_weight, const data::PairBatch& batch,
                             const ReferenceLogprobs& reference, bool belief_metrics = false);

// The names compute_objective can put in LossOutput::metrics for `config` (with belief_metrics), so
// that an option naming a metric is checked before any work. The majority/minority names need
// batches with p* (every gdpo data file has it).
std::set<std::string> objective_metric_names(const LossConfig& config, bool belief_metrics);

// The same from log-probs already computed: token_logps [2B, T] (token_logprobs over at least
// [prompt_len, seq_len) of the rows used) and, for GDPO, belief_logps [B, K] (position_logprobs at
// prompt_len - 1 of the chosen rows; may be undefined for the other losses).
LossOutput objective_from_logprobs(const LossConfig& config, const torch::Tensor& token_logps,
                                   const torch::Tensor& belief_logps, const data::PairBatch& batch,
                                   const ReferenceLogprobs& reference);

}  // namespace gdpo::loss
