// The GDPO loss and its calibration term on hand-computed values; weights and ablations.
#include "gdpo/loss/gdpo_loss.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "gdpo/loss/belief_distribution.hpp"
#include "gdpo/loss/calibration.hpp"
#include "loss/fixtures.hpp"

namespace gdpo::loss {
namespace {

using test::kTol;

using test::logs;

TEST(Calibration, KlAgainstUnrenormalisedBeliefProbabilities) {
  auto target = torch::tensor({{0.5, 0.5}}, torch::kFloat64);
  auto valid = torch::tensor({{true, true}});
  // p_theta = [1/4, 1/4] on the beliefs (half the mass elsewhere): KL = 2 * .5 ln(.5 / .25) = ln 2.
  EXPECT_NEAR(calibration_kl(logs({0.25, 0.25}), target, valid).item<double>(), std::log(2.0),
              kTol);
  // p_theta = [1/2, 1/4]: KL = .5 ln 1 + .5 ln 2.
  EXPECT_NEAR(calibration_kl(logs({0.5, 0.25}), target, valid).item<double>(), 0.5 * std::log(2.0),
              kTol);
  // p_theta = p*: 0.
  EXPECT_NEAR(calibration_kl(logs({0.5, 0.5}), target, valid).item<double>(), 0.0, kTol);
  EXPECT_NEAR(belief_distribution(logs({0.25, 0.25}), target, valid).prob_sum.item<double>(), 0.5,
              kTol);
}

TEST(Calibration, ZeroTargetsAndPaddingContributeNothing) {
  // Entry 1 has p* = 0 (0 log 0 = 0); entry 2 is padding with a junk log-prob.
  auto target = torch::tensor({{1.0, 0.0, 0.0}}, torch::kFloat64);
  auto valid = torch::tensor({{true, true, false}});
  auto lp =
      torch::tensor({{std::log(0.5), std::log(0.25), 123.0}}, torch::kFloat64).requires_grad_();
  auto kl = calibration_kl(lp, target, valid);
  EXPECT_NEAR(kl.item<double>(), std::log(2.0), kTol);  // 1 * ln(1 / .5)
  kl.backward();
  EXPECT_TRUE(torch::equal(lp.grad(), torch::tensor({{-1.0, 0.0, 0.0}}, torch::kFloat64)));
  const auto beliefs = belief_distribution(lp.detach(), target, valid);
  EXPECT_NEAR(beliefs.prob_sum.item<double>(), 0.75, kTol);
  // Renormalised over the two valid beliefs: [2/3, 1/3], padding 0.
  EXPECT_TRUE(torch::allclose(beliefs.probs,
                              torch::tensor({{2.0 / 3, 1.0 / 3, 0.0}}, torch::kFloat64)));
}

// One pair: p* = [.5, .5]; p_theta = [.25, .25] (KL = ln 2, prob sum .5, renormalised = p*);
// chosen belief span log-prob ln(1/4) (NLL ln 4); after the belief: chosen ln(1/2), rejected
// ln(1/8), reference both ln(1/4) -> m = ln 4; with beta .5: -log sigmoid(ln 2) = ln 1.5.
GdpoInputs hand_inputs() {
  GdpoInputs in;
  in.belief_logps = logs({0.25, 0.25}).requires_grad_();
  in.target_probs = torch::tensor({{0.5f, 0.5f}});
  in.belief_valid = torch::tensor({{true, true}});
  in.chosen_belief = torch::tensor({std::log(0.25)}, torch::kFloat64).requires_grad_();
  in.chosen_after = torch::tensor({std::log(0.5)}, torch::kFloat64).requires_grad_();
  in.rejected_after = torch::tensor({std::log(0.125)}, torch::kFloat64).requires_grad_();
  in.reference_chosen_after = torch::tensor({std::log(0.25)}, torch::kFloat64);
  in.reference_rejected_after = torch::tensor({std::log(0.25)}, torch::kFloat64);
  return in;
}

LossConfig beta_half() {
  LossConfig o;
  o.beta = 0.5;
  return o;
}

TEST(GdpoLoss, HandComputedTermsAndTotal) {
  GdpoInputs in = hand_inputs();
  GdpoOutput out = gdpo_loss(in, beta_half());
  EXPECT_NEAR(out.calibration.item<double>(), std::log(2.0), kTol);
  EXPECT_NEAR(out.belief_nll.item<double>(), std::log(4.0), kTol);
  EXPECT_NEAR(out.preference.item<double>(), std::log(1.5), kTol);
  EXPECT_NEAR(out.loss.item<double>(), std::log(2.0 * 4.0 * 1.5), kTol);
  EXPECT_NEAR(out.beliefs.prob_sum[0].item<double>(), 0.5, kTol);
  EXPECT_NEAR(out.beliefs.js_distance[0].item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(out.dpo.chosen_rewards[0].item<double>(), 0.5 * std::log(2.0), kTol);
  EXPECT_NEAR(out.dpo.rejected_rewards[0].item<double>(), -0.5 * std::log(2.0), kTol);
  EXPECT_EQ(out.dpo.accuracy[0].item<double>(), 1.0);
  EXPECT_TRUE(out.loss.requires_grad());
  EXPECT_FALSE(out.calibration.requires_grad());
  // Gradients of the total: d/d chosen_belief = -1; d/d belief_logps_k = -p*_k;
  // d/d chosen_after = -beta sigmoid(-beta m) = -.5 * 1/3.
  out.loss.backward();
  EXPECT_NEAR(in.chosen_belief.grad().item<double>(), -1.0, kTol);
  EXPECT_TRUE(torch::allclose(in.belief_logps.grad(), torch::full({1, 2}, -0.5, torch::kFloat64)));
  EXPECT_NEAR(in.chosen_after.grad().item<double>(), -0.5 / 3.0, kTol);
  EXPECT_NEAR(in.rejected_after.grad().item<double>(), 0.5 / 3.0, kTol);
}

TEST(GdpoLoss, JsDistanceUsesTheRenormalisedBeliefDistribution) {
  GdpoInputs in = hand_inputs();
  in.belief_logps = logs({0.5, 0.0});  // renormalised [1, 0] vs p* [.5, .5]
  GdpoOutput out = gdpo_loss(in, beta_half());
  EXPECT_NEAR(out.beliefs.js_distance[0].item<double>(), std::sqrt(0.75 * std::log(4.0 / 3.0)),
              kTol);
}

TEST(GdpoLoss, WeightsAndAblations) {
  LossConfig o = beta_half();
  o.calibration_weight = 2.0;
  o.belief_weight = 0.5;
  o.preference_weight = 3.0;
  EXPECT_NEAR(gdpo_loss(hand_inputs(), o).loss.item<double>(),
              2 * std::log(2.0) + 0.5 * std::log(4.0) + 3 * std::log(1.5), kTol);
  LossConfig calibration_only = beta_half();
  calibration_only.preference_weight = 0;
  EXPECT_NEAR(gdpo_loss(hand_inputs(), calibration_only).loss.item<double>(),
              std::log(2.0) + std::log(4.0), kTol);
  LossConfig preference_only = beta_half();
  preference_only.calibration_weight = 0;
  GdpoOutput out = gdpo_loss(hand_inputs(), preference_only);
  EXPECT_NEAR(out.loss.item<double>(), std::log(4.0) + std::log(1.5), kTol);
  EXPECT_NEAR(out.calibration.item<double>(), std::log(2.0), kTol);  // still reported
}

TEST(GdpoLoss, IpoPreferenceAndReferenceFree) {
  LossConfig o = beta_half();
  o.gdpo_preference = DpoVariant::kIpo;
  // m = ln 4, IPO: (ln 4 - 1)^2.
  EXPECT_NEAR(gdpo_loss(hand_inputs(), o).preference.item<double>(),
              std::pow(std::log(4.0) - 1.0, 2), kTol);
  LossConfig free = beta_half();
  free.reference_free = true;
  GdpoInputs in = hand_inputs();
  in.reference_chosen_after = in.reference_rejected_after = torch::Tensor();
  // Reference-free: m = ln(1/2) - ln(1/8) = ln 4 as well here (both references equal).
  EXPECT_NEAR(gdpo_loss(in, free).preference.item<double>(), std::log(1.5), kTol);
}

}  // namespace
}  // namespace gdpo::loss
