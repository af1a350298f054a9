// LibTorch's current CUDA stream for the NCCL backend's ordering (nccl_communicator.hpp). Only in a
// build whose LibTorch has CUDA (GDPO_TORCH_CUDA; CMakeLists.txt leaves this file out otherwise): the
// one place that includes LibTorch's CUDA headers and needs libc10_cuda.
#if defined(GDPO_TORCH_CUDA)
#include <c10/cuda/CUDAStream.h>

#include "gdpo/dist/nccl_communicator.hpp"

namespace gdpo::dist {

void* torch_current_cuda_stream(int device) {
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
}

}  // namespace gdpo::dist

#endif  // GDPO_TORCH_CUDA
