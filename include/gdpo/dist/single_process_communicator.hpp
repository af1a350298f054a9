// The one-rank Communicator for commands and runs without MPI: every collective is an identity (no
// MPI call is made), with the same argument checks as the other backends.
#pragma once
#include "gdpo/dist/communicator.hpp"

namespace gdpo::dist {

class SingleProcessCommunicator : public Communicator {
 public:
  SingleProcessCommunicator() = default;

  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string backend() const override { return "single"; }

 protected:
  void barrier_impl() override {}
  void broadcast_impl(torch::Tensor&, int) override {}
  void all_reduce_impl(torch::Tensor&, ReduceOp) override {}  // sum, mean, max, min of one value
  torch::Tensor all_gather_impl(const torch::Tensor& tensor) override {
    return tensor.unsqueeze(0).clone();
  }
  // Copies (without the base class's intermediate copy); in place, all_gather_into does nothing.
  void reduce_scatter_impl(const torch::Tensor& input, torch::Tensor& output, ReduceOp) override {
    output.copy_(input);  // sum, mean, max, min of one value
  }
  void all_gather_into_impl(const torch::Tensor& input, torch::Tensor& output) override {
    if (!gathers_in_place(input, output)) output.copy_(input);
  }
};

}  // namespace gdpo::dist
