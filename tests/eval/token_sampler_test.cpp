// The next-token rule on logits whose probabilities are round numbers, so that every expected token
// follows from the cumulative sums by hand; and the counter-based uniforms.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "gdpo/core/error.hpp"
#include "gdpo/eval/token_sampler.hpp"

namespace gdpo::eval {
namespace {

// logits = log p for p = (0.1, 0.2, 0.3, 0.4): cumulative sums 0.1, 0.3, 0.6, 1.0.
torch::Tensor logits_1234() { return torch::tensor({0.1, 0.2, 0.3, 0.4}).log().view({1, 4}); }

int64_t pick(const torch::Tensor& logits, const SamplingConfig& c, double u) {
  return sample_tokens(logits, c, torch::tensor({u}, torch::kFloat64)).item<int64_t>();
}

TEST(TokenSampler, InverseCdfPicksTheFirstTokenWhoseCumulativeMassExceedsU) {
  SamplingConfig c;
  EXPECT_EQ(pick(logits_1234(), c, 0.0), 0);
  EXPECT_EQ(pick(logits_1234(), c, 0.05), 0);
  EXPECT_EQ(pick(logits_1234(), c, 0.15), 1);   // 0.1 <= 0.15 < 0.3
  EXPECT_EQ(pick(logits_1234(), c, 0.59), 2);   // 0.3 <= 0.59 < 0.6
  EXPECT_EQ(pick(logits_1234(), c, 0.61), 3);
  EXPECT_EQ(pick(logits_1234(), c, 0.999999), 3);
}

TEST(TokenSampler, RowsAreIndependent) {
  SamplingConfig c;
  const auto logits = torch::cat({logits_1234(), logits_1234().flip(1)});  // second: 0.4 .. 0.1
  const auto t = sample_tokens(logits, c, torch::tensor({0.15, 0.15}, torch::kFloat64));
  EXPECT_EQ(t[0].item<int64_t>(), 1);
  EXPECT_EQ(t[1].item<int64_t>(), 0);  // 0.15 < 0.4
}

TEST(TokenSampler, GreedyTakesTheFirstMaximum) {
  SamplingConfig c;
  c.greedy = true;
  EXPECT_EQ(pick(torch::tensor({1.0, 3.0, 3.0, 0.0}).view({1, 4}), c, 0.9), 1);
}

TEST(TokenSampler, TemperatureFlattensAndSharpens) {
  SamplingConfig c;
  const auto logits = torch::tensor({0.0, 10.0}).view({1, 2});
  c.temperature = 1e9;  // ~ (0.5, 0.5)
  EXPECT_EQ(pick(logits, c, 0.49), 0);
  EXPECT_EQ(pick(logits, c, 0.51), 1);
  c.temperature = 1.0;  // p0 = 1 / (1 + e^10) = 4.5e-5
  EXPECT_EQ(pick(logits, c, 0.01), 1);
}

TEST(TokenSampler, TopKKeepsTheKLargest) {
  SamplingConfig c;
  c.top_k = 2;  // (0.3, 0.4) / 0.7: cumulative 3/7 = 0.4286, 1
  EXPECT_EQ(pick(logits_1234(), c, 0.0), 2);
  EXPECT_EQ(pick(logits_1234(), c, 0.42), 2);
  EXPECT_EQ(pick(logits_1234(), c, 0.44), 3);
  c.top_k = 1;
  for (double u : {0.0, 0.5, 0.99}) EXPECT_EQ(pick(logits_1234(), c, u), 3);
}

TEST(TokenSampler, TopPKeepsTheSmallestSetAboveP) {
  SamplingConfig c;
  c.top_p = 0.6;  // ascending cumulative 0.1, 0.3, 0.6, 1: drop those <= 0.4 -> keep 0.3, 0.4
  EXPECT_EQ(pick(logits_1234(), c, 0.0), 2);
  EXPECT_EQ(pick(logits_1234(), c, 0.44), 3);
  c.top_p = 0.75;  // drop those <= 0.25 -> keep 0.2, 0.3, 0.4 (/0.9): cumulative 0.222, 0.556, 1
  EXPECT_EQ(pick(logits_1234(), c, 0.0), 1);
  EXPECT_EQ(pick(logits_1234(), c, 0.3), 2);
  EXPECT_EQ(pick(logits_1234(), c, 0.6), 3);
  c.top_p = 0.01;  // never drops the most probable token
  EXPECT_EQ(pick(logits_1234(), c, 0.0), 3);
}

TEST(TokenSampler, ATokenOfProbabilityZeroIsNeverChosen) {
  SamplingConfig c;
  const double inf = std::numeric_limits<double>::infinity();
  const auto logits = torch::tensor({-inf, 0.0, -inf, 0.0}).view({1, 4});
  EXPECT_EQ(pick(logits, c, 0.0), 1);
  EXPECT_EQ(pick(logits, c, 0.5), 3);
  EXPECT_EQ(pick(logits, c, 0.9999999), 3);
}

TEST(TokenSampler, CounterUniformIsAPureFunctionOfItsCounters) {
  EXPECT_EQ(counter_uniform(1, 2, 3, 4), counter_uniform(1, 2, 3, 4));
  std::set<double> seen = {counter_uniform(1, 2, 3, 4), counter_uniform(2, 2, 3, 4),
                           counter_uniform(1, 3, 3, 4), counter_uniform(1, 2, 4, 4),
                           counter_uniform(1, 2, 3, 5), counter_uniform(1, 3, 2, 4)};
  EXPECT_EQ(seen.size(), 6u);  // any counter changes the value (and swapping two does too)
  double sum = 0, lo = 1, hi = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double u = counter_uniform(7, static_cast<uint64_t>(i), 0, 0);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  EXPECT_NEAR(sum / n, 0.5, 0.01);  // the mean of n uniforms: sd 0.29 / sqrt(n) = 0.002
  EXPECT_LT(lo, 0.001);
  EXPECT_GT(hi, 0.999);
}

TEST(TokenSampler, InvalidSettingsNameTheOption) {
  auto message = [](SamplingConfig c) {
    try {
      validate(c, "generate");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  SamplingConfig c;
  c.temperature = 0;
  EXPECT_NE(message(c).find("--generate.temperature"), std::string::npos);
  c.temperature = std::nan("");
  EXPECT_NE(message(c).find("--generate.temperature"), std::string::npos);
  c = SamplingConfig();
  c.top_k = -1;
  EXPECT_NE(message(c).find("--generate.top-k"), std::string::npos);
  for (double p : {0.0, 1.5, std::nan("")}) {
    c = SamplingConfig();
    c.top_p = p;
    EXPECT_NE(message(c).find("--generate.top-p"), std::string::npos) << p;
  }
  EXPECT_EQ(message(SamplingConfig()), "");
}

}  // namespace
}  // namespace gdpo::eval
