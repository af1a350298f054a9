#include "gdpo/dist/device.hpp"

#include <c10/core/impl/DeviceGuardImplInterface.h>

#if defined(GDPO_TORCH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#endif

#include <cstdlib>

#include "gdpo/core/error.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/dist/communicator.hpp"

namespace gdpo::dist {

namespace {

std::string plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "cuda:1 (NVIDIA H100, local rank 1 of 4)"; `name` may be empty.
std::string describe_gpu(int index, int local_rank, int local_size, const std::string& name) {
  return "cuda:" + std::to_string(index) + " (" + (name.empty() ? "" : name + ", ") +
         "local rank " + std::to_string(local_rank) + " of " + std::to_string(local_size) + ")";
}

}  // namespace

bool is_device_choice(const std::string& choice) {
  return choice == "auto" || choice == "cpu" || choice == "cuda";
}

DeviceChoice select_device(const std::string& choice, int local_rank, int local_size,
                           int64_t device_count, const std::string& option, bool share_gpus) {
  if (!is_device_choice(choice))
    throw UsageError(option + " '" + choice + "' is not auto, cpu or cuda");
  GDPO_CHECK(local_size >= 1 && local_rank >= 0 && local_rank < local_size,
             "local rank " << local_rank << " of " << local_size);
  GDPO_CHECK(device_count >= 0, "device count " << device_count);
  DeviceChoice out;
  if (choice == "cpu" || (choice == "auto" && device_count == 0)) return out;
  if (device_count == 0)
    throw UsageError(option + " cuda: no CUDA device is visible (this gdpo's LibTorch reports "
                              "device count 0: it is built without CUDA, or no GPU and driver are "
                              "visible to this process, e.g. CUDA_VISIBLE_DEVICES); use " +
                     option + " cpu or auto");
  if (local_size > device_count && !share_gpus)
    throw UsageError(option + " " + choice + ": " + plural(local_size, "rank", "ranks") +
                     " on this node but " + plural(device_count, "GPU", "GPUs") +
                     " visible; start at most one rank per GPU" +
                     (choice == "auto" ? " (or use " + option + " cpu)" : std::string()));
  const int index = static_cast<int>(local_rank % device_count);
  out.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  out.description = describe_gpu(index, local_rank, local_size, "");
  return out;
}

DeviceChoice select_device(const std::string& choice, const Communicator& comm,
                           const std::string& option) {
  // The value first, so that a typo is reported without touching CUDA.
  if (!is_device_choice(choice))
    throw UsageError(option + " '" + choice + "' is not auto, cpu or cuda");
  const int64_t count = choice == "cpu" ? 0 : static_cast<int64_t>(torch::cuda::device_count());
  const char* share = std::getenv("GDPO_ALLOW_GPU_SHARING");
  const bool share_gpus = share != nullptr && std::string(share) == "1";
  DeviceChoice out =
      select_device(choice, comm.local_rank(), comm.local_size(), count, option, share_gpus);
  if (out.device.is_cuda()) {
    // The rank's GPU becomes the current device: kernels and allocations without an explicit
    // index (and NCCL, cuBLAS handles) go there. Through c10's device-guard registry, which the
    // CUDA LibTorch fills in, so that no CUDA header is needed here.
    c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(out.device);
#if defined(GDPO_TORCH_CUDA)
    const auto* props = at::cuda::getDeviceProperties(out.device.index());
    out.description = describe_gpu(out.device.index(), comm.local_rank(), comm.local_size(),
                                   props ? std::string(props->name) : std::string());
#endif
  }
  // One line on every rank (info lines otherwise print only on rank 0).
  if (static_cast<int>(log::settings().level) <= static_cast<int>(log::Level::Info))
    log::detail::write_line(log::detail::stream(),
                            log::detail::prefix(log::Level::Info, /*with_rank=*/true) +
                                "device: " + out.description + " (" + option + " " + choice + ")");
  return out;
}

void move_to_device(torch::nn::Module& module, const torch::Device& device) {
  bool there = true;
  for (const auto& p : module.parameters(/*recurse=*/true)) there = there && p.device() == device;
  for (const auto& b : module.buffers(/*recurse=*/true)) there = there && b.device() == device;
  if (!there) module.to(device);
}

}  // namespace gdpo::dist
