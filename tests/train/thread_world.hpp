// A world of ranks inside one test process, one thread per rank, exchanging through memory: for
// tests of collectives' users (metric reduction, gradient averaging) without mpiexec. Header-only,
// for tests/train/*.cpp.
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gdpo/dist/communicator.hpp"

namespace gdpo::train::test_ranks {

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
  // Collectives this rank has run (the agreement checks included), for tests that look at when.
  int64_t collectives() const { return collectives_; }
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
    ++collectives_;
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
  std::atomic<int64_t> collectives_{0};
};

// Runs `body` on two ranks; returns what each rank threw ("" when nothing).
inline std::vector<std::string> on_two_ranks(const std::function<void(dist::Communicator&)>& body) {
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

}  // namespace gdpo::train::test_ranks
