// Data-parallel gradient averaging: after backward, every rank's gradients are packed into a few
// large flat buckets, all-reduced (mean) in one collective each, and unpacked, so that all ranks hold
// identical gradients and take identical optimizer steps.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "gdpo/dist/communicator.hpp"

namespace gdpo::train {

class GradientSync {
 public:
  // Buckets of about `bucket_bytes` of gradients each (parameters keep their order; a parameter is
  // never split). With a world of one rank, average() does nothing.
  GradientSync(std::shared_ptr<dist::Communicator> comm, std::vector<torch::Tensor> params,
               int64_t bucket_bytes = 32 << 20);

  // Averages every parameter's .grad() over the ranks. A parameter without a gradient contributes
  // zeros (and receives the average), so all ranks always agree.
  void average();

  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into params_
    torch::Tensor flat;           // [total numel] in the gradients' dtype
  };
  std::shared_ptr<dist::Communicator> comm_;
  std::vector<torch::Tensor> params_;
  std::vector<Bucket> buckets_;
};

}  // namespace gdpo::train
