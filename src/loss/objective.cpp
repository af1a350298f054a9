#include "gdpo/loss/objective.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/loss/belief_distribution.hpp"
#include "gdpo/loss/dpo_loss.hpp"
#include "gdpo/loss/gdpo_loss.hpp"
#include "gdpo/loss/sequence_logprobs.hpp"
#include "gdpo/loss/sft_loss.hpp"
#include "gdpo/loss/token_logprobs.hpp"

namespace gdpo::loss {

namespace {

torch::Tensor metric(const torch::Tensor& x) { return x.detach().to(torch::kFloat64); }

// Mean of values [B] over mask [B]; 0 when the mask is empty.
torch::Tensor masked_mean(const torch::Tensor& values, const torch::Tensor& mask) {
  auto v = values.detach().to(torch::kFloat64);
  auto m = mask.to(torch::kFloat64);
  return (v * m).sum() / m.sum().clamp_min(1);
}

// Shapes and spans of the batch, checked with a single device synchronisation. `vocab` > 0 also
// checks the token ids against the vocabulary (out-of-range ids would be read out of bounds).
void check_batch(const data::PairBatch& batch, bool beliefs, int64_t T, int64_t vocab) {
  GDPO_CHECK(batch.input_ids.defined() && batch.input_ids.dim() == 2 &&
                 batch.input_ids.size(0) % 2 == 0 && batch.input_ids.size(0) > 0,
             "a PairBatch needs input_ids [2B, T] with B >= 1");
  const int64_t rows = batch.input_ids.size(0), B = rows / 2;
  GDPO_CHECK(batch.input_ids.size(1) == T,
             "input_ids have " << batch.input_ids.size(1) << " positions, log-probs " << T);
  for (const auto* t : {&batch.prompt_len, &batch.belief_len, &batch.pref_begin, &batch.seq_len})
    GDPO_CHECK(t->defined() && t->numel() == rows,
               "span bounds (prompt_len, belief_len, pref_begin, seq_len) must hold one value per "
               "row ("
                   << rows << ")");
  auto ok = (batch.prompt_len >= 1) & (batch.belief_len >= 0) &
            (batch.prompt_len + batch.belief_len <= batch.seq_len) &
            (batch.prompt_len <= batch.pref_begin) & (batch.pref_begin <= batch.seq_len) &
            (batch.seq_len <= T);
  if (beliefs) {
    ok = ok.all().logical_and((batch.belief_len >= 1).all());
    const auto& ids = batch.belief_token_ids;
    GDPO_CHECK(
        ids.defined() && ids.dim() == 2 && ids.size(0) == B &&
            batch.target_probs.sizes() == ids.sizes() && batch.belief_valid.sizes() == ids.sizes(),
        "the belief terms need belief_token_ids, target_probs and belief_valid of shape ["
            << B << ", K]");
    ok = ok.logical_and(batch.belief_valid.to(torch::kBool).any(1).all());
    if (vocab > 0) ok = ok.logical_and(((ids >= 0) & (ids < vocab)).all());
  }
  if (vocab > 0)
    ok = ok.all().logical_and(((batch.input_ids >= 0) & (batch.input_ids < vocab)).all());
  GDPO_CHECK(ok.all().item<bool>(),
             "inconsistent PairBatch: need 1 <= prompt_len <= pref_begin <= seq_len <= "
                 << T << ", prompt_len + belief_len <= seq_len"
                 << (beliefs ? ", belief_len >= 1, a valid belief per pair" : "")
                 << (vocab > 0 ? " and token ids in [0, " + std::to_string(vocab) + ")" : ""));
}

// Rewards, margins, accuracy and log-probs of a DPO-family term, overall and split by whether the
// chosen belief is the group's majority belief.
void add_preference_metrics(LossOutput& out, const DpoOutput& dpo,
                            const torch::Tensor& chosen_logps, const torch::Tensor& rejected_logps,
                            const data::PairBatch& batch) {
  auto& m = out.metrics;
  m["loss.preference"] = metric(dpo.losses.mean());
  m["rewards.chosen"] = metric(dpo.chosen_rewards.mean());
  m["rewards.rejected"] = metric(dpo.rejected_rewards.mean());
  m["rewards.margin"] = metric(dpo.margins.mean());
  m["rewards.accuracy"] = metric(dpo.accuracy.mean());
  m["logps.chosen"] = metric(chosen_logps.mean());
  m["logps.rejected"] = metric(rejected_logps.mean());
  if (batch.chosen_is_majority.defined() &&
      batch.chosen_is_majority.numel() == dpo.margins.numel()) {
    auto majority = batch.chosen_is_majority.to(dpo.margins.device()).to(torch::kBool);
    auto minority = majority.logical_not();
    m["rewards.margin_majority"] = masked_mean(dpo.margins, majority);
    m["rewards.margin_minority"] = masked_mean(dpo.margins, minority);
    m["rewards.accuracy_majority"] = masked_mean(dpo.accuracy, majority);
    m["rewards.accuracy_minority"] = masked_mean(dpo.accuracy, minority);
    m["count.majority"] = majority.sum().to(torch::kFloat64);
    m["count.minority"] = minority.sum().to(torch::kFloat64);
  }
  out.chosen_rewards = dpo.chosen_rewards;
  out.rejected_rewards = dpo.rejected_rewards;
}


void add_belief_metrics(LossOutput& out, const BeliefDistribution& beliefs) {
  out.metrics["belief.prob_sum"] = beliefs.prob_sum.mean();
  out.metrics["belief.js_distance"] = beliefs.js_distance.mean();
  out.js_distance = beliefs.js_distance;
}

// The objective of a batch already checked by check_batch.
LossOutput objective_of_checked(const LossConfig& config, const torch::Tensor& token_logps,
                                const torch::Tensor& belief_logps, const data::PairBatch& batch,
                                const ReferenceLogprobs& reference) {
  const LossType type = config.type;
  const int64_t B = batch.pairs();
  GDPO_CHECK(token_logps.size(0) == 2 * B,
             "token log-probs have " << token_logps.size(0) << " rows, the batch " << 2 * B);
  auto chosen = [B](const torch::Tensor& t) { return t.defined() ? t.narrow(0, 0, B) : t; };
  auto rejected = [B](const torch::Tensor& t) { return t.defined() ? t.narrow(0, B, B) : t; };
  if (needs_reference(config))
    GDPO_CHECK(reference.defined() && reference.response.numel() == 2 * B &&
                   reference.after_belief.numel() == 2 * B,
               "loss '" << loss_type_name(type) << "' needs the reference log-probs of all " << 2 * B
                        << " rows (or --loss.reference-free)");
  const SequenceLogprobs seq = sequence_logprobs(token_logps, batch);

  LossOutput out;
  switch (type) {
    case LossType::kSft: {
      out.loss = sft_loss(chosen(seq.response), chosen(seq.response_tokens));
      out.metrics["loss.sft"] = metric(out.loss);
      out.metrics["logps.chosen"] = metric(chosen(seq.response).mean());
      out.metrics["tokens.chosen"] = metric(chosen(seq.response_tokens).to(torch::kFloat64).mean());
      break;
    }
    case LossType::kDpo:
    case LossType::kCdpo:
    case LossType::kIpo: {
      const bool ref = !config.reference_free;
      const bool after = preference_span(type) == PreferenceSpan::kAfterBelief;
      const auto& policy = after ? seq.after_belief : seq.response;
      const auto& base = after ? reference.after_belief : reference.response;
      DpoOutput dpo = dpo_loss(chosen(policy), rejected(policy),
                               ref ? chosen(base) : torch::Tensor(),
                               ref ? rejected(base) : torch::Tensor(), preference_variant(config),
                               config.beta, config.label_smoothing);
      out.loss = dpo.losses.mean();
      add_preference_metrics(out, dpo, chosen(policy), rejected(policy), batch);
      break;
    }
    case LossType::kGdpo: {
      GDPO_CHECK(belief_logps.defined() && belief_logps.dim() == 2 && belief_logps.size(0) == B &&
                     belief_logps.size(1) == batch.belief_token_ids.size(1),
                 "GDPO needs belief log-probs [" << B << ", K]");
      const bool ref = !config.reference_free;
      GdpoInputs in;
      in.belief_logps = belief_logps;
      in.target_probs = batch.target_probs;
      in.belief_valid = batch.belief_valid;
      // The authors' belief term is a per-example MEAN over the span (average_log_prob=True).
      in.chosen_belief = chosen(seq.belief) / chosen(seq.belief_tokens).to(seq.belief.scalar_type());
      in.chosen_after = chosen(seq.after_belief);
      in.rejected_after = rejected(seq.after_belief);
      if (ref) {
        in.reference_chosen_after = chosen(reference.after_belief);
        in.reference_rejected_after = rejected(reference.after_belief);
      }
      GdpoOutput g = gdpo_loss(in, config);
      out.loss = g.loss;
      out.metrics["loss.calibration"] = metric(g.calibration);
      out.metrics["loss.belief_nll"] = metric(g.belief_nll);
      add_belief_metrics(out, g.beliefs);
      add_preference_metrics(out, g.dpo, in.chosen_after, in.rejected_after, batch);
      break;
    }
  }
  out.metrics["loss"] = metric(out.loss);
  return out;
}

}  // namespace

std::set<std::string> objective_metric_names(const LossConfig& config, bool belief_metrics) {
  std::set<std::string> names = {"loss"};
  const std::set<std::string> preference = {
      "loss.preference",        "rewards.chosen",          "rewards.rejected",
      "rewards.margin",         "rewards.accuracy",        "logps.chosen",
      "logps.rejected",         "rewards.margin_majority", "rewards.margin_minority",
      "rewards.accuracy_majority", "rewards.accuracy_minority", "count.majority",
      "count.minority"};
  switch (config.type) {
    case LossType::kSft:
      names.insert({"loss.sft", "logps.chosen", "tokens.chosen"});
      break;
    case LossType::kDpo:
    case LossType::kCdpo:
    case LossType::kIpo:
      names.insert(preference.begin(), preference.end());
      break;
    case LossType::kGdpo:
      names.insert(preference.begin(), preference.end());
      names.insert({"loss.calibration", "loss.belief_nll"});
      break;
  }
  if (config.type == LossType::kGdpo || belief_metrics)
    names.insert({"belief.prob_sum", "belief.js_distance"});
  return names;
}

LossOutput objective_from_logprobs(const LossConfig& config, const torch::Tensor& token_logps,
                                   const torch::Tensor& belief_logps, const data::PairBatch& batch,
                                   const ReferenceLogprobs& reference) {
  GDPO_CHECK(token_logps.dim() == 2,
             "token log-probs must be [2B, T], got " << token_logps.sizes());
  check_batch(batch, config.type == LossType::kGdpo, token_logps.size(1), /*vocab=*/0);
  return objective_of_checked(config, token_logps, belief_logps, batch, reference);
}

LossOutput compute_objective(const LossConfig& config, const torch::Tensor& hidden,
                             const torch::Tensor& output_weight, const data::PairBatch& batch,
                             const ReferenceLogprobs& reference, bool belief_metrics) {
  const LossType type = config.type;
  const bool beliefs = type == LossType::kGdpo || belief_metrics;
  GDPO_CHECK(hidden.dim() == 3, "hidden states must be [2B, T, H], got " << hidden.sizes());
  GDPO_CHECK(output_weight.dim() == 2,
             "output weight must be [V, H], got " << output_weight.sizes());
  check_batch(batch, beliefs, hidden.size(1), output_weight.size(0));
  const int64_t B = batch.pairs();
  GDPO_CHECK(hidden.size(0) == 2 * B,
             "hidden states have " << hidden.size(0) << " rows, the batch " << 2 * B);
  auto end = batch.seq_len;
  if (type == LossType::kSft) {  // the rejected rows are not read: project none of their positions
    auto is_chosen = torch::arange(2 * B, end.options()) < B;
    end = torch::where(is_chosen, batch.seq_len, batch.prompt_len);
  }
  auto token_logps = token_logprobs(hidden, output_weight, batch.input_ids, batch.prompt_len, end,
                                    config.logprob_chunk);
  torch::Tensor belief_logps;
  if (beliefs)
    belief_logps = position_logprobs(hidden.narrow(0, 0, B), output_weight,
                                     batch.prompt_len.narrow(0, 0, B) - 1, batch.belief_token_ids,
                                     config.logprob_chunk);
  LossOutput out = objective_of_checked(config, token_logps, belief_logps, batch, reference);
  if (beliefs && type != LossType::kGdpo)
    add_belief_metrics(out, belief_distribution(belief_logps, batch.target_probs,
                                                batch.belief_valid));
  return out;
}

}  // namespace gdpo::loss
