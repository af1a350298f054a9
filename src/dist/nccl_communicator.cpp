// The NCCL backend (GDPO_CUDA builds only; CMakeLists.txt leaves this file out otherwise). Only the
// CUDA runtime and NCCL are used here, on raw device pointers: no LibTorch CUDA header, so that it
// builds against a CPU LibTorch too (where make_communicator refuses to start it).
#if defined(GDPO_CUDA)
#include "gdpo/dist/nccl_communicator.hpp"

// cuda_bf16.h first: older nccl.h declare ncclBfloat16 only when it has been included.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "gdpo/core/error.hpp"
#include "gdpo/core/log.hpp"

// Non-blocking communicators (ncclConfig_t, ncclCommInitRankConfig, ncclInProgress,
// ncclCommFinalize) and ncclGetLastError.
#define GDPO_NCCL_NONBLOCKING (NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0))
#define GDPO_NCCL_LAST_ERROR (NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0))

namespace gdpo::dist {

namespace detail {
namespace {

// What a call on a non-blocking communicator returns while it is still under way (no such result
// before NCCL 2.14, whose communicators are all blocking).
#if GDPO_NCCL_NONBLOCKING
constexpr ncclResult_t kNcclInProgress = ncclInProgress;
#else
constexpr ncclResult_t kNcclInProgress = static_cast<ncclResult_t>(-1);
#endif

std::string call_name(const char* call) {
  std::string name(call);
  return name.substr(0, name.find('('));
}

[[noreturn]] void throw_cuda_error(const char* file, int line, const char* call, cudaError_t code) {
  throw Error(::gdpo::detail::source_location(file, line) + call_name(call) + " failed: " +
              cudaGetErrorName(code) + ": " + cudaGetErrorString(code));
}

std::string nccl_error_text(ncclResult_t code, ncclComm_t comm) {
  std::string text = ncclGetErrorString(code);
#if GDPO_NCCL_LAST_ERROR
  const char* last = ncclGetLastError(comm);
  if (last && *last) text += std::string(" (") + last + ")";
#endif
  return text;
}

// Returns `code` when it is ncclSuccess or ncclInProgress (a non-blocking communicator's call still
// under way), otherwise throws gdpo::Error "file:line: ncclAllReduce failed: <NCCL's message>".
ncclResult_t nccl_checked(ncclResult_t code, const char* file, int line, const char* call,
                          ncclComm_t comm) {
  if (code == ncclSuccess || code == kNcclInProgress) return code;
  throw Error(::gdpo::detail::source_location(file, line) + call_name(call) +
              " failed: " + nccl_error_text(code, comm));
}

}  // namespace
}  // namespace detail

// GDPO_CUDA_CHECK(cudaSetDevice(d)): throws gdpo::Error with file:line and CUDA's message.
#define GDPO_CUDA_CHECK(call)                                                          \
  do {                                                                                 \
    const cudaError_t gdpo_cuda_rc_ = (call);                                          \
    if (gdpo_cuda_rc_ != cudaSuccess)                                                  \
      ::gdpo::dist::detail::throw_cuda_error(__FILE__, __LINE__, #call, gdpo_cuda_rc_); \
  } while (0)

// GDPO_NCCL_CHECK(ncclAllReduce(...), comm): an expression, ncclSuccess or ncclInProgress; any other
// result throws gdpo::Error with file:line and NCCL's message (and its last error on `comm`).
#define GDPO_NCCL_CHECK(call, comm) \
  ::gdpo::dist::detail::nccl_checked((call), __FILE__, __LINE__, #call, (comm))

// ---------------------------------------------------------------------------------------------------
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void* legacy_default_stream(int) { return nullptr; }

CurrentStreamFn default_stream_fn() {
#if defined(GDPO_TORCH_CUDA)
  return &torch_current_cuda_stream;
#else
  return &legacy_default_stream;
#endif
}

std::atomic<CurrentStreamFn> g_stream_fn{nullptr};

// Makes `device` current for the scope, then restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    GDPO_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) GDPO_CUDA_CHECK(cudaSetDevice(device));
    else previous_ = -1;
  }
  ~DeviceGuard() {
    if (previous_ >= 0) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

class Stream {
 public:
  Stream() { GDPO_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (stream_) cudaStreamDestroy(stream_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { GDPO_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  ~Event() {
    if (event_) cudaEventDestroy(event_);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) { GDPO_CUDA_CHECK(cudaMalloc(&data_, bytes)); }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return data_; }

 private:
  void* data_ = nullptr;
};

ncclDataType_t nccl_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return ncclFloat32;
    case torch::kFloat64: return ncclFloat64;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kFloat16: return ncclFloat16;
    case torch::kInt32: return ncclInt32;
    case torch::kInt64: return ncclInt64;
    case torch::kUInt8: return ncclUint8;
    case torch::kInt8: return ncclInt8;
    default: break;
  }
  GDPO_CHECK(false, "no NCCL datatype for " << c10::toString(t));
  return ncclUint8;
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Mean: return ncclSum;  // Mean: the sum divided by world_size(), on the device
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  return ncclSum;
}

size_t bytes_of(const torch::Tensor& t) {
  return static_cast<size_t>(t.numel()) * t.element_size();
}

}  // namespace

void set_current_stream_fn(CurrentStreamFn fn) { g_stream_fn.store(fn); }

CurrentStreamFn current_stream_fn() {
  const CurrentStreamFn fn = g_stream_fn.load();
  return fn ? fn : default_stream_fn();
}

double nccl_timeout_from_env(double fallback) {
  const char* text = std::getenv("GDPO_NCCL_TIMEOUT");
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(value) || !(value > 0))
    GDPO_THROW(UsageError, "GDPO_NCCL_TIMEOUT='" << text
                                                 << "' is not a number of seconds > 0 (the NCCL "
                                                    "watchdog's timeout)");
  return value;
}

// ---------------------------------------------------------------------------------------------------
// The NCCL communicator, its stream and events, and the watchdog thread.
struct NcclCommunicator::State {
  struct Pending {
    const char* name;
    uint64_t number;
    std::unique_ptr<Event> done;
    Clock::time_point enqueued;
  };

