// Collective communication between the ranks of a job (gradient all-reduce, metric reduction,
// checking that every rank runs the same configuration, and the sharding collectives of ZeRO:
// reduce-scatter of gradients, all-gather of parameters), independent of the backend: MPI over host
// memory (mpi_communicator.hpp), one process (single_process_communicator.hpp), NCCL on the ranks'
// GPUs (nccl_communicator.hpp; built with GDPO_CUDA).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace gdpo::dist {

enum class ReduceOp { Sum, Mean, Max, Min };
const char* reduce_op_name(ReduceOp op);

// Every collective must be called by every rank of the communicator, in the same order, with tensors
// of the same dtype and shape (and the same root/op). That agreement is checked (one 11-value int64
// all-reduce per call; only a one-rank world skips it): a mismatch throws gdpo::Error on every rank
// with each rank's dtype and shape, instead of hanging or reading out of bounds. So does an invalid
// argument that only some ranks pass (e.g. a wrong output size or aliasing in reduce_scatter or
// all_gather_into): every rank throws, naming the ranks at fault and what is wrong.
// Tensors may be non-contiguous (results are written back through the view), except those of
// reduce_scatter and all_gather_into (flat, contiguous buffers: ZeRO's shards).
//
// Backends implement the protected *_impl primitives, which receive contiguous tensors already
// checked to agree across ranks. The MPI backend works on host memory and is synchronous (device
// tensors are staged through the host). The NCCL backend (nccl_communicator.hpp, GDPO_CUDA) takes
// CUDA tensors on its device() and runs each collective on a stream of its own, ordered after the
// work on the current CUDA stream (LibTorch's c10::cuda::getCurrentCUDAStream() in a build whose
// LibTorch has CUDA), which then waits for it; it returns before the collective completes: results
// are ordered with later work on that stream, and reading them on the host (.item(), .cpu())
// synchronises. Its agreement check goes over MPI on the host, so it does not wait for the GPU.
class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Rank among the ranks on this node, and their number (e.g. to pick a GPU).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  // "mpi", "single", ...
  virtual std::string backend() const = 0;
  // Where the backend's collectives run (CPU for MPI; the rank's GPU for NCCL). Other tensors work
  // too but may be copied.
  virtual torch::Device device() const { return torch::kCPU; }
  bool is_root() const { return rank() == 0; }

  void barrier();

  // Every rank's `tensor` becomes root's (dtype and shape must agree). Any dtype.
  void broadcast(torch::Tensor& tensor, int root = 0);
  // In place: every rank's `tensor` becomes the reduction over ranks. float32, float64, bfloat16,
  // float16, int32, int64; Mean only for floating types (the sum divided by world_size()).
  // A contiguous float32/float64/int32/int64 host tensor is reduced without any copy (bucketed
  // gradients: flatten into one buffer, all_reduce it, unflatten).
  void all_reduce(torch::Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  // [world_size, ...tensor.shape]: row r is rank r's tensor (same dtype and shape on every rank).
  torch::Tensor all_gather(const torch::Tensor& tensor);

  // The sharding collectives (ZeRO stages 1-3), on flat buffers: 1-D, contiguous, on one device,
  // `input` of the same numel on every rank (that is what the agreement check compares). A wrong
  // argument (dimension, dtype, size, contiguity, device, aliasing) is a gdpo::Error on every rank
  // that names the collective and the shapes.
  //
  // [world_size() * n] -> [n]: rank r's `output` becomes the reduction over ranks of elements
  // [r * n, (r + 1) * n) of every rank's `input` (ZeRO's gradient reduce-scatter). Same dtype, one
  // of all_reduce's six; Mean only for floating types, computed as all_reduce computes it (so the
  // result is all_reduce's slice; bit for bit on two ranks, where the order of summation cannot
  // differ). output.numel() * world_size() == input.numel(); `output` must not overlap `input`.
  void reduce_scatter(const torch::Tensor& input, torch::Tensor& output,
                      ReduceOp op = ReduceOp::Sum);
  // [n] -> [world_size() * n]: elements [r * n, (r + 1) * n) of `output` become rank r's `input`
  // (ZeRO's parameter all-gather). Any dtype, the same for both. `input` may be exactly
  // output.narrow(0, rank() * n, n) (in place: this rank's own part is not copied), or a tensor
  // that does not overlap `output`.
  void all_gather_into(const torch::Tensor& input, torch::Tensor& output);

  // Scalars.
  double all_reduce(double value, ReduceOp op);
  int64_t all_reduce(int64_t value, ReduceOp op);  // Mean is rejected (not an integer)
  double broadcast(double value, int root = 0);
  int64_t broadcast(int64_t value, int root = 0);
  std::vector<double> all_gather(double value);
  std::vector<int64_t> all_gather(int64_t value);
  // int, long long, size_t, bool, ...: as int64_t (without this, `all_reduce(3, op)` is ambiguous).
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, int64_t>, int> = 0>
  int64_t all_reduce(T value, ReduceOp op) {
    return all_reduce(static_cast<int64_t>(value), op);
  }
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, int64_t>, int> = 0>
  int64_t broadcast(T value, int root = 0) {
    return broadcast(static_cast<int64_t>(value), root);
  }
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, int64_t>, int> = 0>
  std::vector<int64_t> all_gather(T value) {
    return all_gather(static_cast<int64_t>(value));
  }

  // Strings (of any, differing lengths).
  void broadcast(std::string& text, int root = 0);
  std::vector<std::string> all_gather(const std::string& text);
  std::vector<std::string> all_gather(const char* text) { return all_gather(std::string(text)); }
  // Throws gdpo::UsageError on every rank unless every rank passes the same `text`, e.g. the
  // effective configuration: "<what> differs across ranks: rank 1 has 'lr = 2e-3' where rank 0 has
  // 'lr = 1e-3' (line 4)".
  void require_identical(const std::string& what, const std::string& text);

  // Bytes this rank passed to the tensor collectives since construction or reset_traffic(): the
  // buffers' sizes (all_reduce and broadcast: the tensor; reduce_scatter: its input; all_gather
  // and all_gather_into: their output), not what the agreement checks add. For `gdpo bench step`.
  struct Traffic {
    int64_t all_reduce = 0, reduce_scatter = 0, all_gather = 0, broadcast = 0;
    int64_t calls = 0;
    // Bytes each rank sends with ring algorithms on a world of `world` ranks (see the .cpp).
    double wire_bytes(int world) const;
  };
  const Traffic& traffic() const { return traffic_; }
  void reset_traffic() { traffic_ = Traffic(); }

 protected:
  Communicator() = default;

  virtual void barrier_impl() = 0;
  // `tensor` is contiguous; root is a valid rank.
  virtual void broadcast_impl(torch::Tensor& tensor, int root) = 0;
  // `tensor` is contiguous with one of the six reducible dtypes; Mean only on floating types.
  virtual void all_reduce_impl(torch::Tensor& tensor, ReduceOp op) = 0;
  // `tensor` is contiguous; returns [world_size, ...tensor.shape].
  virtual torch::Tensor all_gather_impl(const torch::Tensor& tensor) = 0;
  // `input` [world_size() * n] and `output` [n] are 1-D, contiguous, on one device, of the same
  // reducible dtype, and do not overlap; Mean only on floating types. Default: all_reduce_impl on a
  // copy of `input`, then this rank's slice copied into `output`.
  virtual void reduce_scatter_impl(const torch::Tensor& input, torch::Tensor& output, ReduceOp op);
  // `input` [n] and `output` [world_size() * n] are 1-D, contiguous, on one device, of one dtype;
  // `input` either is output's own slice (gathers_in_place) or does not overlap `output`.
  // Default: all_gather_impl, then copied into `output` (all of it, or when in place all but this
  // rank's own slice).
  virtual void all_gather_into_impl(const torch::Tensor& input, torch::Tensor& output);
  // Whether all_gather_into_impl's `input` is exactly output.narrow(0, rank() * n, n) (never for
  // n == 0).
  bool gathers_in_place(const torch::Tensor& input, const torch::Tensor& output) const;
  // In place, the element-wise maximum over ranks of host `values` (the agreement check of every
  // collective). Default: all_reduce_impl on a device() tensor, read back on the host.
  virtual void max_over_ranks(std::vector<int64_t>& values);

 private:
  static int64_t payload_bytes(const torch::Tensor& tensor);
  void count(int64_t& counter, const torch::Tensor& tensor);
  Traffic traffic_;

  // Throws on every rank unless every rank called `what` with the same dtype, shape and `arg`
  // (named `arg_name`: "op", "root" or nullptr when there is none), and no rank's `problem` (what
  // is wrong with its own arguments; "" when nothing) is set.
  void check_agreement(const char* what, const torch::Tensor& tensor, int64_t arg,
                       const char* arg_name, const std::string& problem = std::string());
  void check_root(const char* what, int root) const;
};

// True when this process was started by a parallel launcher: mpiexec/mpirun (OMPI_COMM_WORLD_SIZE,
// PMI_SIZE, PMIX_RANK, MPI_LOCALNRANKS) or srun with several tasks (SLURM_STEP_NUM_TASKS > 1), or
// when MPI is already initialised.
bool launched_by_mpi();

// "single": one process, no MPI. "mpi": MPI_COMM_WORLD (MPI is initialised for the process's
// lifetime if needed). "nccl": NCCL over MPI_COMM_WORLD's ranks, each on the CUDA device numbered by
// its local rank (watchdog timeout: GDPO_NCCL_TIMEOUT seconds, default 600); a gdpo::UsageError
// unless this gdpo was built with GDPO_CUDA and LibTorch sees at least local_size() CUDA devices.
// "auto": "mpi" when launched_by_mpi(), otherwise "single" (never "nccl"). Anything else is a
// gdpo::UsageError. Also sets the rank that gdpo::log prints.
std::unique_ptr<Communicator> make_communicator(const std::string& backend = "auto");

}  // namespace gdpo::dist
