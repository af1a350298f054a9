#include "gdpo/dist/mpi_communicator.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <exception>

#include "gdpo/core/log.hpp"
#include "gdpo/dist/fatal.hpp"

namespace gdpo::dist {

namespace detail {

void throw_mpi_error(const char* file, int line, const char* call, int code) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
    std::snprintf(text, sizeof text, "MPI error code %d", code);
  std::string name(call);
  name = name.substr(0, name.find('('));
  throw Error(::gdpo::detail::source_location(file, line) + name + " failed: " + text);
}

}  // namespace detail

namespace {

MPI_Datatype mpi_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return MPI_FLOAT;
    case torch::kFloat64: return MPI_DOUBLE;
    case torch::kInt32: return MPI_INT32_T;
    case torch::kInt64: return MPI_INT64_T;
    default: break;
  }
  GDPO_CHECK(false, "no MPI datatype for " << c10::toString(t));
  return MPI_DATATYPE_NULL;
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Mean: return MPI_SUM;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Min: return MPI_MIN;
  }
  return MPI_SUM;
}

// Frees a derived datatype however the scope is left.
struct TypeGuard {
  MPI_Datatype type = MPI_DATATYPE_NULL;
  ~TypeGuard() {
    if (type != MPI_DATATYPE_NULL) MPI_Type_free(&type);
  }
};

char* bytes_of(const torch::Tensor& t) { return static_cast<char*>(t.data_ptr()); }

void tell_log_the_world_rank() {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  log::set_rank(rank, size);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
MpiRuntime::MpiRuntime(int* argc, char*** argv) : uncaught_at_start_(std::uncaught_exceptions()) {
  int initialized = 0, finalized = 0;
  GDPO_MPI_CHECK(MPI_Initialized(&initialized));
  GDPO_MPI_CHECK(MPI_Finalized(&finalized));
  GDPO_CHECK(!finalized, "MPI was already finalised in this process; it cannot be initialised again");
  if (!initialized) {
    GDPO_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &thread_level_));
    owns_ = true;
  } else {
    GDPO_MPI_CHECK(MPI_Query_thread(&thread_level_));
  }
  install_terminate_handler();
  tell_log_the_world_rank();
  if (thread_level_ < MPI_THREAD_FUNNELED)
    log::warn("MPI provides thread level ", thread_level_, " < MPI_THREAD_FUNNELED; only the main "
              "thread may call gdpo::dist collectives");
}

MpiRuntime::~MpiRuntime() {
  if (!owns_ || std::uncaught_exceptions() > uncaught_at_start_) return;
  if (active()) MPI_Finalize();
}

bool MpiRuntime::active() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

MpiRuntime& MpiRuntime::process() {
  static MpiRuntime runtime;
  return runtime;
}

// ---------------------------------------------------------------------------------------------------
MpiCommunicator::MpiCommunicator(MPI_Comm comm) : thread_(std::this_thread::get_id()) {
  GDPO_CHECK(MpiRuntime::active(), "MPI is not initialised: create a gdpo::dist::MpiRuntime first "
                                   "(or use gdpo::dist::make_communicator)");
  install_terminate_handler();
  tell_log_the_world_rank();
  GDPO_MPI_CHECK(MPI_Comm_dup(comm, &comm_));
  GDPO_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  GDPO_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  GDPO_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  MPI_Comm node = MPI_COMM_NULL;
  GDPO_MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  GDPO_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  GDPO_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  GDPO_MPI_CHECK(MPI_Comm_free(&node));
}

MpiCommunicator::~MpiCommunicator() {
  // Skipped while unwinding: MPI_Comm_free is collective, and the other ranks may never get here.
  if (comm_ != MPI_COMM_NULL && std::uncaught_exceptions() == 0 && MpiRuntime::active())
    MPI_Comm_free(&comm_);
}

void MpiCommunicator::set_max_chunk_bytes(size_t bytes) {
  GDPO_CHECK(bytes >= 16 && bytes <= static_cast<size_t>(INT_MAX),
             "max_chunk_bytes " << bytes << " is outside [16, INT_MAX]");
  max_chunk_bytes_ = bytes;
}

void MpiCommunicator::check_thread() const {
  GDPO_CHECK(std::this_thread::get_id() == thread_,
             "MpiCommunicator used from a thread other than the one that created it (MPI runs "
             "with MPI_THREAD_FUNNELED: one thread calls MPI)");
}

void MpiCommunicator::barrier_impl() {
  check_thread();
  GDPO_MPI_CHECK(MPI_Barrier(comm_));
}

void MpiCommunicator::broadcast_impl(torch::Tensor& tensor, int root) {
  check_thread();
  if (!tensor.device().is_cpu()) {  // staged through host memory
    auto host = tensor.cpu();
    broadcast_impl(host, root);
    tensor.copy_(host);
    return;
  }
  const int64_t total = tensor.numel() * static_cast<int64_t>(tensor.element_size());
  char* p = bytes_of(tensor);
  const auto chunk = static_cast<int64_t>(max_chunk_bytes_);
  for (int64_t off = 0; off < total; off += chunk) {
    const int count = static_cast<int>(std::min(chunk, total - off));
    GDPO_MPI_CHECK(MPI_Bcast(p + off, count, MPI_BYTE, root, comm_));
  }
}

