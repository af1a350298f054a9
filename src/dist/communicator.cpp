#include "gdpo/dist/communicator.hpp"

#include <cstdlib>
#include <cstring>

#include "gdpo/core/error.hpp"
#include "gdpo/core/hash.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/dist/mpi_communicator.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#if defined(GDPO_CUDA)
#include "gdpo/dist/nccl_communicator.hpp"
#endif

namespace gdpo::dist {

namespace {

bool reducible(torch::ScalarType t) {
  return t == torch::kFloat32 || t == torch::kFloat64 || t == torch::kBFloat16 ||
         t == torch::kFloat16 || t == torch::kInt32 || t == torch::kInt64;
}

std::string dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kFloat64: return "float64";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    case torch::kInt32: return "int32";
    case torch::kInt64: return "int64";
    case torch::kUInt8: return "uint8";
    case torch::kBool: return "bool";
    default: return c10::toString(t);
  }
}

std::string describe(const torch::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  std::ostringstream os;
  os << dtype_name(t.scalar_type()) << " [";
  for (int64_t d = 0; d < t.dim(); ++d) os << (d ? ", " : "") << t.size(d);
  os << "]";
  return os.str();
}

// Shape as one number (FNV-1a), kept below 2^62 so that it can be negated.
int64_t shape_hash(const torch::Tensor& t) {
  Fnv1a h;
  for (int64_t d = 0; d < t.dim(); ++d) h.add(static_cast<uint64_t>(t.size(d)));
  return static_cast<int64_t>(h.value() >> 2);
}

// The byte ranges of two contiguous tensors intersect (on one device).
bool overlaps(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.numel() == 0 || b.numel() == 0 || a.device() != b.device()) return false;
  const auto* a0 = static_cast<const char*>(a.data_ptr());
  const auto* b0 = static_cast<const char*>(b.data_ptr());
  return a0 < b0 + b.numel() * b.element_size() && b0 < a0 + a.numel() * a.element_size();
}

// `input` [n] is exactly output.narrow(0, rank * n, n) (contiguous tensors of one dtype; n > 0).
bool own_slice(const torch::Tensor& input, const torch::Tensor& output, int rank) {
  const int64_t n = input.numel();
  if (n == 0 || input.device() != output.device() || output.numel() < (rank + 1) * n) return false;
  return static_cast<const char*>(input.data_ptr()) ==
         static_cast<const char*>(output.data_ptr()) + rank * n * output.element_size();
}

// What is wrong with `t` as the flat buffer `name` of reduce_scatter / all_gather_into ("" when it
// is a defined, dense, 1-D, contiguous tensor).
std::string flat_problem(const std::string& name, const torch::Tensor& t) {
  if (!t.defined()) return name + " is an undefined tensor";
  if (t.layout() != torch::kStrided) return name + " is not a dense (strided) tensor";
  if (t.dim() != 1) return name + " " + describe(t) + " is not 1-D (pass a flat buffer)";
  if (!t.is_contiguous())
    return name + " " + describe(t) + " is not contiguous (stride " + std::to_string(t.stride(0)) +
           ")";
  return std::string();
}

std::string shapes_of(const torch::Tensor& input, const torch::Tensor& output) {
  return "input " + describe(input) + ", output " + describe(output);
}

// Input and output differ in dtype or device ("" when they do not).
std::string pair_problem(const torch::Tensor& input, const torch::Tensor& output) {
  if (output.scalar_type() != input.scalar_type())
    return "output and input differ in dtype (" + shapes_of(input, output) + ")";
  if (output.device() != input.device())
    return "output is on " + output.device().str() + " and input on " + input.device().str() +
           " (" + shapes_of(input, output) + ")";
  return std::string();
}

