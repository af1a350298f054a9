// Jensen-Shannon distance (scipy.spatial.distance.jensenshannon, natural log) on hand-derived
// values.
#include "gdpo/loss/js_distance.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include "loss/fixtures.hpp"

namespace gdpo::loss {
namespace {

using test::kTol;

double js(std::vector<double> p, std::vector<double> q) {
  auto tp = torch::tensor(p, torch::kFloat64).unsqueeze(0);
  auto tq = torch::tensor(q, torch::kFloat64).unsqueeze(0);
  return js_distance(tp, tq)[0].item<double>();
}

TEST(JsDistance, DisjointSupportsAreSqrtLn2) {
  EXPECT_NEAR(js({1, 0}, {0, 1}), std::sqrt(std::log(2.0)), kTol);
}

TEST(JsDistance, IdenticalDistributionsAreZero) {
  EXPECT_EQ(js({0.2, 0.0, 0.8}, {0.2, 0.0, 0.8}), 0.0);
}

TEST(JsDistance, HandDerivedScipyValue) {
  // p = [.5, .5], q = [1, 0], m = [.75, .25]:
  // KL(p||m) = .5 ln(2/3) + .5 ln 2 = .5 ln(4/3);  KL(q||m) = ln(4/3);  JS = .75 ln(4/3).
  const double expected = std::sqrt(0.75 * std::log(4.0 / 3.0));  // 0.4645...
  EXPECT_NEAR(js({0.5, 0.5}, {1, 0}), expected, kTol);
  EXPECT_NEAR(expected, 0.46450140402245893, 1e-15);
  // scipy normalises its inputs first.
  EXPECT_NEAR(js({1, 1}, {2, 0}), expected, kTol);
}

TEST(JsDistance, BatchedWithMaskIgnoresPaddingAndIsSymmetric) {
  auto p = torch::tensor({{0.5, 0.5, 7.0}, {1.0, 0.0, 0.0}}, torch::kFloat64);
  auto q = torch::tensor({{1.0, 0.0, 3.0}, {0.0, 1.0, 0.0}}, torch::kFloat64);
  auto valid = torch::tensor({{true, true, false}, {true, true, false}});
  auto d = js_distance(p, q, valid);
  EXPECT_NEAR(d[0].item<double>(), std::sqrt(0.75 * std::log(4.0 / 3.0)), kTol);
  EXPECT_NEAR(d[1].item<double>(), std::sqrt(std::log(2.0)), kTol);
  EXPECT_TRUE(torch::allclose(js_distance(q, p, valid), d, kTol, kTol));
  EXPECT_FALSE(js_distance(p, q).isnan().any().item<bool>());
}

}  // namespace
}  // namespace gdpo::loss
