// Metric averaging over micro-batches: means weighted by pairs, majority/minority rewards by their
// own counts, count.* metrics summed; and the reduction over two ranks (threads of this process
// exchanging through memory) when the ranks added different names, or one added none.
#include "gdpo/train/metric_accumulator.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

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

// A world of `size` ranks in one process, one thread per rank: exchange() returns every rank's
// tensor once all ranks have called it (a collective that a rank never joins times out and throws,
// so a broken reduction fails the test instead of hanging it).
class ThreadWorld {
 public:
  explicit ThreadWorld(int size) : size_(size), slots_(size) {}
  int size() const { return size_; }

  std::vector<torch::Tensor> exchange(int rank, const torch::Tensor& mine) {
    std::unique_lock<std::mutex> lock(mutex_);
    slots_[rank] = mine.defined() ? mine.clone() : mine;
    wait_for_all(lock);  // every rank has written its slot
    std::vector<torch::Tensor> all = slots_;
    wait_for_all(lock);  // every rank has read them: the slots may be reused
    return all;
  }

 private:
  void wait_for_all(std::unique_lock<std::mutex>& lock) {
    const int64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
      return;
    }
    if (!changed_.wait_for(lock, std::chrono::seconds(60),
                           [&] { return generation_ != generation; }))
      throw std::runtime_error("a rank did not join the collective within 60 s");
  }

  const int size_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<torch::Tensor> slots_;
  int arrived_ = 0;
  int64_t generation_ = 0;
};

// One rank of a ThreadWorld, under the Communicator's checks (dtypes and shapes agree).
class ThreadRank : public dist::Communicator {
 public:
  ThreadRank(ThreadWorld& world, int rank) : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_.size(); }
  int local_rank() const override { return rank_; }
  int local_size() const override { return world_.size(); }
  std::string backend() const override { return "threads"; }

 protected:
  void barrier_impl() override { world_.exchange(rank_, torch::zeros({1})); }
  void broadcast_impl(torch::Tensor& tensor, int root) override {
    tensor.copy_(world_.exchange(rank_, tensor)[root]);
  }
  void all_reduce_impl(torch::Tensor& tensor, dist::ReduceOp op) override {
    auto all = torch::stack(world_.exchange(rank_, tensor));
    switch (op) {
      case dist::ReduceOp::Sum: tensor.copy_(all.sum(0)); break;
      case dist::ReduceOp::Mean: tensor.copy_(all.sum(0) / world_.size()); break;
      case dist::ReduceOp::Max: tensor.copy_(all.amax(0)); break;
      case dist::ReduceOp::Min: tensor.copy_(all.amin(0)); break;
    }
  }
  torch::Tensor all_gather_impl(const torch::Tensor& tensor) override {
    return torch::stack(world_.exchange(rank_, tensor));
  }

 private:
  ThreadWorld& world_;
  const int rank_;
};

// Runs `body` on two ranks; returns what each rank threw ("" when nothing).
std::vector<std::string> on_two_ranks(const std::function<void(dist::Communicator&)>& body) {
  ThreadWorld world(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&world, &errors, &body, r] {
      ThreadRank comm(world, r);
      try {
        body(comm);
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
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
