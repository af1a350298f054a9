#include "gdpo/train/autocast.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace gdpo::train {

// LibTorch >= 2.4 keys autocast state by device type; older releases have per-device functions.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define GDPO_AUTOCAST_BY_DEVICE 1
#endif

namespace {
bool autocast_enabled(bool cuda) {
#ifdef GDPO_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}
void set_autocast(bool cuda, bool on) {
#ifdef GDPO_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on);
#else
  cuda ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on);
#endif
}
torch::ScalarType autocast_dtype(bool cuda) {
#ifdef GDPO_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}
void set_autocast_dtype(bool cuda, torch::ScalarType dtype) {
#ifdef GDPO_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
#else
  cuda ? at::autocast::set_autocast_gpu_dtype(dtype) : at::autocast::set_autocast_cpu_dtype(dtype);
#endif
}
}  // namespace

AutocastGuard::AutocastGuard(bool enabled, torch::Device device, torch::ScalarType dtype)
    : enabled_(enabled), cuda_(device.is_cuda()) {
  if (!enabled_) return;
  was_enabled_ = autocast_enabled(cuda_);
  old_dtype_ = autocast_dtype(cuda_);
  set_autocast_dtype(cuda_, dtype);
  set_autocast(cuda_, true);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  // Leaving the outermost autocast region frees the cached bf16 copies of the weights.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(cuda_, was_enabled_);
  set_autocast_dtype(cuda_, old_dtype_);
}

}  // namespace gdpo::train
