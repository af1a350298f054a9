// GradientSync on two ranks (threads of this process, tests/train/thread_world.hpp): the gradients
// averaged during the backward (overlap) are bit for bit those averaged after it (average()),
// with one micro-batch or several, small or large buckets, parameters without a gradient; buckets
// are reduced while the backward runs; one rank registers nothing; the hooks outlive nothing.
#include "gdpo/train/gradient_sync.hpp"

#include <gtest/gtest.h>

#include "gdpo/dist/single_process_communicator.hpp"
#include "train/sync_fixture.hpp"
#include "train/thread_world.hpp"

namespace gdpo::train {
namespace {
using test_ranks::on_two_ranks;
using test_ranks::synced_gradients;
using test_ranks::ThreadRank;
using test_ranks::TinyModel;

std::shared_ptr<dist::Communicator> borrowed(dist::Communicator& comm) {
  return std::shared_ptr<dist::Communicator>(&comm, [](dist::Communicator*) {});
}

void expect_bitwise_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(a[i].defined() && b[i].defined()) << "parameter " << i;
    EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  }
}

TEST(GradientSync, OverlappedEqualsAverageBitwise) {
  for (int micro_batches : {1, 3}) {
    for (int64_t bucket_bytes : {int64_t{16}, int64_t{100}, int64_t{32} << 20}) {
      std::vector<std::vector<torch::Tensor>> plain(2), overlapped(2);
      auto errors = on_two_ranks([&](dist::Communicator& comm) {
        plain[comm.rank()] = synced_gradients(borrowed(comm), micro_batches, false, bucket_bytes);
        overlapped[comm.rank()] = synced_gradients(borrowed(comm), micro_batches, true, bucket_bytes);
      });
      ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
      SCOPED_TRACE(std::to_string(micro_batches) + " micro-batches, buckets of " +
                   std::to_string(bucket_bytes) + " bytes");
      expect_bitwise_equal(plain[0], overlapped[0]);  // the property
      expect_bitwise_equal(plain[1], overlapped[1]);
      expect_bitwise_equal(overlapped[0], overlapped[1]);  // the ranks agree
      // Never used / frozen parameters receive zeros (the average of zeros), as with average().
      EXPECT_TRUE(overlapped[0][TinyModel::kU].eq(0).all().item<bool>());
      EXPECT_TRUE(overlapped[0][TinyModel::kF].eq(0).all().item<bool>());
      // The ranks' losses differ, so the average is not one rank's gradient.
      TinyModel alone;
      for (int m = 0; m < micro_batches; ++m) alone.loss(0, m, micro_batches).backward();
      EXPECT_FALSE(torch::equal(alone.params[TinyModel::kD].grad(), overlapped[0][TinyModel::kD]));
    }
  }
}

// With small buckets, hooks launch collectives before the backward returns (on CPU autograd runs
// the hooks on the thread that called backward()); nothing is launched before the last micro-batch.
TEST(GradientSync, BucketsAreReducedDuringTheLastBackward) {
  std::vector<int64_t> during_first(2), during_last(2), buckets(2);
  auto errors = on_two_ranks([&](dist::Communicator& comm) {
    auto& rank = dynamic_cast<ThreadRank&>(comm);
    TinyModel model;
    GradientSync sync(borrowed(comm), model.params, 16, /*overlap=*/true);
    EXPECT_TRUE(sync.overlap());
    buckets[comm.rank()] = sync.bucket_count();
    sync.prepare(false);
    int64_t before = rank.collectives();
    model.loss(comm.rank(), 0, 2).backward();
    during_first[comm.rank()] = rank.collectives() - before;
    sync.prepare(true);
    before = rank.collectives();
    model.loss(comm.rank(), 1, 2).backward();
    during_last[comm.rank()] = rank.collectives() - before;
    sync.finish();
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_GT(buckets[0], 3);
  EXPECT_EQ(during_first, (std::vector<int64_t>{0, 0}));
  EXPECT_GT(during_last[0], 0);
  EXPECT_EQ(during_last[0], during_last[1]);
}

// The timed path calls average() even on an overlapping sync: the same gradients.
TEST(GradientSync, AverageOnAnOverlappingSyncIsAverage) {
  std::vector<std::vector<torch::Tensor>> plain(2), mixed(2);
  auto errors = on_two_ranks([&](dist::Communicator& comm) {
    plain[comm.rank()] = synced_gradients(borrowed(comm), 2, false, 100);
    TinyModel model;
    GradientSync sync(borrowed(comm), model.params, 100, /*overlap=*/true);
    for (int m = 0; m < 2; ++m) model.loss(comm.rank(), m, 2).backward();  // no prepare()
    sync.average();
    mixed[comm.rank()] = model.gradients();
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  expect_bitwise_equal(plain[0], mixed[0]);
}

TEST(GradientSync, OneRankRegistersNothingAndChangesNothing) {
  auto comm = std::make_shared<dist::SingleProcessCommunicator>();
  TinyModel plain, synced;
  for (int m = 0; m < 2; ++m) plain.loss(0, m, 2).backward();
  GradientSync sync(comm, synced.params, 16, /*overlap=*/true);
  EXPECT_FALSE(sync.overlap());
  for (int m = 0; m < 2; ++m) {
    sync.prepare(m == 1);
    synced.loss(0, m, 2).backward();
  }
  sync.finish();
  const auto a = plain.gradients(), b = synced.gradients();
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].defined(), b[i].defined()) << i;  // nothing defined that backward did not
    if (a[i].defined()) {
      EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
    }
  }
}

// Destroying the sync removes its hooks: later backwards are plain autograd.
TEST(GradientSync, HooksAreGoneWithTheSync) {
  std::vector<std::vector<torch::Tensor>> after(2);
  auto errors = on_two_ranks([&](dist::Communicator& comm) {
    TinyModel model;
    {
      GradientSync sync(borrowed(comm), model.params, 16, /*overlap=*/true);
      sync.prepare(true);
    }  // destroyed while armed
    model.loss(comm.rank(), 0, 1).backward();  // must not reach any collective
    after[comm.rank()] = model.gradients();
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  TinyModel alone;
  alone.loss(0, 0, 1).backward();
  const auto expected = alone.gradients();
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(expected[i].defined(), after[0][i].defined()) << i;
    if (expected[i].defined()) {
      EXPECT_TRUE(torch::equal(expected[i], after[0][i])) << i;
    }
  }
}

}  // namespace
}  // namespace gdpo::train
