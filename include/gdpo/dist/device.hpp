// Where a rank's tensors live: the value of a command's device option (--train.device,
// --generate.device, --evaluate.device, --bench.device) resolved against the GPUs this process sees
// and the rank's place on its node. Every rank takes the GPU of its node-local rank.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace gdpo::dist {

class Communicator;

struct DeviceChoice {
  torch::Device device = torch::kCPU;
  // "cpu", or e.g. "cuda:1 (NVIDIA H100 80GB HBM3, local rank 1 of 4)" (the GPU's name only when
  // this gdpo's LibTorch has CUDA: GDPO_TORCH_CUDA).
  std::string description = "cpu";
};

// The option's values.
bool is_device_choice(const std::string& choice);  // "auto" | "cpu" | "cuda"

// Pure: `choice` is "auto" (cuda when device_count > 0, else cpu) | "cpu" | "cuda"; `local_rank`
// of `local_size` ranks on this node; `device_count` GPUs visible to this process. A cuda choice
// gives rank `local_rank` the GPU cuda:<local_rank>. gdpo::UsageError naming `option` (e.g.
// "--train.device") for an unknown value, for cuda with no GPU visible, and when the node has more
// ranks than visible GPUs ("4 ranks on this node but 2 GPUs visible; start at most one rank per
// GPU"; also under auto: ranks never share a GPU) unless `share_gpus`, which gives rank
// `local_rank` the GPU cuda:<local_rank % device_count> (tests and the GPU suite run 2 ranks on one
// GPU that way over the MPI backend; NCCL refuses two ranks of a communicator on one GPU).
DeviceChoice select_device(const std::string& choice, int local_rank, int local_size,
                           int64_t device_count, const std::string& option,
                           bool share_gpus = false);

// The above with torch::cuda::device_count() and comm.local_rank() / comm.local_size(). The local
// rank comes from the communicator (MPI: the rank within MPI_Comm_split_type(MPI_COMM_TYPE_SHARED),
// ordered by world rank), not from the launcher's environment; under mpiexec and srun it equals
// OMPI_COMM_WORLD_LOCAL_RANK / SLURM_LOCALID whenever the launcher places consecutive ranks on a
// node (block placement, the default of both; with cyclic placement the GPUs are still one per
// rank, in another order). Not collective: a rank that cannot be served throws, and main() then
// aborts the whole job (dist/fatal.hpp), so no rank is left waiting. GDPO_ALLOW_GPU_SHARING=1 in
// the environment sets `share_gpus`. Makes a chosen GPU the current
// CUDA device, and logs one line on every rank at info level ("device: cuda:1 (...)", prefixed
// "[rank R]" in a many-rank job).
DeviceChoice select_device(const std::string& choice, const Communicator& comm,
                           const std::string& option);

// Moves `module`'s parameters and buffers to `device` in place (tied weights stay tied, dtypes are
// kept) unless every one of them is there already: a model on the CPU of a CPU run is untouched.
void move_to_device(torch::nn::Module& module, const torch::Device& device);

}  // namespace gdpo::dist
