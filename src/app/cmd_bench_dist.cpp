// `gdpo bench dist`: a cluster sanity check. Prints where every rank runs, checks all-reduce
// (every op and dtype), all-gather, broadcast and that every rank has the same configuration against
// hand-computable values, then times a float32 all-reduce. `--dist.fail-rank R` makes rank R fail,
// which shows that one failing rank ends the whole job instead of hanging it.
#include <unistd.h>

#include <iostream>
#include <set>

#include "command.hpp"
#include "gdpo/app/options.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/core/version.hpp"
#include "gdpo/dist/communicator.hpp"

namespace gdpo::app {
namespace {

using gdpo::dist::Communicator;
using gdpo::dist::ReduceOp;

struct Options {
  std::string backend = "auto";
  int fail_rank = -1;
  std::string fail_how = "throw";
  double size_mb = 64;
  int iters = 10;
};

[[noreturn]] void fail_on_purpose(int rank) {
  GDPO_THROW(gdpo::Error, "bench dist: rank " << rank << " fails on purpose (--dist.fail-rank "
                                              << rank << ")");
}

// Runs the checks; every rank returns the number of failed checks.
int check_collectives(Communicator& comm) {
  const int W = comm.world_size(), r = comm.rank();
  int failed = 0;
  auto report = [&](const std::string& name, bool ok) {
    const int64_t bad = comm.all_reduce(static_cast<int64_t>(!ok), ReduceOp::Sum);
    if (comm.is_root())
      std::cout << "  " << name << ": " << (bad ? "FAILED on " + std::to_string(bad) + " ranks" : "ok")
                << std::endl;
    failed += bad > 0;
  };

  // Rank r contributes [r + 1, 10 (r + 1)]: the sum is S [1, 10] with S = W (W + 1) / 2.
  const double S = W * (W + 1) / 2.0;
  const std::pair<torch::ScalarType, const char*> dtypes[] = {
      {torch::kFloat32, "float32"},   {torch::kFloat64, "float64"}, {torch::kBFloat16, "bfloat16"},
      {torch::kFloat16, "float16"}, {torch::kInt32, "int32"},     {torch::kInt64, "int64"}};
  for (const auto& [dtype, dtype_name] : dtypes) {
    const auto opts = torch::TensorOptions(torch::kFloat64);
    const auto mine = torch::tensor({r + 1.0, 10.0 * (r + 1)}, opts);
    const std::vector<std::pair<ReduceOp, torch::Tensor>> cases = {
        {ReduceOp::Sum, torch::tensor({S, 10 * S}, opts)},
        {ReduceOp::Mean, torch::tensor({S / W, 10 * S / W}, opts)},
        {ReduceOp::Max, torch::tensor({1.0 * W, 10.0 * W}, opts)},
        {ReduceOp::Min, torch::tensor({1.0, 10.0}, opts)}};
    bool ok = true;
    std::string ops;
    for (const auto& [op, expected] : cases) {
      if (op == ReduceOp::Mean && !c10::isFloatingType(dtype)) continue;
      auto t = mine.to(dtype, /*non_blocking=*/false, /*copy=*/true);
      comm.all_reduce(t, op);
      ok = ok && torch::equal(t, expected.to(dtype));
      ops += std::string(ops.empty() ? "" : "/") + gdpo::dist::reduce_op_name(op);
    }
    report(std::string("all_reduce ") + dtype_name + " " + ops, ok);
  }

  // Row r of the gather is [r, -r]; rank W - 1 broadcasts [42, 7].
  auto gathered = comm.all_gather(torch::tensor({1.0f * r, -1.0f * r}));
  auto rows = torch::arange(W, torch::kFloat32);
  report("all_gather", torch::equal(gathered, torch::stack({rows, -rows}, 1)));
  auto b = r == W - 1 ? torch::tensor({42, 7}, torch::kInt64) : torch::zeros({2}, torch::kInt64);
  comm.broadcast(b, W - 1);
  report("broadcast from rank " + std::to_string(W - 1),
         torch::equal(b, torch::tensor({42, 7}, torch::kInt64)));
  return failed;
}

}  // namespace

int cmd_bench_dist(const Args& args) {
  Options o;
  OptionSet set("gdpo bench dist",
                "check the distributed setup: ranks, hosts, collectives, all-reduce bandwidth");
  set.group("dist")
      .add("backend", &o.backend,
           "auto (MPI when launched by mpiexec/srun) | mpi | single | nccl (a GPU per rank; "
           "GDPO_CUDA builds)")
      .add("fail-rank", &o.fail_rank, "make this rank fail (tests that the job aborts); -1: none")
      .add("fail-how", &o.fail_how, "how --dist.fail-rank fails: throw | terminate")
      .add("size-mb", &o.size_mb, "MiB of float32 per rank for the all-reduce bandwidth test")
      .add("iters", &o.iters, "timed all-reduce iterations");
  set.validate([&] {
    if (o.backend != "auto" && o.backend != "mpi" && o.backend != "single" && o.backend != "nccl")
      GDPO_THROW(gdpo::UsageError, "--dist.backend '" << o.backend
                                                      << "' is not auto, mpi, single or nccl");
    if (o.fail_how != "throw" && o.fail_how != "terminate")
      GDPO_THROW(gdpo::UsageError, "--dist.fail-how '" << o.fail_how
                                                       << "' is not throw or terminate");
    if (!(o.size_mb > 0) || o.size_mb > 65536)
      GDPO_THROW(gdpo::UsageError, "--dist.size-mb " << o.size_mb << " is not in (0, 65536]");
    if (o.iters < 1) GDPO_THROW(gdpo::UsageError, "--dist.iters " << o.iters << " is not >= 1");
    if (o.fail_rank < -1)
      GDPO_THROW(gdpo::UsageError, "--dist.fail-rank " << o.fail_rank << " is not a rank or -1");
  });
  if (!set.parse(args)) return gdpo::kExitOk;

  auto comm = gdpo::dist::make_communicator(o.backend);
  const int W = comm->world_size();
  if (o.fail_rank >= W)
    GDPO_THROW(gdpo::UsageError, "--dist.fail-rank " << o.fail_rank << " is not a rank of the "
                                                     << W << "-rank world");

  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const auto hosts = comm->all_gather(std::string(host));
  const auto local = comm->all_gather(static_cast<int64_t>(comm->local_rank()));
  const auto pids = comm->all_gather(static_cast<int64_t>(getpid()));
  if (comm->is_root()) {
    const size_t nodes = std::set<std::string>(hosts.begin(), hosts.end()).size();
    std::cout << "gdpo bench dist: " << gdpo::build_description() << "\nbackend " << comm->backend()
              << ", " << W << (W == 1 ? " rank" : " ranks") << " on " << nodes
              << (nodes == 1 ? " host" : " hosts") << "\n";
    for (int r = 0; r < W; ++r)
      std::cout << "  rank " << r << ": local rank " << local[r] << ", host " << hosts[r]
                << ", pid " << pids[r] << "\n";
    std::cout << "checks:" << std::endl;
  }

  if (comm->rank() == o.fail_rank) {
    if (o.fail_how == "terminate") {
      [&]() noexcept { fail_on_purpose(o.fail_rank); }();  // an exception escaping noexcept
    }
    fail_on_purpose(o.fail_rank);  // the other ranks wait in the next collective meanwhile
  }

  int failed = check_collectives(*comm);
  comm->require_identical("the configuration", set.effective_config() + gdpo::version());
  if (comm->is_root()) std::cout << "  configuration identical on every rank: ok" << std::endl;

  // All-reduce bandwidth (bus bandwidth: what each link carries in a ring, 2 (W - 1) / W x size).
  const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(o.size_mb * (1 << 20) / 4));
  auto buffer = torch::zeros({n}, torch::kFloat32);
  for (int i = 0; i < 2; ++i) comm->all_reduce(buffer, ReduceOp::Sum);  // warm-up
  comm->barrier();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < o.iters; ++i) comm->all_reduce(buffer, ReduceOp::Sum);
  const double mine = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double seconds = comm->all_reduce(mine, ReduceOp::Max) / o.iters;
  if (comm->is_root()) {
    const double bytes = 4.0 * static_cast<double>(n);
    const double algbw = bytes / seconds / 1e9;
    if (W == 1) {
      std::cout << "all_reduce bandwidth: not measured (one rank: nothing moves)\n";
    } else {
      char line[200];
      std::snprintf(line, sizeof line,
                    "all_reduce float32 %.1f MiB x %d: %.3f ms each, algbw %.2f GB/s, busbw %.2f "
                    "GB/s\n",
                    bytes / (1 << 20), o.iters, seconds * 1e3, algbw, algbw * 2.0 * (W - 1) / W);
      std::cout << line;
    }
    std::cout << (failed ? "bench dist: FAILED checks: " + std::to_string(failed)
                         : std::string("bench dist: all checks passed"))
              << std::endl;
  }
  return failed ? gdpo::kExitFailure : gdpo::kExitOk;
}

}  // namespace gdpo::app
