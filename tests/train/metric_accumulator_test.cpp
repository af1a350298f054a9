// Metric averaging over micro-batches: means weighted by pairs, majority/minority rewards by their
// own counts, count.* metrics summed.
#include "gdpo/train/metric_accumulator.hpp"

#include <gtest/gtest.h>

#include "gdpo/dist/single_process_communicator.hpp"

namespace gdpo::train {
namespace {

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

}  // namespace
}  // namespace gdpo::train