void MpiCommunicator::all_reduce_impl(torch::Tensor& tensor, ReduceOp op) {
  check_thread();
  const auto type = tensor.scalar_type();
  const bool half = type == torch::kBFloat16 || type == torch::kFloat16;
  if (half || !tensor.device().is_cpu()) {  // reduce a float32 / host copy, round once
    auto host = tensor.to(torch::kCPU, half ? torch::kFloat32 : type);
    all_reduce_impl(host, op);
    tensor.copy_(host);
    return;
  }
  if (size_ > 1) {  // in place, no copy
    const MPI_Datatype dt = mpi_type(type);
    const auto elem = static_cast<int64_t>(tensor.element_size());
    const int64_t per_call = std::max<int64_t>(1, static_cast<int64_t>(max_chunk_bytes_) / elem);
    char* p = bytes_of(tensor);
    for (int64_t off = 0; off < tensor.numel(); off += per_call) {
      const int count = static_cast<int>(std::min(per_call, tensor.numel() - off));
      GDPO_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, p + off * elem, count, dt, mpi_op(op), comm_));
    }
  }
  if (op == ReduceOp::Mean) tensor.div_(size_);
}

torch::Tensor MpiCommunicator::all_gather_impl(const torch::Tensor& tensor) {
  check_thread();
  if (!tensor.device().is_cpu()) return all_gather_impl(tensor.cpu()).to(tensor.device());
  std::vector<int64_t> shape{size_};
  shape.insert(shape.end(), tensor.sizes().begin(), tensor.sizes().end());
  auto out = torch::empty(shape, tensor.options());
  all_gather_bytes(bytes_of(tensor), bytes_of(out),
                   tensor.numel() * static_cast<int64_t>(tensor.element_size()));
  return out;
}

void MpiCommunicator::all_gather_bytes(const char* src, char* dst, int64_t row) {
  const auto chunk = static_cast<int64_t>(max_chunk_bytes_);
  for (int64_t off = 0; off < row; off += chunk) {
    const int count = static_cast<int>(std::min(chunk, row - off));
    // In place, each rank's piece is read from where it lands in `dst` (send count/type ignored).
    const void* send = src ? static_cast<const void*>(src + off) : MPI_IN_PLACE;
    if (count == row) {
      GDPO_MPI_CHECK(MPI_Allgather(send, count, MPI_BYTE, dst, count, MPI_BYTE, comm_));
      continue;
    }
    // Bytes [off, off + count) of every rank's row: one element of `count` bytes whose extent is
    // the whole row, so that rank r's piece lands at dst + r * row + off.
    TypeGuard block, strided;
    GDPO_MPI_CHECK(MPI_Type_contiguous(count, MPI_BYTE, &block.type));
    GDPO_MPI_CHECK(MPI_Type_create_resized(block.type, 0, static_cast<MPI_Aint>(row),
                                           &strided.type));
    GDPO_MPI_CHECK(MPI_Type_commit(&strided.type));
    GDPO_MPI_CHECK(MPI_Allgather(send, count, MPI_BYTE, dst + off, 1, strided.type, comm_));
  }
}

void MpiCommunicator::reduce_scatter_impl(const torch::Tensor& input, torch::Tensor& output,
                                          ReduceOp op) {
  check_thread();
  const auto type = input.scalar_type();
  const bool half = type == torch::kBFloat16 || type == torch::kFloat16;
  if (half || !input.device().is_cpu()) {  // as all_reduce_impl: float32 / host copies, round once
    const auto staged = half ? torch::kFloat32 : type;
    auto host = torch::empty({output.numel()}, torch::TensorOptions(staged));
    reduce_scatter_impl(input.to(torch::kCPU, staged), host, op);
    output.copy_(host);
    return;
  }
  const int64_t n = output.numel();
  if (size_ == 1) {
    output.copy_(input);
  } else if (n > 0) {
    const MPI_Datatype dt = mpi_type(type);
    const auto elem = static_cast<int64_t>(input.element_size());
    const int64_t per_call = std::max<int64_t>(1, static_cast<int64_t>(max_chunk_bytes_) / elem);
    const char* src = bytes_of(input);
    char* dst = bytes_of(output);
    if (n <= per_call) {
      GDPO_MPI_CHECK(
          MPI_Reduce_scatter_block(src, dst, static_cast<int>(n), dt, mpi_op(op), comm_));
    } else {
      // Elements [off, off + count) of every rank's part, packed rank after rank into one buffer
      // of at most max_chunk_bytes(); rank r receives its reduced piece at dst + off.
      const int64_t piece = std::max<int64_t>(1, per_call / size_);
      auto packed = torch::empty({size_ * piece}, input.options());
      char* buf = bytes_of(packed);
      for (int64_t off = 0; off < n; off += piece) {
        const int64_t count = std::min(piece, n - off);
        for (int r = 0; r < size_; ++r)
          std::memcpy(buf + r * count * elem, src + (r * n + off) * elem,
                      static_cast<size_t>(count * elem));
        GDPO_MPI_CHECK(MPI_Reduce_scatter_block(buf, dst + off * elem, static_cast<int>(count), dt,
                                                mpi_op(op), comm_));
      }
    }
  }
  if (op == ReduceOp::Mean) output.div_(size_);
}

void MpiCommunicator::all_gather_into_impl(const torch::Tensor& input, torch::Tensor& output) {
  check_thread();
  if (!input.device().is_cpu()) {  // staged through host memory
    auto host = torch::empty({output.numel()}, output.options().device(torch::kCPU));
    all_gather_into_impl(input.cpu(), host);
    output.copy_(host);
    return;
  }
  all_gather_bytes(gathers_in_place(input, output) ? nullptr : bytes_of(input), bytes_of(output),
                   input.numel() * static_cast<int64_t>(input.element_size()));
}

}  // namespace gdpo::dist