// What is wrong with this rank's arguments of reduce_scatter ("" when nothing).
std::string reduce_scatter_problem(const torch::Tensor& input, const torch::Tensor& output,
                                   ReduceOp op, int world) {
  if (auto p = flat_problem("input", input); !p.empty()) return p;
  if (auto p = flat_problem("output", output); !p.empty()) return p;
  const std::string shapes = shapes_of(input, output);
  const auto type = input.scalar_type();
  if (!reducible(type))
    return "unsupported dtype " + dtype_name(type) +
           " (float32, float64, bfloat16, float16, int32 or int64)";
  if (op == ReduceOp::Mean && !input.is_floating_point())
    return "mean of a " + dtype_name(type) +
           " tensor (mean needs a floating-point tensor; use sum)";
  if (auto p = pair_problem(input, output); !p.empty()) return p;
  if (input.numel() % world != 0)
    return "input.numel() " + std::to_string(input.numel()) +
           " is not a multiple of world_size() " + std::to_string(world) + " (" + shapes + ")";
  if (output.numel() * world != input.numel())
    return "output must have input.numel() / world_size() = " + std::to_string(input.numel()) +
           " / " + std::to_string(world) + " = " + std::to_string(input.numel() / world) +
           " elements (" + shapes + ")";
  if (overlaps(input, output))
    return "output overlaps input (" + shapes + "; output must be a tensor of its own)";
  return std::string();
}

// What is wrong with this rank's arguments of all_gather_into ("" when nothing).
std::string all_gather_into_problem(const torch::Tensor& input, const torch::Tensor& output,
                                    int rank, int world) {
  if (auto p = flat_problem("input", input); !p.empty()) return p;
  if (auto p = flat_problem("output", output); !p.empty()) return p;
  const std::string shapes = shapes_of(input, output);
  if (auto p = pair_problem(input, output); !p.empty()) return p;
  const int64_t n = input.numel();
  if (output.numel() != world * n)
    return "output must have world_size() * input.numel() = " + std::to_string(world) + " * " +
           std::to_string(n) + " = " + std::to_string(world * n) + " elements (" + shapes + ")";
  if (overlaps(input, output) && !own_slice(input, output, rank))
    return "input overlaps output but is not output.narrow(0, rank() * n, n), elements [" +
           std::to_string(rank * n) + ", " + std::to_string((rank + 1) * n) + ") of output (" +
           shapes + "; pass exactly this rank's slice to gather in place, or a tensor of its own)";
  return std::string();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Mean: return "mean";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
  }
  return "?";
}

void Communicator::check_agreement(const char* what, const torch::Tensor& tensor, int64_t arg,
                                   const char* arg_name, const std::string& problem) {
  if (world_size() == 1) {
    GDPO_CHECK(problem.empty(), what << ": " << problem);
    return;
  }
  const bool def = tensor.defined();
  const int64_t sig[5] = {def ? static_cast<int64_t>(tensor.scalar_type()) : -1,
                          def ? tensor.dim() : -1, def ? tensor.numel() : -1, arg,
                          def ? shape_hash(tensor) : -1};
  // max over ranks of (v, -v) gives (max v, -min v): every rank agrees iff max == min. The last
  // value is 1 when some rank has a problem of its own.
  std::vector<int64_t> q(11);
  for (int i = 0; i < 5; ++i) q[i] = sig[i], q[5 + i] = -sig[i];
  q[10] = problem.empty() ? 0 : 1;
  max_over_ranks(q);
  if (q[10] != 0) {  // tell every rank which ranks passed what (this string gather agrees)
    const auto all = all_gather(problem);
    std::ostringstream msg;
    msg << what << ": ";
    int shown = 0, others = 0;
    for (size_t r = 0; r < all.size(); ++r) {
      if (all[r].empty()) continue;
      if (shown++ < 8) {
        msg << (shown > 1 ? "; " : "") << "rank " << r << ": " << all[r];
      } else {
        ++others;
      }
    }
    if (others) msg << "; and " << others << " more ranks";
    GDPO_CHECK(false, msg.str());
  }
  bool same = true;
  for (int i = 0; i < 5; ++i) same = same && q[i] == -q[5 + i];
  if (same) return;

  // Tell every rank what each rank passed (this string gather agrees by construction).
  std::string mine = describe(tensor);
  if (arg_name) {
    mine += std::string(", ") + arg_name + " " +
            (std::strcmp(arg_name, "op") == 0 ? reduce_op_name(static_cast<ReduceOp>(arg))
                                              : std::to_string(arg));
  }
  const auto all = all_gather(mine);
  std::ostringstream msg;
  msg << what << ": the ranks passed different arguments (each must pass the same dtype, shape"
      << (arg_name ? std::string(" and ") + arg_name : std::string()) << "): rank 0: " << all[0];
  int shown = 0, others = 0;
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] == all[0]) continue;
    if (shown++ < 7) {
      msg << "; rank " << r << ": " << all[r];
    } else {
      ++others;
    }
  }
  if (others) msg << "; and " << others << " more ranks differ";
  GDPO_CHECK(false, msg.str());
}

