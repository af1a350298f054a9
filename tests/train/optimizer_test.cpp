// Optimizers against values computed by hand from torch.optim's update rules.
#include "gdpo/train/optimizer.hpp"

#include <gtest/gtest.h>

#include "gdpo/train/lr_schedule.hpp"

namespace gdpo::train {
namespace {

TEST(Optimizer, RMSpropOneStepByHand) {
  auto p = torch::tensor({1.0, -2.0}, torch::kFloat64).requires_grad_(true);
  OptimizerConfig c;
  auto opt = make_optimizer(c, {{"w", p}});
  p.mutable_grad() = torch::tensor({0.5, 2.0}, torch::kFloat64);
  opt->step(0.1);
  // v = 0.01 * g^2 -> sqrt(v) = 0.1 |g|; update = lr * g / (0.1 |g| + 1e-8) = ~1 * sign(g).
  auto expect = torch::tensor({1.0 - 0.1 * 0.5 / (0.05 + 1e-8), -2.0 - 0.1 * 2.0 / (0.2 + 1e-8)},
                              torch::kFloat64);
  EXPECT_TRUE(torch::allclose(p.detach(), expect, 0, 1e-12)) << p;
  EXPECT_EQ(opt->steps(), 1);
}

TEST(Optimizer, AdamWOneStepByHand) {
  auto p = torch::tensor({1.0}, torch::kFloat64).requires_grad_(true);
  OptimizerConfig c;
  c.kind = OptimizerKind::kAdamw;
  c.weight_decay = 0.1;
  auto opt = make_optimizer(c, {{"w", p}});
  p.mutable_grad() = torch::tensor({3.0}, torch::kFloat64);
  opt->step(0.01);
  // First Adam step moves by lr * m_hat / (sqrt(v_hat) + eps) = lr * sign(g) (up to eps);
  // decoupled decay first scales p by (1 - lr * wd).
  double expect = 1.0 * (1 - 0.01 * 0.1) - 0.01 * 3.0 / (3.0 + 1e-8);
  EXPECT_NEAR(p.item<double>(), expect, 1e-12);
}

TEST(Optimizer, StateRoundTripContinuesIdentically) {
  auto make = [] {
    torch::manual_seed(0);
    return torch::randn({3, 2}).requires_grad_(true);
  };
  for (OptimizerKind kind : {OptimizerKind::kRmsprop, OptimizerKind::kAdamw}) {
    auto a = make(), b = make();
    OptimizerConfig c;
    c.kind = kind;
    auto opt_a = make_optimizer(c, {{"w", a}});
    auto opt_b = make_optimizer(c, {{"w", b}});
    a.mutable_grad() = torch::ones_like(a);
    opt_a->step(0.1);
    // b receives a's parameters and state, then both take the same second step.
    {
      torch::NoGradGuard g;
      b.copy_(a);
    }
    opt_b->load_state(opt_a->state());
    a.mutable_grad() = torch::full_like(a, 0.3);
    b.mutable_grad() = torch::full_like(b, 0.3);
    opt_a->step(0.1);
    opt_b->step(0.1);
    EXPECT_TRUE(torch::equal(a, b)) << optimizer_kind_name(kind);
  }
}

TEST(Optimizer, MissingStateIsNamed) {
  auto p = torch::zeros({2}).requires_grad_(true);
  auto opt = make_optimizer({}, {{"layer.weight", p}});
  try {
    opt->load_state({{"step", torch::tensor(int64_t{1})}});
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("square_avg/layer.weight"), std::string::npos);
  }
}

TEST(LrSchedule, LinearWarmupThenConstant) {
  EXPECT_DOUBLE_EQ(warmup_lr(1.0, 3, 0), 0.25);
  EXPECT_DOUBLE_EQ(warmup_lr(1.0, 3, 2), 0.75);
  EXPECT_DOUBLE_EQ(warmup_lr(1.0, 3, 3), 1.0);
  EXPECT_DOUBLE_EQ(warmup_lr(1.0, 3, 100), 1.0);
  EXPECT_DOUBLE_EQ(warmup_lr(2.0, 0, 0), 2.0);
}

}  // namespace
}  // namespace gdpo::train
