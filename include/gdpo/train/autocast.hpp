// bf16 autocast for the policy forward (fp32 master weights, matmuls in bf16): an RAII guard over
// LibTorch's autocast state that compiles against LibTorch 1.13 and 2.x.
#pragma once
#include <torch/torch.h>

namespace gdpo::train {

class AutocastGuard {
 public:
  // Enables autocast to `dtype` on `device`'s type while alive when `enabled`; otherwise no-op.
  AutocastGuard(bool enabled, torch::Device device, torch::ScalarType dtype = torch::kBFloat16);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_;
  bool cuda_;
  bool was_enabled_ = false;
  torch::ScalarType old_dtype_ = torch::kBFloat16;
};

}  // namespace gdpo::train