void Communicator::max_over_ranks(std::vector<int64_t>& values) {
  auto host = torch::from_blob(values.data(), {static_cast<int64_t>(values.size())}, torch::kInt64);
  if (device().is_cpu()) {
    all_reduce_impl(host, ReduceOp::Max);
    return;
  }
  torch::Tensor reduced = host.to(device());
  all_reduce_impl(reduced, ReduceOp::Max);
  host.copy_(reduced.cpu());
}

void Communicator::check_root(const char* what, int root) const {
  GDPO_CHECK(root >= 0 && root < world_size(),
             what << ": root " << root << " is not a rank of the " << world_size() << "-rank world");
}

void Communicator::barrier() { barrier_impl(); }

int64_t Communicator::payload_bytes(const torch::Tensor& tensor) {
  return tensor.defined() ? tensor.numel() * static_cast<int64_t>(tensor.element_size()) : 0;
}

void Communicator::count(int64_t& counter, const torch::Tensor& tensor) {
  counter += payload_bytes(tensor);
  ++traffic_.calls;
}

double Communicator::Traffic::wire_bytes(int world) const {
  // Ring algorithms: an all-reduce sends (and receives) 2 (W-1)/W of its buffer per rank, a
  // reduce-scatter or all-gather (W-1)/W of the whole buffer, a broadcast about the buffer.
  const double f = world > 1 ? static_cast<double>(world - 1) / world : 0.0;
  return 2 * f * static_cast<double>(all_reduce) +
         f * static_cast<double>(reduce_scatter + all_gather) +
         (world > 1 ? static_cast<double>(broadcast) : 0.0);
}

void Communicator::broadcast(torch::Tensor& tensor, int root) {
  check_agreement("broadcast", tensor, root, "root");
  GDPO_CHECK(tensor.defined(), "broadcast: undefined tensor");
  check_root("broadcast", root);
  count(traffic_.broadcast, tensor);
  if (tensor.is_contiguous()) {
    broadcast_impl(tensor, root);
  } else {
    auto c = tensor.contiguous();
    broadcast_impl(c, root);
    tensor.copy_(c);
  }
}

void Communicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  check_agreement("all_reduce", tensor, static_cast<int64_t>(op), "op");
  GDPO_CHECK(tensor.defined(), "all_reduce: undefined tensor");
  GDPO_CHECK(reducible(tensor.scalar_type()),
             "all_reduce: unsupported dtype " << dtype_name(tensor.scalar_type())
                                              << " (float32, float64, bfloat16, float16, int32 or "
                                                 "int64)");
  GDPO_CHECK(op != ReduceOp::Mean || tensor.is_floating_point(),
             "all_reduce: mean of a " << dtype_name(tensor.scalar_type())
                                      << " tensor (mean needs a floating-point tensor; use sum)");
  count(traffic_.all_reduce, tensor);
  if (tensor.is_contiguous()) {
    all_reduce_impl(tensor, op);
  } else {
    auto c = tensor.contiguous();
    all_reduce_impl(c, op);
    tensor.copy_(c);
  }
}

torch::Tensor Communicator::all_gather(const torch::Tensor& tensor) {
  check_agreement("all_gather", tensor, 0, nullptr);
  GDPO_CHECK(tensor.defined(), "all_gather: undefined tensor");
  traffic_.all_gather += payload_bytes(tensor) * world_size();
  ++traffic_.calls;
  return all_gather_impl(tensor.contiguous());
}

