#include "gdpo/core/version.hpp"

#include <torch/version.h>

namespace gdpo {

std::string version() { return GDPO_VERSION; }

std::string build_description() {
  std::string s = "gdpo " + version() + " (LibTorch " + TORCH_VERSION;
#ifdef GDPO_CUDA
  s += ", CUDA";
#else
  s += ", CPU";
#endif
  return s + ")";
}

}  // namespace gdpo
