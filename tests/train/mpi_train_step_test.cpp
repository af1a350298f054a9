// Data-parallel training on 2 MPI ranks (run under `mpiexec -n 2`): gradients averaged during the
// backward (GradientSync's overlap) are bit for bit those averaged after it, for a tiny model
// (tests/train/sync_fixture.hpp: parameters without a gradient, two dtypes) with 1 and 3
// micro-batches; TrainStep with and without overlap takes the same steps, bit for bit; metrics kept
// on the device reduce to the host arithmetic's values. Every rank runs the same collectives in the
// same order, so a failing EXPECT never hangs the other.
#include <gtest/gtest.h>

#include <cmath>

#include "gdpo/dist/mpi_communicator.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/metric_accumulator.hpp"
#include "gdpo/train/synthetic_batch.hpp"
#include "gdpo/train/train_step.hpp"
#include "train/rank_step_fixture.hpp"
#include "train/sync_fixture.hpp"

namespace gdpo::train {
namespace {
using test_ranks::synced_gradients;
using test_ranks::TinyModel;
using test_ranks::world;
using test_ranks::rank0s;
using test_ranks::expect_bitwise_equal;
using test_ranks::RankStep;

TEST(GradientSyncOnTwoRanks, OverlappedEqualsAverageBitwise) {
  ASSERT_EQ(world()->world_size(), 2);
  for (int micro_batches : {1, 3}) {
    for (int64_t bucket_bytes : {int64_t{16}, int64_t{32} << 20}) {
      SCOPED_TRACE(std::to_string(micro_batches) + " micro-batches, buckets of " +
                   std::to_string(bucket_bytes) + " bytes");
      const auto plain = synced_gradients(world(), micro_batches, false, bucket_bytes);
      const auto overlapped = synced_gradients(world(), micro_batches, true, bucket_bytes);
      expect_bitwise_equal(plain, overlapped);
      expect_bitwise_equal(rank0s(overlapped), overlapped);  // every rank holds the average
      EXPECT_TRUE(overlapped[TinyModel::kU].eq(0).all().item<bool>());  // no gradient: zeros
    }
  }
}

void expect_same_metrics(const std::map<std::string, double>& a,
                         const std::map<std::string, double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, v] : a) {
    ASSERT_EQ(b.count(name), 1u) << name;
    if (std::isnan(v))
      EXPECT_TRUE(std::isnan(b.at(name))) << name;
    else
      EXPECT_EQ(v, b.at(name)) << name;  // exact
  }
}

TEST(TrainStepOnTwoRanks, OverlapTakesTheSameStepsBitwise) {
  for (int64_t accum : {1, 2}) {
    SCOPED_TRACE(std::to_string(accum) + " micro-batches");
    RankStep plain(accum), overlapped(accum);
    TrainStep a(*plain.policy, plain.train, plain.loss, world());
    a.set_overlap(false);
    TrainStep b(*overlapped.policy, overlapped.train, overlapped.loss, world());
    EXPECT_FALSE(a.overlap());
    EXPECT_TRUE(b.overlap());
    for (int64_t step = 0; step < 2; ++step) {  // the second step from the optimizer's state
      const auto ra = a.run(plain.batch, step, plain.source());
      const auto rb = b.run(overlapped.batch, step, overlapped.source());
      expect_same_metrics(ra.metrics, rb.metrics);
      EXPECT_EQ(ra.tokens, rb.tokens);
      EXPECT_EQ(ra.tokens, 2 * plain.batch.tokens());  // both ranks' tokens
      EXPECT_GT(rb.metrics.at("grad_norm"), 0.0);
    }
    expect_bitwise_equal(plain.weights(), overlapped.weights());
    std::vector<torch::Tensor> ga, gb;
    for (size_t i = 0; i < a.parameters().size(); ++i) {
      ga.push_back(a.parameters()[i].grad());
      gb.push_back(b.parameters()[i].grad());
    }
    expect_bitwise_equal(ga, gb);
    expect_bitwise_equal(rank0s(overlapped.weights()), overlapped.weights());  // the ranks agree
  }
}

// A rank's loss that is not finite stops the step on every rank, before the update, with
// overlap as without.
TEST(TrainStepOnTwoRanks, ANonFiniteLossOnOneRankStopsEveryRank) {
  RankStep f(1);
  if (world()->rank() == 1) {
    const int64_t B = f.batch.pairs();
    using torch::indexing::Slice;
    f.reference.after_belief.index_put_({Slice(B, 2 * B)}, -INFINITY);
    f.reference.response.index_put_({Slice(B, 2 * B)}, -INFINITY);
  }
  const auto before = f.weights();
  TrainStep step(*f.policy, f.train, f.loss, world());
  EXPECT_THROW(step.run(f.batch, 0, f.source()), NonFiniteError);
  expect_bitwise_equal(before, f.weights());
  EXPECT_EQ(step.optimizer().steps(), 0);
}

// Metric tensors accumulated on their device reduce over the ranks to the host arithmetic's values.
TEST(MetricAccumulatorOnTwoRanks, TensorMetricsReduceLikeHostValues) {
  const double r = world()->rank();
  MetricAccumulator device, host;
  for (int m = 0; m < 3; ++m) {
    const double loss = 0.1 * (m + 1) + r / 3, majority = m + r, reward = 1.0 / (m + 2 + r);
    device.add({{"loss", torch::tensor(loss, torch::kFloat32)},
                {"count.majority", torch::tensor(majority)},
                {"rewards.margin_majority", torch::tensor(reward)}},
               2);
    host.add("loss", torch::tensor(loss, torch::kFloat32).item<double>(), 2);
    host.add("count.majority", majority, 1);
    // torch::tensor(double) is float32 (the default dtype): the host gets the same float's value.
    host.add("rewards.margin_majority", torch::tensor(reward).item<double>(), majority);
  }
  if (r == 1) {  // a name only one rank has
    device.add("count.only_rank1", 5, 1);
    host.add("count.only_rank1", 5, 1);
  }
  const auto extra = device.all_reduce(*world(), {torch::tensor(r)}, {torch::tensor(r)});
  host.all_reduce(*world());
  EXPECT_EQ(extra, (std::vector<double>{1.0, r}));
  expect_same_metrics(device.result(), host.result());
  EXPECT_EQ(device.result().at("count.only_rank1"), 5.0);
}

}  // namespace
}  // namespace gdpo::train