  State(int device_, double timeout_, int rank_, int size_)
      : device(device_), timeout(timeout_), rank(rank_), size(size_) {}
  ~State() { stop_watchdog(); }

  const int device;
  const double timeout;
  const int rank, size;
  ncclComm_t comm = nullptr;
  std::unique_ptr<Stream> stream;
  std::unique_ptr<Event> ready;          // recorded on the current stream before each collective
  std::unique_ptr<DeviceBuffer> scratch;  // the barrier's int
  uint64_t enqueued = 0;

  std::mutex mutex;  // guards pending, spare, stop
  std::condition_variable wake;
  std::deque<Pending> pending;                // collectives not seen complete yet, oldest first
  std::vector<std::unique_ptr<Event>> spare;  // completion events to reuse
  bool stop = false;
  std::atomic<bool> closing{false};  // the communicator is being finalised: no async-error polls
  std::thread watchdog;
  std::atomic<bool> dying{false};

  // Prints "gdpo: <what> (rank r of n); aborting", aborts the NCCL communicator (unless told not to)
  // and ends the process with kExitNcclWatchdog. Only the first caller does it; a second one waits
  // for the process to end.
  [[noreturn]] void die(const std::string& what, bool abort_comm = true) {
    if (dying.exchange(true)) {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    std::fprintf(stderr, "gdpo: %s (rank %d of %d); aborting\n", what.c_str(), rank, size);
    std::fflush(stdout);
    std::fflush(stderr);
    // ncclCommAbort should return promptly; do not let it keep the process alive if it does not.
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::seconds(30));
      std::_Exit(kExitNcclWatchdog);
    }).detach();
    if (abort_comm && comm) ncclCommAbort(comm);
    std::_Exit(kExitNcclWatchdog);
  }

  std::string timeout_text(const char* name, uint64_t number) const {
    char text[256];
    std::snprintf(text, sizeof text, "NCCL collective %s #%llu did not complete within %g s", name,
                  static_cast<unsigned long long>(number), timeout);
    return text;
  }

  // After a call on a non-blocking communicator returned ncclInProgress: waits (on the host) until
  // the communicator is ready again. An NCCL error throws; running past the timeout is fatal.
  void wait_ready(const char* name, uint64_t number) {
#if GDPO_NCCL_NONBLOCKING
    const auto start = Clock::now();
    for (;;) {
      ncclResult_t state = ncclInProgress;
      GDPO_NCCL_CHECK(ncclCommGetAsyncError(comm, &state), comm);
      if (state == ncclSuccess) return;
      if (state != ncclInProgress)
        throw Error(::gdpo::detail::source_location(__FILE__, __LINE__) + "NCCL collective " +
                    name + " #" + std::to_string(number) +
                    " failed: " + detail::nccl_error_text(state, comm));
      if (seconds_since(start) > timeout) die(timeout_text(name, number));
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
#else
    (void)name;
    (void)number;
#endif
  }

  std::unique_ptr<Event> take_event() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!spare.empty()) {
        auto e = std::move(spare.back());
        spare.pop_back();
        return e;
      }
    }
    return std::make_unique<Event>();
  }

  // Runs `call(stream)` (which enqueues one NCCL operation and returns its result) after the work
  // already on the current stream, and makes the current stream wait for it. Never blocks the host
  // (except while a non-blocking communicator reports ncclInProgress). The device is current.
  template <class Call>
  void enqueue(const char* name, Call&& call) {
    const auto current = static_cast<cudaStream_t>(current_stream_fn()(device));
    GDPO_CUDA_CHECK(cudaEventRecord(ready->get(), current));
    GDPO_CUDA_CHECK(cudaStreamWaitEvent(stream->get(), ready->get(), 0));
    const uint64_t number = ++enqueued;
    if (call(stream->get()) == detail::kNcclInProgress) wait_ready(name, number);
    auto done = take_event();
    GDPO_CUDA_CHECK(cudaEventRecord(done->get(), stream->get()));
    GDPO_CUDA_CHECK(cudaStreamWaitEvent(current, done->get(), 0));
    std::lock_guard<std::mutex> lock(mutex);
    pending.push_back(Pending{name, number, std::move(done), Clock::now()});
  }

  // ncclAllGather of `bytes` bytes per rank from `src` into `dst` (rank r's at dst + r * bytes; in
  // place when src == dst + rank * bytes), enqueued as `name` (all_gather and all_gather_into).
  void all_gather(const char* name, const void* src, void* dst, size_t bytes) {
    if (bytes == 0) return;
    DeviceGuard guard(device);
    enqueue(name, [&](cudaStream_t on_stream) {
      return GDPO_NCCL_CHECK(ncclAllGather(src, dst, bytes, ncclUint8, comm, on_stream), comm);
    });
  }

  void start_watchdog() {
    watchdog = std::thread([this] { watch(); });
  }

  void stop_watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    wake.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }

  // Every 100 ms: retire completed collectives; die when the oldest one has been pending longer than
  // the timeout, its event reports a CUDA error, or NCCL reports an asynchronous error.
  void watch() {
    cudaSetDevice(device);
    std::unique_lock<std::mutex> lock(mutex);
    while (!stop) {
      wake.wait_for(lock, std::chrono::milliseconds(100));
      if (stop) break;
      while (!pending.empty()) {
        const cudaError_t state = cudaEventQuery(pending.front().done->get());
        if (state == cudaErrorNotReady) break;
        if (state != cudaSuccess) {
          die(std::string("NCCL collective ") + pending.front().name + " #" +
              std::to_string(pending.front().number) + " did not complete: CUDA error " +
              cudaGetErrorName(state) + ": " + cudaGetErrorString(state));
        }
        spare.push_back(std::move(pending.front().done));
        pending.pop_front();
      }
      if (!pending.empty() && seconds_since(pending.front().enqueued) > timeout)
        die(timeout_text(pending.front().name, pending.front().number));
      if (closing.load()) continue;
      ncclResult_t async = ncclSuccess;
      if (ncclCommGetAsyncError(comm, &async) == ncclSuccess && async != ncclSuccess
#if GDPO_NCCL_NONBLOCKING
          && async != ncclInProgress
#endif
      ) {
        std::string what = pending.empty()
                               ? std::string("the NCCL communicator failed")
                               : std::string("NCCL collective ") + pending.front().name + " #" +
                                     std::to_string(pending.front().number) + " did not complete";
        die(what + ": " + detail::nccl_error_text(async, comm));
      }
    }
  }

  // Normal end: wait for the collectives in flight and finalise (under the watchdog and the timeout),
  // then destroy. `abort` (an exception is propagating, or something failed): abort at once.
  void close(bool abort) {
    if (!comm) {
      stop_watchdog();
      return;
    }
    if (!abort) {
      try {
        DeviceGuard guard(device);
        GDPO_CUDA_CHECK(cudaStreamSynchronize(stream->get()));
#if GDPO_NCCL_NONBLOCKING
        closing = true;
        if (GDPO_NCCL_CHECK(ncclCommFinalize(comm), comm) == detail::kNcclInProgress)
          wait_ready("finalize", enqueued);
#endif
      } catch (const std::exception& e) {
        log::warn("NCCL communicator: ", e.what(), "; aborting it");
        abort = true;
      }
    }
    stop_watchdog();
    if (abort) {
      ncclCommAbort(comm);
    } else {
      ncclCommDestroy(comm);
    }
    comm = nullptr;
  }
};

