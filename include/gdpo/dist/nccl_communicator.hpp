// The NCCL backend of gdpo::dist::Communicator ("nccl"; built only with GDPO_CUDA): collectives on
// the rank's GPU, enqueued on a CUDA stream of its own and ordered with the caller's current stream
// through events, so that they return before they complete (a later read on the host, .item() or
// .cpu(), synchronises). One GPU per rank: NCCL refuses two ranks of one communicator on one device.
//
// Rank, world size, local rank and the agreement check of every collective come from the MPI
// communicator it is built on (host memory, no GPU synchronisation); NCCL's unique id is broadcast
// over it. A collective that does not complete within timeout_seconds(), or an asynchronous NCCL
// error (a peer died, a network failure), makes a watchdog thread print
//   gdpo: NCCL collective all_reduce #12 did not complete within 600 s (rank 1 of 4); aborting
// abort the NCCL communicator and end the process with exit code 70, which makes the launcher
// (mpiexec, srun) end the other ranks instead of leaving them hanging.
//
// This header includes neither CUDA nor NCCL headers.
#pragma once
#include <memory>
#include <string>

#include "gdpo/dist/communicator.hpp"
#include "gdpo/dist/mpi_communicator.hpp"

namespace gdpo::dist {

// The CUDA stream (a cudaStream_t, as void*) current on CUDA device `device` for the calling thread;
// nullptr is the legacy default stream. NcclCommunicator orders its collectives after the work on
// that stream and makes that stream wait for them.
using CurrentStreamFn = void* (*)(int device);
// Default: LibTorch's current stream where LibTorch has CUDA (GDPO_TORCH_CUDA), else the legacy
// default stream (nullptr). Set it at start-up, before any collective; nullptr restores the default.
void set_current_stream_fn(CurrentStreamFn fn);
CurrentStreamFn current_stream_fn();
#if defined(GDPO_TORCH_CUDA)
// c10::cuda::getCurrentCUDAStream(device).stream() (src/dist/torch_cuda_stream.cpp).
void* torch_current_cuda_stream(int device);
#endif

// Exit code of a process ended by the watchdog (EX_SOFTWARE).
inline constexpr int kExitNcclWatchdog = 70;

class NcclCommunicator : public Communicator {
 public:
  static constexpr double kDefaultTimeoutSeconds = 600;

  // A communicator over the ranks of `mpi` (which it keeps, for metadata and the unique id) on CUDA
  // device `device` (an index among the visible devices; each rank of a node needs its own). Every
  // rank of `mpi` must construct it (collective). The environment variable GDPO_NCCL_TIMEOUT
  // (seconds, > 0) overrides `timeout_seconds`. Throws gdpo::Error (with file:line and NCCL's or
  // CUDA's message) when the device or NCCL cannot be initialised.
  NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi, int device,
                   double timeout_seconds = kDefaultTimeoutSeconds);
  // Waits for the collectives in flight (still under the watchdog), then destroys the NCCL
  // communicator; while an exception propagates it aborts it instead (the peers may be gone).
  ~NcclCommunicator() override;

  int rank() const override;
  int world_size() const override;
  int local_rank() const override;
  int local_size() const override;
  std::string backend() const override { return "nccl"; }
  // torch::Device(torch::kCUDA, device_index()).
  torch::Device device() const override;
  int device_index() const;
  double timeout_seconds() const;
  // The MPI communicator it was built on (host-side control messages).
  MpiCommunicator& mpi();

  // Blocks the host until every collective enqueued so far has completed.
  void synchronize();
  // Collectives enqueued so far (the #n of the watchdog's message).
  uint64_t collectives_enqueued() const;

 protected:
  // The NCCL collective runs on this communicator's stream after the work already enqueued on the
  // current stream, and the current stream waits for it: none of them blocks the host, except
  // barrier_impl (which waits for completion). Tensors on another device (the host included) are
  // staged through device() and copied back (which synchronises). Broadcast and the all-gathers
  // move bytes (any dtype); Mean (all-reduce, reduce-scatter) is the device sum divided by
  // world_size(). all_gather_into passes NCCL its in-place form when `input` is output's own slice.
  void barrier_impl() override;
  void broadcast_impl(torch::Tensor& tensor, int root) override;
  void all_reduce_impl(torch::Tensor& tensor, ReduceOp op) override;
  torch::Tensor all_gather_impl(const torch::Tensor& tensor) override;
  void reduce_scatter_impl(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) override;
  void all_gather_into_impl(const torch::Tensor& input, torch::Tensor& output) override;
  // Over MPI on the host: the agreement check of a collective does not wait for the GPU.
  void max_over_ranks(std::vector<int64_t>& values) override;

 private:
  struct State;
  std::unique_ptr<MpiCommunicator> mpi_;
  std::unique_ptr<State> state_;
};

// GDPO_NCCL_TIMEOUT when set (seconds > 0; anything else is a gdpo::UsageError), else `fallback`.
double nccl_timeout_from_env(double fallback);

}  // namespace gdpo::dist
