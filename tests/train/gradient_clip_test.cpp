// Clipping by the global gradient norm: the device variant (no host read) against the host
// arithmetic clip_gradients always had, bit for bit: the norm, and the clipped gradients, when the
// norm is over the limit (coef < 1), under it (coef >= 1: untouched), NaN, or clipping is off.
#include "gdpo/train/gradient_clip.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace gdpo::train {
namespace {

// The original implementation: per-parameter float64 sums read to the host one by one.
double host_clip(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  double total = 0;
  for (const auto& p : params)
    if (p.grad().defined()) total += p.grad().pow(2).sum(torch::kFloat64).item<double>();
  const double norm = std::sqrt(total);
  const double coef = max_norm / (norm + 1e-6);
  if (max_norm > 0 && coef < 1)
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  return norm;
}

// Parameters with awkward gradients (float32 and one float64, one without a gradient), scaled by
// `scale`; the same values every call.
std::vector<torch::Tensor> parameters_with_gradients(double scale) {
  auto gen = at::detail::createCPUGenerator(7);
  std::vector<torch::Tensor> params;
  for (auto shape : {std::vector<int64_t>{1000}, {37, 5}, {7}, {3, 3}}) {
    auto p = torch::zeros(shape, torch::requires_grad());
    p.mutable_grad() = torch::randn(shape, gen) * scale;
    params.push_back(p);
  }
  auto d = torch::zeros({11}, torch::TensorOptions(torch::kFloat64).requires_grad(true));
  d.mutable_grad() = torch::randn({11}, gen, torch::kFloat64) * (scale / 3);
  params.push_back(d);
  params.push_back(torch::zeros({4}, torch::requires_grad()));  // no gradient
  return params;
}

void expect_same_gradients(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].grad().defined(), b[i].grad().defined()) << i;
    if (a[i].grad().defined()) {
      EXPECT_TRUE(torch::equal(a[i].grad(), b[i].grad())) << i;
    }
  }
}

TEST(ClipGradients, OnDeviceEqualsTheHostArithmeticBitwise) {
  // The unclipped norm is about 100 x scale: max_norm 10 clips at scale 1 (coef ~ 0.1) and not at
  // scale 0.01 (coef ~ 10); max_norm 0 never clips.
  for (double scale : {1.0, 0.37, 0.01}) {
    for (double max_norm : {10.0, 1.0, 0.0, 1e9}) {
      auto host = parameters_with_gradients(scale);
      auto device = parameters_with_gradients(scale);
      const double host_norm = host_clip(host, max_norm);
      const torch::Tensor norm = clip_gradients_on_device(device, max_norm);
      EXPECT_EQ(norm.scalar_type(), torch::kFloat64);
      EXPECT_EQ(norm.dim(), 0);
      EXPECT_EQ(norm.item<double>(), host_norm) << scale << " " << max_norm;
      expect_same_gradients(host, device);
      // And the double-returning wrapper.
      auto wrapped = parameters_with_gradients(scale);
      EXPECT_EQ(clip_gradients(wrapped, max_norm), host_norm);
      expect_same_gradients(host, wrapped);
    }
  }
}

TEST(ClipGradients, ClipsToTheLimitOnlyAboveIt) {
  auto params = parameters_with_gradients(1.0);
  const double norm = clip_gradients(params, 10.0);
  EXPECT_GT(norm, 10.0);
  // The clipped gradients' norm is max_norm (up to the 1e-6 and float32 rounding).
  EXPECT_NEAR(clip_gradients(params, 0.0), 10.0, 1e-4);
  auto small = parameters_with_gradients(0.01);
  const auto small_before = parameters_with_gradients(0.01);
  EXPECT_LT(clip_gradients(small, 10.0), 10.0);
  expect_same_gradients(small, small_before);  // coef >= 1: exactly as they were
}

TEST(ClipGradients, ANonFiniteNormLeavesTheGradients) {
  for (double bad : {NAN, INFINITY}) {
    auto host = parameters_with_gradients(1.0);
    auto device = parameters_with_gradients(1.0);
    host[1].grad()[2][3] = bad;
    device[1].grad()[2][3] = bad;
    const double host_norm = host_clip(host, 10.0);
    const double norm = clip_gradients_on_device(device, 10.0).item<double>();
    EXPECT_FALSE(std::isfinite(norm));
    EXPECT_EQ(std::isnan(norm), std::isnan(host_norm));
    // inf: coef 0 < 1 scales everything (as before); NaN: coef NaN, nothing scaled.
    for (size_t i = 0; i < host.size(); ++i) {
      if (!host[i].grad().defined()) continue;
      EXPECT_TRUE(torch::equal(torch::nan_to_num(host[i].grad()), torch::nan_to_num(device[i].grad())))
          << i;
    }
  }
}

TEST(ClipGradients, NoGradientsIsANormOfZero) {
  std::vector<torch::Tensor> params = {torch::zeros({3}, torch::requires_grad())};
  EXPECT_EQ(clip_gradients_on_device(params, 10.0).item<double>(), 0.0);
  EXPECT_EQ(clip_gradients({}, 10.0), 0.0);
}

}  // namespace
}  // namespace gdpo::train
