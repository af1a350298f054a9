// DPO, cDPO, IPO and reference-free DPO against values computed by hand.
#include "gdpo/loss/dpo_loss.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "gdpo/core/error.hpp"
#include "loss/fixtures.hpp"

namespace gdpo::loss {
namespace {

using test::kTol;

// Two pairs, beta 0.5:
//   pair 0: policy chosen -1, rejected -3; reference chosen -2, rejected -1 -> margin m = 2 - (-1)
//   = 3 pair 1: policy chosen -4, rejected -2; reference chosen -3, rejected -3 -> m = -2
struct Pairs {
  torch::Tensor pc = torch::tensor({-1.0, -4.0}, torch::kFloat64).requires_grad_();
  torch::Tensor pr = torch::tensor({-3.0, -2.0}, torch::kFloat64).requires_grad_();
  torch::Tensor rc = torch::tensor({-2.0, -3.0}, torch::kFloat64);
  torch::Tensor rr = torch::tensor({-1.0, -3.0}, torch::kFloat64);
  DpoOutput run(DpoVariant variant, double beta, double eps = 0) {
    return dpo_loss(pc, pr, rc, rr, variant, beta, eps);
  }
};

double at(const torch::Tensor& t, int64_t i) { return t[i].item<double>(); }

TEST(DpoLoss, SigmoidLossRewardsMarginsAccuracy) {
  Pairs p;
  DpoOutput out = p.run(DpoVariant::kSigmoid, 0.5);
  EXPECT_NEAR(at(out.losses, 0), std::log1p(std::exp(-1.5)), kTol);  // -log sigmoid(0.5 * 3)
  EXPECT_NEAR(at(out.losses, 1), std::log1p(std::exp(1.0)), kTol);   // -log sigmoid(0.5 * -2)
  EXPECT_NEAR(at(out.chosen_rewards, 0), 0.5, kTol);                 // 0.5 (-1 - -2)
  EXPECT_NEAR(at(out.rejected_rewards, 0), -1.0, kTol);              // 0.5 (-3 - -1)
  EXPECT_NEAR(at(out.margins, 0), 1.5, kTol);
  EXPECT_NEAR(at(out.chosen_rewards, 1), -0.5, kTol);
  EXPECT_NEAR(at(out.rejected_rewards, 1), 0.5, kTol);
  EXPECT_NEAR(at(out.margins, 1), -1.0, kTol);
  EXPECT_EQ(at(out.accuracy, 0), 1.0);
  EXPECT_EQ(at(out.accuracy, 1), 0.0);
  EXPECT_FALSE(out.chosen_rewards.requires_grad());
  // d/d chosen of -log sigmoid(beta m) = -beta sigmoid(-beta m); the rejected gets the opposite.
  out.losses.sum().backward();
  const double s0 = 1 / (1 + std::exp(1.5));
  EXPECT_NEAR(at(p.pc.grad(), 0), -0.5 * s0, kTol);
  EXPECT_NEAR(at(p.pr.grad(), 0), 0.5 * s0, kTol);
}

TEST(DpoLoss, ConservativeLabelSmoothing) {
  Pairs p;
  DpoOutput out = p.run(DpoVariant::kSigmoid, 0.5, 0.25);
  // -(1 - eps) log sigmoid(1.5) - eps log sigmoid(-1.5)
  EXPECT_NEAR(at(out.losses, 0),
              0.75 * std::log1p(std::exp(-1.5)) + 0.25 * std::log1p(std::exp(1.5)), kTol);
  EXPECT_NEAR(at(out.losses, 1),
              0.75 * std::log1p(std::exp(1.0)) + 0.25 * std::log1p(std::exp(-1.0)), kTol);
  EXPECT_THROW(p.run(DpoVariant::kSigmoid, 0.5, 0.5), Error);  // eps must be < 0.5
}

TEST(DpoLoss, IpoUsesTheUnscaledMargin) {
  Pairs p;
  DpoOutput out = p.run(DpoVariant::kIpo, 0.5);
  EXPECT_NEAR(at(out.losses, 0), 4.0, kTol);   // (3 - 1 / (2 * 0.5))^2
  EXPECT_NEAR(at(out.losses, 1), 9.0, kTol);   // (-2 - 1)^2
  EXPECT_NEAR(at(out.margins, 0), 1.5, kTol);  // rewards still carry beta
}

TEST(DpoLoss, ReferenceFreeTakesTheReferenceAsZero) {
  Pairs p;
  DpoOutput out =
      dpo_loss(p.pc, p.pr, torch::Tensor(), torch::Tensor(), DpoVariant::kSigmoid, 0.5);
  EXPECT_NEAR(at(out.losses, 0), std::log1p(std::exp(-1.0)), kTol);  // m = -1 - -3 = 2
  EXPECT_NEAR(at(out.losses, 1), std::log1p(std::exp(1.0)), kTol);   // m = -4 - -2 = -2
  EXPECT_NEAR(at(out.chosen_rewards, 0), -0.5, kTol);
  EXPECT_NEAR(at(out.rejected_rewards, 0), -1.5, kTol);
  // Zero references are the same thing.
  EXPECT_TRUE(torch::allclose(
      dpo_loss(p.pc, p.pr, torch::zeros(2, torch::kFloat64), torch::zeros(2, torch::kFloat64),
               DpoVariant::kSigmoid, 0.5)
          .losses,
      out.losses));
}

TEST(DpoLoss, HalfAReferenceIsAnError) {
  Pairs p;
  EXPECT_THROW(dpo_loss(p.pc, p.pr, p.rc, torch::Tensor(), DpoVariant::kSigmoid, 0.1), Error);
  EXPECT_THROW(dpo_loss(p.pc, p.pr, p.rc, p.rr, DpoVariant::kSigmoid, 0.0), Error);
}

}  // namespace
}  // namespace gdpo::loss