void Communicator::reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) {
  check_agreement("reduce_scatter", input, static_cast<int64_t>(op), "op",
                  reduce_scatter_problem(input, output, op, world_size()));
  count(traffic_.reduce_scatter, input);
  reduce_scatter_impl(input, output, op);
}

void Communicator::all_gather_into(const torch::Tensor& input, torch::Tensor& output) {
  check_agreement("all_gather_into", input, 0, nullptr,
                  all_gather_into_problem(input, output, rank(), world_size()));
  count(traffic_.all_gather, output);
  all_gather_into_impl(input, output);
}

bool Communicator::gathers_in_place(const torch::Tensor& input, const torch::Tensor& output) const {
  return own_slice(input, output, rank());
}

void Communicator::reduce_scatter_impl(const torch::Tensor& input, torch::Tensor& output,
                                       ReduceOp op) {
  auto all = input.clone();
  all_reduce_impl(all, op);
  const int64_t n = output.numel();
  output.copy_(all.narrow(0, rank() * n, n));
}

void Communicator::all_gather_into_impl(const torch::Tensor& input, torch::Tensor& output) {
  const auto all = all_gather_impl(input).reshape({-1});  // [world_size() * n]
  if (!gathers_in_place(input, output)) {
    output.copy_(all);
    return;
  }
  // `input` is this rank's slice of `output`: copy the other ranks' parts around it.
  const int64_t n = input.numel(), mine = rank() * n, after = output.numel() - mine - n;
  output.narrow(0, 0, mine).copy_(all.narrow(0, 0, mine));
  output.narrow(0, mine + n, after).copy_(all.narrow(0, mine + n, after));
}

double Communicator::all_reduce(double value, ReduceOp op) {
  auto t = torch::full({1}, value, torch::TensorOptions(torch::kFloat64).device(device()));
  all_reduce(t, op);
  return t.item<double>();
}

int64_t Communicator::all_reduce(int64_t value, ReduceOp op) {
  auto t = torch::full({1}, value, torch::TensorOptions(torch::kInt64).device(device()));
  all_reduce(t, op);
  return t.item<int64_t>();
}

double Communicator::broadcast(double value, int root) {
  auto t = torch::full({1}, value, torch::TensorOptions(torch::kFloat64).device(device()));
  broadcast(t, root);
  return t.item<double>();
}

int64_t Communicator::broadcast(int64_t value, int root) {
  auto t = torch::full({1}, value, torch::TensorOptions(torch::kInt64).device(device()));
  broadcast(t, root);
  return t.item<int64_t>();
}

std::vector<double> Communicator::all_gather(double value) {
  auto t = all_gather(torch::full({1}, value, torch::TensorOptions(torch::kFloat64).device(device())))
               .cpu();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

std::vector<int64_t> Communicator::all_gather(int64_t value) {
  auto t = all_gather(torch::full({1}, value, torch::TensorOptions(torch::kInt64).device(device())))
               .cpu();
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

void Communicator::broadcast(std::string& text, int root) {
  const int64_t n = broadcast(static_cast<int64_t>(text.size()), root);
  auto bytes = torch::zeros({n}, torch::kUInt8);
  if (rank() == root && n > 0) std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), text.size());
  bytes = bytes.to(device());
  broadcast(bytes, root);
  bytes = bytes.cpu();
  text.assign(n > 0 ? reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()) : "",
              static_cast<size_t>(n));
}

std::vector<std::string> Communicator::all_gather(const std::string& text) {
  const auto lengths = all_gather(static_cast<int64_t>(text.size()));
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  auto bytes = torch::zeros({longest}, torch::kUInt8);
  if (!text.empty()) std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), text.size());
  auto all = all_gather(bytes.to(device())).cpu();  // [world, longest]
  std::vector<std::string> out;
  for (size_t r = 0; r < lengths.size(); ++r) {
    const auto* p = reinterpret_cast<const char*>(all.data_ptr<uint8_t>());
    out.push_back(lengths[r] ? std::string(p + r * static_cast<size_t>(longest),
                                           static_cast<size_t>(lengths[r]))
                             : std::string());
  }
  return out;
}

