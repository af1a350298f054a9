#include "gdpo/core/version.hpp"

#include <torch/version.h>

namespace gdpo {

std::string version() { return GDPO_VERSION; }

std::string build_description() {
  std::string s = "gdpo " + version() + " (LibTorch " + TORCH_VERSION;
#if defined(GDPO_TORCH_CUDA)
  s += ", CUDA";
#else
  s += ", CPU";
#endif
#if defined(GDPO_CUDA)
  s += ", NCCL";
#endif
  return s + ")";
}

}  // namespace gdpo
