// Metric averaging over micro-batches: means weighted by pairs, majority/minority rewards by their
// own counts, count.* metrics summed; and the reduction over two ranks (threads of this process
// exchanging through memory) when the ranks added different names, or one added none.
#include "gdpo/train/metric_accumulator.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "gdpo/dist/single_process_communicator.hpp"
#include "train/thread_world.hpp"

namespace gdpo::train {
namespace {
using test_ranks::on_two_ranks;

std::map<std::string, torch::Tensor> metrics(double loss, double majority, double minority,
                                             double margin_majority) {
  return {{"loss", torch::tensor(loss)},
          {"count.majority", torch::tensor(majority)},
          {"count.minority", torch::tensor(minority)},
          {"rewards.margin_majority", torch::tensor(margin_majority)}};
}

TEST(MetricAccumulator, WeightsByPairsAndCountsAndSumsCounts) {
  MetricAccumulator acc;
  acc.add(metrics(1.0, 3, 1, 0.5), 4);  // 4 pairs, 3 of them majority
  acc.add(metrics(2.0, 1, 1, 2.5), 2);  // 2 pairs, 1 majority
  acc.add("count.tokens", 100, 1.0);
  acc.add("count.tokens", 50, 1.0);
  dist::SingleProcessCommunicator comm;
  acc.all_reduce(comm);
  auto r = acc.result();
  EXPECT_DOUBLE_EQ(r.at("loss"), (1.0 * 4 + 2.0 * 2) / 6);
  EXPECT_DOUBLE_EQ(r.at("rewards.margin_majority"), (0.5 * 3 + 2.5 * 1) / 4);
  EXPECT_DOUBLE_EQ(r.at("count.majority"), 4);
  EXPECT_DOUBLE_EQ(r.at("count.tokens"), 150);
}

// The tensor path reads nothing back until result(), and gives exactly the host arithmetic
// sum += mean x weight: loss 0.5 over 4 pairs then 1.0 over 2 pairs is (0.5 x 4 + 1.0 x 2) / 6 = 2/3;
// the majority reward 0.5 over 3 majority pairs then 2.5 over 1 is 4 / 4 = 1, the minority reward
// 0.25 over 1 then (0 minority pairs: skipped) is 0.25.
TEST(MetricAccumulator, TensorMetricsGiveTheHostArithmeticExactly) {
  auto batch = [](double loss, double majority, double minority, double margin_majority,
                  double margin_minority) {
    auto m = metrics(loss, majority, minority, margin_majority);
    m["rewards.margin_minority"] = torch::tensor(margin_minority);
    return m;
  };
  MetricAccumulator acc;
  acc.add(batch(0.5, 3, 1, 0.5, 0.25), 4);
  acc.add(batch(1.0, 1, 0, 2.5, 7.0), 2);
  const auto r = acc.result();
  EXPECT_EQ(r.at("loss"), (0.5 * 4 + 1.0 * 2) / 6);
  EXPECT_EQ(r.at("loss"), 2.0 / 3.0);
  EXPECT_EQ(r.at("rewards.margin_majority"), (0.5 * 3 + 2.5 * 1) / 4);
  EXPECT_EQ(r.at("rewards.margin_minority"), 0.25);
  EXPECT_EQ(r.at("count.majority"), 4.0);
  EXPECT_EQ(r.at("count.minority"), 1.0);
  // result() is repeatable (it reads, it does not consume).
  EXPECT_EQ(acc.result(), r);
}

// float32 and float64 metric tensors, awkward values, non-finite means and zero weights: the same
// doubles as the host overload fed item<double>() (what add() did before metrics stayed on the
// device), after all_reduce() on one rank too.
TEST(MetricAccumulator, TensorMetricsEqualTheHostOverloadBitwise) {
  MetricAccumulator device, host;
  const std::vector<double> values = {0.1, -1.0 / 3, 1e-7, 12345.678, NAN, 2.0 / 7, INFINITY, 0.3};
  const std::vector<double> majorities = {3, 0, 2, 1, 4, 0, 1, 2};
  for (size_t i = 0; i < values.size(); ++i) {
    const auto dtype = i % 2 ? torch::kFloat32 : torch::kFloat64;
    const int64_t pairs = 3 + static_cast<int64_t>(i);
    std::map<std::string, torch::Tensor> m = {
        {"loss", torch::tensor(values[i], dtype)},
        {"rewards.accuracy_majority", torch::tensor(values[i] * 1.7, dtype)},
        {"count.majority", torch::tensor(majorities[i], dtype)},
        {"count.pairs", torch::tensor(static_cast<double>(pairs), dtype)}};
    device.add(m, pairs);
    for (const auto& [name, t] : m) {
      const double v = t.item<double>();
      const double w = name.rfind("count.", 0) == 0 ? 1.0
                       : name == "loss"             ? static_cast<double>(pairs)
                                                    : majorities[i];
      host.add(name, v, w);
    }
  }
  device.add("count.tokens", 17, 1.0);  // a host value after tensor ones
  host.add("count.tokens", 17, 1.0);
  const auto expected = host.result();
  const auto got = device.result();
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [name, v] : expected) EXPECT_EQ(got.at(name), v) << name;  // exact
  // Finite values survived the NaN and inf means.
  EXPECT_TRUE(std::isfinite(got.at("loss")));
  dist::SingleProcessCommunicator comm;
  EXPECT_EQ(device.all_reduce(comm, {torch::tensor(true)}, {torch::tensor(2.5, torch::kFloat32)}),
            (std::vector<double>{1.0, 2.5}));
  EXPECT_EQ(device.result(), got);
}

// The extra values ride the metrics' collective: `summed` summed over the ranks, `local` not.
TEST(MetricAccumulator, ExtraValuesRideTheSameAllReduce) {
  std::vector<std::vector<double>> extras(2);
  std::vector<std::map<std::string, double>> results(2);
  auto errors = on_two_ranks([&](dist::Communicator& comm) {
    MetricAccumulator acc;
    const double r = comm.rank();
    acc.add({{"loss", torch::tensor(1.0 + r)}}, 2);
    extras[comm.rank()] = acc.all_reduce(comm, {torch::tensor(r == 1), torch::tensor(10.0 * (r + 1))},
                                         {torch::tensor(r + 0.5)});
    results[comm.rank()] = acc.result();
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(extras[0], (std::vector<double>{1.0, 30.0, 0.5}));
  EXPECT_EQ(extras[1], (std::vector<double>{1.0, 30.0, 1.5}));
  EXPECT_EQ(results[0].at("loss"), (1.0 * 2 + 2.0 * 2) / 4);
  EXPECT_EQ(results[0], results[1]);
}

TEST(MetricAccumulator, RanksWithDifferentNamesReduceTheUnion) {
  std::vector<std::map<std::string, double>> results(2);
  auto errors = on_two_ranks([&](dist::Communicator& comm) {
    MetricAccumulator acc;
    if (comm.rank() == 0) {
      acc.add(metrics(1.0, 3, 1, 0.5), 4);  // loss, count.majority/minority, margin_majority
      acc.add("count.pairs", 4, 1.0);
      acc.add("only.rank0", 2.0, 1.0);
    } else {
      acc.add("loss", 4.0, 2.0);
      acc.add("count.pairs", 2, 1.0);
      acc.add("only.rank1", 5.0, 3.0);
    }
    acc.all_reduce(comm);
    results[comm.rank()] = acc.result();
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(results[0], results[1]);  // every rank has the same names and values
  const auto& r = results[0];
  EXPECT_EQ(r.size(), 7u);
  EXPECT_DOUBLE_EQ(r.at("loss"), (1.0 * 4 + 4.0 * 2) / 6);
  EXPECT_DOUBLE_EQ(r.at("count.pairs"), 6);
  EXPECT_DOUBLE_EQ(r.at("count.majority"), 3);  // only rank 0 had it: rank 1 added 0
  EXPECT_DOUBLE_EQ(r.at("count.minority"), 1);
  EXPECT_DOUBLE_EQ(r.at("rewards.margin_majority"), 0.5);
  EXPECT_DOUBLE_EQ(r.at("only.rank0"), 2.0);  // a mean over rank 0's weight alone
  EXPECT_DOUBLE_EQ(r.at("only.rank1"), 5.0);
}

// A rank without an eval batch (fewer eval pairs than ranks) adds nothing and still reduces.
TEST(MetricAccumulator, ARankThatAddedNothingGetsTheOthersMetrics) {
  std::vector<std::map<std::string, double>> results(2);
  auto errors = on_two_ranks([&](dist::Communicator& comm) {
    MetricAccumulator acc;
    if (comm.rank() == 0) {
      acc.add("loss", 1.5, 1.0);
      acc.add("count.pairs", 1, 1.0);
    }
    acc.all_reduce(comm);
    results[comm.rank()] = acc.result();
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  const std::map<std::string, double> expected = {{"count.pairs", 1.0}, {"loss", 1.5}};
  EXPECT_EQ(results[0], expected);
  EXPECT_EQ(results[1], expected);
}

TEST(MetricAccumulator, NoRankAddedAnything) {
  std::vector<std::map<std::string, double>> results(2, {{"unset", 0.0}});
  auto errors = on_two_ranks([&](dist::Communicator& comm) {
    MetricAccumulator acc;
    acc.all_reduce(comm);
    results[comm.rank()] = acc.result();
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_TRUE(results[0].empty());
  EXPECT_TRUE(results[1].empty());
}

// Ranks with the same names reduce as before, repeatedly (the exchange is reusable).
TEST(MetricAccumulator, RanksWithTheSameNamesSumTheirTotals) {
  std::vector<std::map<std::string, double>> results(2);
  auto errors = on_two_ranks([&](dist::Communicator& comm) {
    for (int round = 0; round < 3; ++round) {
      MetricAccumulator acc;
      const double r = comm.rank();
      acc.add(metrics(1.0 + r, 1 + r, 1, 2.0 * (r + 1)), 2 + static_cast<int64_t>(r));
      acc.all_reduce(comm);
      results[comm.rank()] = acc.result();
    }
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(results[0], results[1]);
  // Rank 0: loss 1 over 2 pairs, 1 majority (margin 2); rank 1: loss 2 over 3 pairs, 2 majority
  // (margin 4).
  EXPECT_DOUBLE_EQ(results[0].at("loss"), (1.0 * 2 + 2.0 * 3) / 5);
  EXPECT_DOUBLE_EQ(results[0].at("rewards.margin_majority"), (2.0 * 1 + 4.0 * 2) / 3);
  EXPECT_DOUBLE_EQ(results[0].at("count.majority"), 3);
  EXPECT_DOUBLE_EQ(results[0].at("count.minority"), 2);
}

}  // namespace
}  // namespace gdpo::train