// ---------------------------------------------------------------------------------------------------
NcclCommunicator::NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi, int device,
                                   double timeout_seconds)
    : mpi_(std::move(mpi)) {
  GDPO_CHECK(mpi_ != nullptr, "NcclCommunicator: no MPI communicator");
  const double timeout = nccl_timeout_from_env(timeout_seconds);
  GDPO_CHECK(std::isfinite(timeout) && timeout > 0,
             "NcclCommunicator: the timeout must be > 0 seconds, got " << timeout);
  state_ = std::make_unique<State>(device, timeout, mpi_->rank(), mpi_->world_size());
  State& s = *state_;

  // The device, stream, events and (rank 0) the unique id; any rank's failure is every rank's.
  ncclUniqueId id{};
  std::string failure;
  try {
    int count = 0;
    GDPO_CUDA_CHECK(cudaGetDeviceCount(&count));
    GDPO_CHECK(device >= 0 && device < count,
               "CUDA device " << device << " does not exist (" << count << " visible)");
    DeviceGuard guard(device);
    s.stream = std::make_unique<Stream>();
    s.ready = std::make_unique<Event>();
    s.scratch = std::make_unique<DeviceBuffer>(sizeof(int));
    GDPO_CUDA_CHECK(cudaMemset(s.scratch->get(), 0, sizeof(int)));
    if (rank() == 0) GDPO_NCCL_CHECK(ncclGetUniqueId(&id), nullptr);
  } catch (const std::exception& e) {
    failure = e.what();
    if (failure.empty()) failure = "unknown error";
  }
  const auto failures = mpi_->all_gather(failure);
  for (size_t r = 0; r < failures.size(); ++r) {
    GDPO_CHECK(failures[r].empty(),
               "NcclCommunicator: rank " << r << " could not set up CUDA: " << failures[r]);
  }
  GDPO_MPI_CHECK(MPI_Bcast(&id, static_cast<int>(sizeof id), MPI_BYTE, 0, mpi_->mpi_comm()));

  DeviceGuard guard(device);
#if GDPO_NCCL_NONBLOCKING
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // every call returns; a dead peer cannot hang this rank
  GDPO_NCCL_CHECK(ncclCommInitRankConfig(&s.comm, world_size(), id, rank(), &config), s.comm);
  try {
    s.wait_ready("init", 0);  // ncclInProgress until every rank has joined
  } catch (...) {
    if (s.comm) ncclCommAbort(s.comm);
    s.comm = nullptr;
    throw;
  }
#else
  GDPO_NCCL_CHECK(ncclCommInitRank(&s.comm, world_size(), id, rank()), nullptr);
#endif
  s.start_watchdog();
  log::debug("NCCL ", NCCL_MAJOR, ".", NCCL_MINOR, ".", NCCL_PATCH, " communicator: rank ", rank(),
             " of ", world_size(), " on CUDA device ", device, ", watchdog timeout ", timeout, " s");
}