void Communicator::require_identical(const std::string& what, const std::string& text) {
  if (world_size() == 1) return;
  // Compare with rank 0's text everywhere; only on a difference find the first differing rank.
  std::string reference = text;
  broadcast(reference, 0);
  const int64_t differs = reference != text;
  const int64_t first = all_reduce(differs ? rank() : world_size(), ReduceOp::Min);
  if (first == world_size()) return;
  const int64_t count = all_reduce(differs, ReduceOp::Sum);
  std::string theirs = text;
  broadcast(theirs, static_cast<int>(first));

  const auto a = split_lines(reference), b = split_lines(theirs);
  size_t line = 0;
  while (line < a.size() && line < b.size() && a[line] == b[line]) ++line;
  auto quoted = [](const std::vector<std::string>& lines, size_t i) {
    return i < lines.size() ? "'" + lines[i] + "'" : std::string("nothing");
  };
  GDPO_THROW(UsageError, what << " differs across ranks: rank " << first << " has "
                              << quoted(b, line) << " where rank 0 has " << quoted(a, line)
                              << " (line " << line + 1 << ")"
                              << (count > 1 ? "; " + std::to_string(count) + " ranks differ from "
                                                                              "rank 0"
                                            : std::string()));
}

bool launched_by_mpi() {
  if (MpiRuntime::active()) return true;
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(var); v && *v) return true;
  if (const char* v = std::getenv("SLURM_STEP_NUM_TASKS"); v && std::atoi(v) > 1) return true;
  return false;
}

std::unique_ptr<Communicator> make_communicator(const std::string& backend) {
  std::string chosen = backend;
  if (chosen == "auto") chosen = launched_by_mpi() ? "mpi" : "single";
  if (chosen == "single") {
    log::set_rank(0, 1);
    return std::make_unique<SingleProcessCommunicator>();
  }
  if (chosen == "mpi") {
    MpiRuntime::process();
    return std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
  }
  if (chosen == "nccl") {
#if defined(GDPO_CUDA)
    // Checked before MPI starts: the same answer on every rank of a node.
    const int devices = static_cast<int>(torch::cuda::device_count());
    if (devices == 0) {
      GDPO_THROW(UsageError, "--dist.backend nccl needs a CUDA device, and "
                             "torch::cuda::device_count() is 0 ("
#if defined(GDPO_TORCH_CUDA)
                             "no GPU is visible: check CUDA_VISIBLE_DEVICES and the driver"
#else
                             "this LibTorch has no CUDA: configure with CMAKE_PREFIX_PATH at a "
                             "CUDA LibTorch"
#endif
                             "); use --dist.backend mpi");
    }
    MpiRuntime::process();
    auto mpi = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
    if (mpi->local_size() > devices) {
      GDPO_THROW(UsageError, "--dist.backend nccl needs one CUDA device per rank, but this node "
                             "runs " << mpi->local_size() << " ranks and LibTorch sees "
                                     << devices << " CUDA device" << (devices == 1 ? "" : "s")
                                     << " (start at most " << devices
                                     << " ranks per node, or use --dist.backend mpi)");
    }
    const int device = mpi->local_rank();
    return std::make_unique<NcclCommunicator>(std::move(mpi), device);
#else
    GDPO_THROW(UsageError, "--dist.backend nccl: this gdpo was built without NCCL (configure with "
                           "-DGDPO_CUDA=ON or AUTO, with the CUDA toolkit and NCCL installed: "
                           "NCCL_INCLUDE_DIR, NCCL_LIBRARY); use --dist.backend mpi");
#endif
  }
  GDPO_THROW(UsageError, "unknown distributed backend '"
                             << backend << "' (expected auto, mpi, single or nccl)");
}

}  // namespace gdpo::dist
