#include "common_options.hpp"

#include <torch/torch.h>

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "gdpo/core/error.hpp"
#include "gdpo/core/log.hpp"

namespace gdpo::app {

void CommonOptions::bind(OptionSet& set) {
  set.group("log", "Logging [log]")
      .add("level", &log_level, "debug | info | warn | error")
      .flag("all-ranks", &log_all_ranks, "print info lines from every rank, not just rank 0");
  set.group("dist", "Parallel runs [dist]")
      .add("backend", &backend, "auto (MPI when started by mpiexec/srun) | mpi | single")
      .add("threads", &threads, "CPU threads per rank (0: the node's cores / its ranks)");
  set.validate([this] {
    log::parse_level(log_level);
    if (threads < 0) throw UsageError("--dist.threads must be >= 0");
  });
}

void CommonOptions::apply(int local_size) const {
  // Keep large tensor buffers (logit chunks, gradients) in the heap instead of mmapping and
  // unmapping them every step: page faults cost ~30% of a CPU training step otherwise.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  auto s = log::settings();
  s.level = log::parse_level(log_level);
  s.all_ranks = log_all_ranks;
  log::configure(s);
  int n = threads;
  if (n == 0) {
    // OMP_NUM_THREADS, when set, is the user's choice (LibTorch already honours it).
    if (std::getenv("OMP_NUM_THREADS")) return;
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    n = std::max(1, cores / std::max(1, local_size));
  }
  torch::set_num_threads(n);
}

}  // namespace gdpo::app