NcclCommunicator::~NcclCommunicator() {
  if (state_) state_->close(std::uncaught_exceptions() > 0);
  state_.reset();
  mpi_.reset();
}

int NcclCommunicator::rank() const { return mpi_->rank(); }
int NcclCommunicator::world_size() const { return mpi_->world_size(); }
int NcclCommunicator::local_rank() const { return mpi_->local_rank(); }
int NcclCommunicator::local_size() const { return mpi_->local_size(); }
torch::Device NcclCommunicator::device() const {
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(state_->device));
}
int NcclCommunicator::device_index() const { return state_->device; }
double NcclCommunicator::timeout_seconds() const { return state_->timeout; }
MpiCommunicator& NcclCommunicator::mpi() { return *mpi_; }
uint64_t NcclCommunicator::collectives_enqueued() const { return state_->enqueued; }

void NcclCommunicator::synchronize() {
  DeviceGuard guard(state_->device);
  GDPO_CUDA_CHECK(cudaStreamSynchronize(state_->stream->get()));
}

void NcclCommunicator::max_over_ranks(std::vector<int64_t>& values) {
  GDPO_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()),
                               MPI_INT64_T, MPI_MAX, mpi_->mpi_comm()));
}

void NcclCommunicator::barrier_impl() {
  State& s = *state_;
  DeviceGuard guard(s.device);
  void* p = s.scratch->get();
  s.enqueue("barrier", [&](cudaStream_t stream) {
    return GDPO_NCCL_CHECK(ncclAllReduce(p, p, 1, ncclInt32, ncclSum, s.comm, stream), s.comm);
  });
  // Waiting for the comm stream also waits for the current stream's work before the barrier.
  GDPO_CUDA_CHECK(cudaStreamSynchronize(s.stream->get()));
}

