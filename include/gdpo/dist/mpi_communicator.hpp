// The MPI backend of gdpo::dist::Communicator (host memory, synchronous) and MpiRuntime, the RAII
// owner of MPI_Init_thread(MPI_THREAD_FUNNELED) / MPI_Finalize. Every MPI call is checked: a failure
// throws gdpo::Error with file:line and MPI_Error_string.
#pragma once
#include <mpi.h>

#include <cstddef>
#include <string>
#include <thread>

#include "gdpo/core/error.hpp"
#include "gdpo/dist/communicator.hpp"

namespace gdpo::dist {

namespace detail {
// "MPI_Allreduce(...) failed: MPI_ERR_TRUNCATE: message truncated".
[[noreturn]] void throw_mpi_error(const char* file, int line, const char* call, int code);
}  // namespace detail

// GDPO_MPI_CHECK(MPI_Barrier(comm)): throws gdpo::Error unless the call returns MPI_SUCCESS (which
// needs MPI_ERRORS_RETURN on the communicator; the default handler aborts the job instead).
#define GDPO_MPI_CHECK(call)                                                         \
  do {                                                                               \
    const int gdpo_mpi_rc_ = (call);                                                 \
    if (gdpo_mpi_rc_ != MPI_SUCCESS)                                                 \
      ::gdpo::dist::detail::throw_mpi_error(__FILE__, __LINE__, #call, gdpo_mpi_rc_); \
  } while (0)

// Initialises MPI with MPI_THREAD_FUNNELED (only the thread that initialised MPI calls it) unless
// it is already initialised (e.g. by a test main), in which case it owns nothing. The owner calls
// MPI_Finalize on destruction, except while an exception propagates: a failing rank must not wait
// in MPI_Finalize for ranks that wait for it; main() aborts the job instead (fatal.hpp).
// Also installs the terminate handler of fatal.hpp and tells gdpo::log this process's rank.
class MpiRuntime {
 public:
  explicit MpiRuntime(int* argc = nullptr, char*** argv = nullptr);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  bool owns() const { return owns_; }
  // MPI_THREAD_SINGLE ... MPI_THREAD_MULTIPLE, as provided.
  int thread_level() const { return thread_level_; }
  // MPI_Initialized and not MPI_Finalized.
  static bool active();
  // The runtime kept until the process exits (created on first call; finalises MPI at exit).
  static MpiRuntime& process();

 private:
  bool owns_ = false;
  int thread_level_ = MPI_THREAD_SINGLE;
  int uncaught_at_start_ = 0;
};

// Collectives over a duplicate of `comm` (MPI_COMM_WORLD by default) with MPI_ERRORS_RETURN. MPI must
// be active. Use it from the thread that initialised MPI (MPI_THREAD_FUNNELED; checked).
// Messages larger than max_chunk_bytes() are split into several MPI calls (MPI counts are int):
// for all_reduce and broadcast the tensor, for all_gather and all_gather_into each rank's part, for
// reduce_scatter each rank's part of the result (then pieces of every rank's part are packed into
// one buffer of at most max_chunk_bytes() per call).
class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return "mpi"; }
  MPI_Comm mpi_comm() const { return comm_; }

  // Bytes per MPI call (default 1 GiB); tests lower it to exercise the chunked paths.
  size_t max_chunk_bytes() const { return max_chunk_bytes_; }
  void set_max_chunk_bytes(size_t bytes);

 protected:
  void barrier_impl() override;
  void broadcast_impl(torch::Tensor& tensor, int root) override;
  // bfloat16/float16 are reduced through a float32 copy (MPI has no such types), rounded once.
  void all_reduce_impl(torch::Tensor& tensor, ReduceOp op) override;
  torch::Tensor all_gather_impl(const torch::Tensor& tensor) override;
  // MPI_Reduce_scatter_block; bfloat16/float16 and device tensors as in all_reduce_impl (a
  // float32 / host copy, rounded once), and Mean is the same sum divided by world_size().
  void reduce_scatter_impl(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) override;
  // MPI_Allgather, with MPI_IN_PLACE when `input` is output's own slice (device tensors are staged
  // through host copies).
  void all_gather_into_impl(const torch::Tensor& input, torch::Tensor& output) override;

 private:
  void check_thread() const;
  // MPI_Allgather of `row` bytes per rank from `src` (nullptr: MPI_IN_PLACE, this rank's row is
  // already at its place in `dst`) into `dst`, rank r's row at dst + r * row.
  void all_gather_bytes(const char* src, char* dst, int64_t row);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  size_t max_chunk_bytes_ = size_t{1} << 30;
  std::thread::id thread_;
};

}  // namespace gdpo::dist
