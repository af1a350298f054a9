// The trainer's entry point: hidden states of the stacked pair batch in, loss and metrics out.
// Hand-computed GDPO / DPO / SFT values on a tiny model whose hidden states are the log-probs
// (identity output weight), and gradients against central finite differences in float64.
#include "gdpo/loss/objective.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "loss/fixtures.hpp"
#include "gdpo/core/error.hpp"

namespace gdpo::loss {
namespace {

using test::kTol;

// log(probs) as a float64 vector: [probs.size()].
torch::Tensor log_of(std::vector<double> probs) {
  return torch::log(torch::tensor(probs, torch::kFloat64));
}

// Hidden states for test::one_pair_batch() with V = H = 4 and an identity output weight, so that
// hidden[r, t] = log of the next-token distribution after position t. Unread positions hold junk.
torch::Tensor hand_hidden() {
  auto h = torch::full({2, 5, 4}, 100.0, torch::kFloat64);
  h[0][1] = log_of({0.25, 0.25, 0.25, 0.25});  // beliefs {0, 1}: 1/4 each; belief token 0: 1/4
  h[0][2] = log_of({0.1, 0.1, 0.5, 0.3});      // chosen response token 2: 1/2
  h[1][1] = log_of({0.25, 0.25, 0.25, 0.25});  // rejected belief token 0: 1/4
  h[1][2] = log_of({0.25, 0.25, 0.25, 0.25});  // rejected token 3: 1/4
  h[1][3] = log_of({0.1, 0.1, 0.3, 0.5});      // rejected token 3: 1/2
  return h.requires_grad_();
}

// Chosen: belief 1/4, after 1/4; rejected: belief 1/4, after 1/4.
ReferenceLogprobs hand_reference() {
  ReferenceLogprobs r;
  r.after_belief = torch::full({2}, std::log(0.25), torch::kFloat64);
  r.response = std::log(0.25) + r.after_belief;
  return r;
}

LossConfig config(LossType type) {
  LossConfig c;
  c.type = type;
  c.beta = 0.5;
  return c;
}

double metric(const LossOutput& out, const std::string& name) {
  auto it = out.metrics.find(name);
  EXPECT_NE(it, out.metrics.end()) << name;
  return it == out.metrics.end() ? NAN : it->second.item<double>();
}

TEST(Objective, GdpoFromHiddenStatesByHand) {
  auto hidden = hand_hidden();
  auto weight = torch::eye(4, torch::kFloat64);
  LossOutput out =
      compute_objective(config(LossType::kGdpo), hidden, weight, test::one_pair_batch(), hand_reference());
  // KL([.5, .5] || [.25, .25]) = ln 2; belief NLL ln 4; m = ln(1/2) - ln(1/8) - 0 = ln 4 and
  // -log sigmoid(.5 ln 4) = ln 1.5.  Total ln(2 * 4 * 1.5) = ln 12.
  EXPECT_NEAR(out.loss.item<double>(), std::log(12.0), kTol);
  EXPECT_NEAR(metric(out, "loss"), std::log(12.0), kTol);
  EXPECT_NEAR(metric(out, "loss.calibration"), std::log(2.0), kTol);
  EXPECT_NEAR(metric(out, "loss.belief_nll"), std::log(4.0), kTol);
  EXPECT_NEAR(metric(out, "loss.preference"), std::log(1.5), kTol);
  EXPECT_NEAR(metric(out, "belief.prob_sum"), 0.5, kTol);
  EXPECT_NEAR(metric(out, "belief.js_distance"), 0.0, 1e-7);
  EXPECT_NEAR(metric(out, "logps.chosen"), std::log(0.5), kTol);
  EXPECT_NEAR(metric(out, "logps.rejected"), std::log(0.125), kTol);
  EXPECT_NEAR(metric(out, "rewards.chosen"), 0.5 * std::log(2.0), kTol);
  EXPECT_NEAR(metric(out, "rewards.rejected"), -0.5 * std::log(2.0), kTol);
  EXPECT_NEAR(metric(out, "rewards.margin"), std::log(2.0), kTol);
  EXPECT_EQ(metric(out, "rewards.accuracy"), 1.0);
  EXPECT_NEAR(metric(out, "rewards.margin_majority"), std::log(2.0), kTol);
  EXPECT_EQ(metric(out, "rewards.margin_minority"), 0.0);
  EXPECT_EQ(metric(out, "count.majority"), 1.0);
  EXPECT_EQ(metric(out, "count.minority"), 0.0);
  EXPECT_EQ(out.chosen_rewards.sizes(), (std::vector<int64_t>{1}));
  // Junk hidden states (padding, positions never read) get no gradient.
  out.loss.backward();
  EXPECT_EQ(hidden.grad()[0][3].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(hidden.grad()[0][4].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(hidden.grad()[1][0].abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(hidden.grad().isnan().any().item<bool>());
}

TEST(Objective, DpoOnWholeResponsesByHand) {
  // Policy response sums: chosen ln(1/4 * 1/2) = ln(1/8); rejected ln(1/4 * 1/4 * 1/2) = ln(1/32);
  // reference both ln(1/16): m = ln 4, loss ln 1.5.
  LossOutput out = compute_objective(config(LossType::kDpo), hand_hidden(), torch::eye(4, torch::kFloat64),
                                     test::one_pair_batch(), hand_reference());
  EXPECT_NEAR(out.loss.item<double>(), std::log(1.5), kTol);
  EXPECT_NEAR(metric(out, "logps.chosen"), std::log(0.125), kTol);
  EXPECT_NEAR(metric(out, "rewards.chosen"), 0.5 * std::log(2.0), kTol);
  EXPECT_EQ(out.metrics.count("loss.calibration"), 0u);
}

TEST(Objective, SftIsTheTokenMeanNllOfChosenResponsesOnly) {
  auto hidden = hand_hidden();
  LossOutput out = compute_objective(config(LossType::kSft), hidden, torch::eye(4, torch::kFloat64),
                                     test::one_pair_batch(), ReferenceLogprobs());
  EXPECT_NEAR(out.loss.item<double>(), std::log(8.0) / 2, kTol);  // -(ln 1/4 + ln 1/2) / 2 tokens
  EXPECT_EQ(metric(out, "tokens.chosen"), 2.0);
  out.loss.backward();
  EXPECT_EQ(hidden.grad()[1].abs().sum().item<double>(), 0.0);  // rejected rows are not read
}

TEST(Objective, SftIsTheMeanOfPerExampleMeans) {
  // The authors' SFT: two chosen responses, 1 token at log-prob -1 and 3 tokens at -2 each: each
  // example's mean (1 and 2), then their mean: 1.5 (a token mean over the batch would give 7/4).
  data::PairBatch b = test::one_pair_batch();
  b.input_ids = torch::zeros({4, 5}, torch::kInt64);
  b.prompt_len = torch::tensor({1, 1, 1, 1});
  b.belief_len = torch::tensor({1, 1, 1, 1});
  b.pref_begin = torch::tensor({1, 1, 1, 1});
  b.seq_len = torch::tensor({2, 4, 2, 2});
  auto logps = torch::tensor({{0., -1., 0., 0., 0.}, {0., -2., -2., -2., 0.}}, torch::kFloat64);
  logps = torch::cat({logps, torch::zeros({2, 5}, torch::kFloat64)});
  LossOutput out =
      objective_from_logprobs(config(LossType::kSft), logps, torch::Tensor(), b, ReferenceLogprobs());
  EXPECT_NEAR(out.loss.item<double>(), 1.5, kTol);
}

TEST(Objective, ReferenceFreeNeedsNoReference) {
  LossConfig c = config(LossType::kGdpo);
  c.reference_free = true;
  LossOutput out = compute_objective(c, hand_hidden(), torch::eye(4, torch::kFloat64),
                                     test::one_pair_batch(), ReferenceLogprobs());
  // m = ln(1/2) - ln(1/8) = ln 4 again (the hand reference margin is 0).
  EXPECT_NEAR(metric(out, "loss.preference"), std::log(1.5), kTol);
  EXPECT_NEAR(metric(out, "rewards.chosen"), 0.5 * std::log(0.5), kTol);
}

TEST(Objective, CdpoComparesTheSpanAfterTheBelief) {
  // The authors' cdpo: after the belief, chosen ln(1/2) vs rejected ln(1/8) (the whole responses
  // are ln(1/8) and ln(1/32)); reference ln(1/4) both: m = ln 4, loss ln 1.5.
  LossOutput out = compute_objective(config(LossType::kCdpo), hand_hidden(),
                                     torch::eye(4, torch::kFloat64), test::one_pair_batch(),
                                     hand_reference());
  EXPECT_NEAR(out.loss.item<double>(), std::log(1.5), kTol);
  EXPECT_NEAR(metric(out, "logps.chosen"), std::log(0.5), kTol);
  EXPECT_NEAR(metric(out, "logps.rejected"), std::log(0.125), kTol);
  EXPECT_EQ(out.metrics.count("loss.calibration"), 0u);
}

TEST(Objective, GdpoBeliefTermIsAPerTokenMean) {
  // A 2-token belief span at log-probs ln(1/4) and ln(1/16): the term is -(ln 1/4 + ln 1/16) / 2
  // = 3 ln 2 (the sum would give 6 ln 2).
  auto logps = torch::zeros({2, 5}, torch::kFloat64);
  logps[0][2] = std::log(0.25);
  logps[0][3] = std::log(1.0 / 16);
  data::PairBatch b = test::one_pair_batch();
  b.belief_len = torch::tensor({2, 2});
  b.pref_begin = b.prompt_len + b.belief_len;
  LossOutput out = objective_from_logprobs(config(LossType::kGdpo), logps,
                                           torch::log(torch::full({1, 2}, 0.5, torch::kFloat64)),
                                           b, hand_reference());
  EXPECT_NEAR(metric(out, "loss.belief_nll"), 3 * std::log(2.0), kTol);
}

TEST(Objective, BeliefMetricsForEveryObjectiveOnRequest) {
  const auto eye = torch::eye(4, torch::kFloat64);
  for (LossType t : {LossType::kSft, LossType::kDpo}) {
    LossOutput plain = compute_objective(config(t), hand_hidden(), eye, test::one_pair_batch(),
                                         hand_reference());
    EXPECT_EQ(plain.metrics.count("belief.js_distance"), 0u) << loss_type_name(t);
    LossOutput with = compute_objective(config(t), hand_hidden(), eye, test::one_pair_batch(),
                                        hand_reference(), /*belief_metrics=*/true);
    // p_theta = [1/4, 1/4] on the two belief tokens: mass 1/2, renormalised equal to p*.
    EXPECT_NEAR(metric(with, "belief.prob_sum"), 0.5, kTol) << loss_type_name(t);
    EXPECT_NEAR(metric(with, "belief.js_distance"), 0.0, 1e-7) << loss_type_name(t);
    EXPECT_NEAR(metric(with, "loss"), metric(plain, "loss"), kTol);
  }
}

TEST(Objective, ReferenceLogprobsOfTheHandModel) {
  ReferenceLogprobs r =
      reference_logprobs(hand_hidden(), torch::eye(4, torch::kFloat64), test::one_pair_batch());
  EXPECT_FALSE(r.response.requires_grad());
  EXPECT_NEAR(r.after_belief[0].item<double>(), std::log(0.5), kTol);
  EXPECT_NEAR(r.after_belief[1].item<double>(), std::log(0.125), kTol);
  EXPECT_NEAR(r.response[1].item<double>(), std::log(1.0 / 32), kTol);
}

TEST(Objective, InconsistentInputsAreErrorsNotCrashes) {
  auto w = torch::eye(4, torch::kFloat64);
  EXPECT_THROW(compute_objective(config(LossType::kDpo), hand_hidden(), w, test::one_pair_batch(),
                                 ReferenceLogprobs()),
               Error);  // no reference
  data::PairBatch b = test::one_pair_batch();
  b.seq_len = torch::tensor({4, 6});  // beyond T = 5
  EXPECT_THROW(compute_objective(config(LossType::kGdpo), hand_hidden(), w, b, hand_reference()), Error);
  b = test::one_pair_batch();
  b.input_ids[1][4] = 4;  // outside the vocabulary of 4
  EXPECT_THROW(compute_objective(config(LossType::kGdpo), hand_hidden(), w, b, hand_reference()), Error);
  b = test::one_pair_batch();
  b.belief_valid = torch::tensor({{false, false}});
  EXPECT_THROW(compute_objective(config(LossType::kGdpo), hand_hidden(), w, b, hand_reference()), Error);
  b = test::one_pair_batch();
  b.belief_token_ids[0][1] = -1;
  EXPECT_THROW(compute_objective(config(LossType::kGdpo), hand_hidden(), w, b, hand_reference()), Error);
  EXPECT_THROW(compute_objective(config(LossType::kGdpo), hand_hidden().narrow(2, 0, 3), w,
                                 test::one_pair_batch(), hand_reference()),
               Error);  // hidden size 3 vs weight [4, 4]
}

// A random two-pair batch with padding, a 2-token belief, K = 3 with one padded belief.
data::PairBatch random_batch() {
  data::PairBatch b;
  torch::manual_seed(3);
  b.input_ids = torch::randint(5, {4, 6}, torch::kInt64);
  b.prompt_len = torch::tensor({2, 3, 2, 3});
  b.belief_len = torch::tensor({1, 2, 1, 2});
  b.pref_begin = b.prompt_len + b.belief_len;
  b.seq_len = torch::tensor({5, 6, 4, 6});
  b.attention_mask = (torch::arange(6).unsqueeze(0) < b.seq_len.unsqueeze(1)).to(torch::kInt64);
  b.belief_token_ids = torch::tensor({{0, 2, 4}, {1, 3, 0}});
  b.belief_valid = torch::tensor({{true, true, true}, {true, true, false}});
  b.target_probs = torch::tensor({{0.5f, 0.3f, 0.2f}, {0.6f, 0.4f, 0.0f}});
  b.chosen_is_majority = torch::tensor({true, false});
  return b;
}

// Autograd gradients of the objective w.r.t. hidden states and output weight against central
// finite differences of every element (float64).
void expect_gradients_match_finite_differences(const LossConfig& c) {
  SCOPED_TRACE(std::string("loss ") + loss_type_name(c.type) + " / " +
               dpo_variant_name(c.gdpo_preference));
  torch::manual_seed(5);
  auto hidden = torch::randn({4, 6, 3}, torch::kFloat64).requires_grad_();
  auto weight = torch::randn({5, 3}, torch::kFloat64).requires_grad_();
  const data::PairBatch batch = random_batch();
  ReferenceLogprobs ref;
  const auto belief = torch::randn({4}, torch::kFloat64) - 2;
  ref.after_belief = torch::randn({4}, torch::kFloat64) - 4;
  ref.response = belief + ref.after_belief;
  auto loss = [&] { return compute_objective(c, hidden, weight, batch, ref).loss; };
  loss().backward();
  const double h = 1e-6;
  torch::NoGradGuard no_grad;
  for (auto* param : {&hidden, &weight}) {
    auto flat = param->view({-1});
    auto grad = param->grad().view({-1});
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double x = flat[i].item<double>();
      flat[i] = x + h;
      const double up = loss().item<double>();
      flat[i] = x - h;
      const double down = loss().item<double>();
      flat[i] = x;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(grad[i].item<double>(), numeric, 1e-7 * std::max(1.0, std::abs(numeric)))
          << (param == &hidden ? "hidden" : "weight") << " element " << i;
    }
  }
}

TEST(Objective, GradientsMatchFiniteDifferences) {
  LossConfig gdpo = config(LossType::kGdpo);
  gdpo.calibration_weight = 0.7;
  gdpo.belief_weight = 1.3;
  expect_gradients_match_finite_differences(gdpo);
  LossConfig gdpo_cdpo = gdpo;
  gdpo_cdpo.label_smoothing = 0.1;  // conservative DPO as GDPO's preference term
  expect_gradients_match_finite_differences(gdpo_cdpo);
  expect_gradients_match_finite_differences(config(LossType::kIpo));
  expect_gradients_match_finite_differences(config(LossType::kSft));
}

// objective_metric_names (what an option naming a metric is checked against before any work) is
// exactly the set of names compute_objective produces, for every objective, with and without the
// belief metrics.
TEST(Objective, MetricNamesAreExactlyTheOnesComputed) {
  const data::PairBatch batch = random_batch();
  torch::manual_seed(5);
  auto hidden = torch::randn({4, 6, 3}, torch::kFloat64);
  auto weight = torch::randn({5, 3}, torch::kFloat64);
  ReferenceLogprobs ref;
  ref.after_belief = torch::randn({4}, torch::kFloat64) - 4;
  ref.response = ref.after_belief - 1;
  for (LossType type : kLossTypes)
    for (bool beliefs : {false, true}) {
      std::set<std::string> computed;
      for (const auto& [name, value] :
           compute_objective(config(type), hidden, weight, batch, ref, beliefs).metrics)
        computed.insert(name);
      EXPECT_EQ(objective_metric_names(config(type), beliefs), computed)
          << loss_type_name(type) << (beliefs ? " with belief metrics" : "");
    }
}

}  // namespace
}  // namespace gdpo::loss