namespace {
bool on(const torch::Tensor& t, const torch::Device& device) {
  return t.device().is_cuda() && t.device().index() == device.index();
}
}  // namespace

void NcclCommunicator::broadcast_impl(torch::Tensor& tensor, int root) {
  if (!on(tensor, device())) {  // staged through this rank's device
    auto staged = tensor.to(device());
    broadcast_impl(staged, root);
    tensor.copy_(staged);
    return;
  }
  if (tensor.numel() == 0) return;
  State& s = *state_;
  DeviceGuard guard(s.device);
  void* p = tensor.data_ptr();
  const size_t n = bytes_of(tensor);
  s.enqueue("broadcast", [&](cudaStream_t stream) {
    return GDPO_NCCL_CHECK(ncclBroadcast(p, p, n, ncclUint8, root, s.comm, stream), s.comm);
  });
}

void NcclCommunicator::all_reduce_impl(torch::Tensor& tensor, ReduceOp op) {
  if (!on(tensor, device())) {
    auto staged = tensor.to(device());
    all_reduce_impl(staged, op);
    tensor.copy_(staged);
    return;
  }
  if (tensor.numel() == 0) return;
  State& s = *state_;
  DeviceGuard guard(s.device);
  void* p = tensor.data_ptr();
  const auto n = static_cast<size_t>(tensor.numel());
  const ncclDataType_t type = nccl_type(tensor.scalar_type());
  s.enqueue("all_reduce", [&](cudaStream_t stream) {
    return GDPO_NCCL_CHECK(ncclAllReduce(p, p, n, type, nccl_op(op), s.comm, stream), s.comm);
  });
  // On LibTorch's current stream, which waits for the all-reduce (the base class's semantics: the
  // sum, rounded once to the dtype, divided by the world size).
  if (op == ReduceOp::Mean) tensor.div_(world_size());
}

torch::Tensor NcclCommunicator::all_gather_impl(const torch::Tensor& tensor) {
  if (!on(tensor, device())) return all_gather_impl(tensor.to(device())).to(tensor.device());
  std::vector<int64_t> shape{world_size()};
  shape.insert(shape.end(), tensor.sizes().begin(), tensor.sizes().end());
  auto out = torch::empty(shape, tensor.options());
  state_->all_gather("all_gather", tensor.data_ptr(), out.data_ptr(), bytes_of(tensor));
  return out;
}

void NcclCommunicator::reduce_scatter_impl(const torch::Tensor& input, torch::Tensor& output,
                                           ReduceOp op) {
  if (!on(input, device())) {  // input and output are on one device (checked)
    auto staged = torch::empty({output.numel()}, output.options().device(device()));
    reduce_scatter_impl(input.to(device()), staged, op);
    output.copy_(staged);
    return;
  }
  if (output.numel() == 0) return;
  State& s = *state_;
  DeviceGuard guard(s.device);
  const void* src = input.data_ptr();
  void* dst = output.data_ptr();
  const auto n = static_cast<size_t>(output.numel());
  const ncclDataType_t type = nccl_type(output.scalar_type());
  s.enqueue("reduce_scatter", [&](cudaStream_t stream) {
    return GDPO_NCCL_CHECK(ncclReduceScatter(src, dst, n, type, nccl_op(op), s.comm, stream),
                           s.comm);
  });
  // As in all_reduce_impl: on the current stream, which waits for the reduce-scatter.
  if (op == ReduceOp::Mean) output.div_(world_size());
}

void NcclCommunicator::all_gather_into_impl(const torch::Tensor& input, torch::Tensor& output) {
  if (!on(input, device())) {  // input and output are on one device (checked)
    auto staged = torch::empty({output.numel()}, output.options().device(device()));
    all_gather_into_impl(input.to(device()), staged);
    output.copy_(staged);
    return;
  }
  // In place (input is output's own slice, at output + rank * n): NCCL's in-place all-gather.
  state_->all_gather("all_gather_into", input.data_ptr(), output.data_ptr(), bytes_of(input));
}

}  // namespace gdpo::dist

#endif  // GDPO_CUDA
