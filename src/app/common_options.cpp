#include "common_options.hpp"

#include <torch/torch.h>

#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "gdpo/core/error.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/core/run_context.hpp"

namespace gdpo::app {

void CommonOptions::bind(OptionSet& set) {
  set.group("log", "Logging [log]")
      .add("level", &log_level, "debug | info | warn | error")
      .flag("all-ranks", &log_all_ranks, "print info lines from every rank, not just rank 0");
  set.group("dist", "Parallel runs [dist]")
      .add("backend", &backend,
           "auto (MPI when started by mpiexec/srun) | mpi | single | nccl (a GPU per rank; "
           "GDPO_CUDA builds)")
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
  if (n == 0 && std::getenv("OMP_NUM_THREADS")) {
    n = torch::get_num_threads();  // the user's choice; LibTorch already honours it
  } else if (n == 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    n = std::max(1, cores / std::max(1, local_size));
  }
  torch::set_num_threads(n);
  // OpenBLAS (LibTorch's BLAS on Debian) keeps a pool of its own, sized from the CPU affinity mask
  // unless told; looked up at run time, as the BLAS behind libblas.so.3 is the system's choice.
  using SetThreads = void (*)(int);
  using GetThreads = int (*)();
  auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get_blas = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (set_blas) set_blas(n);
  cpu_set_t mask;
  CPU_ZERO(&mask);
  const int bound = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : -1;
  log::info("threads per rank: ", n, " (LibTorch ", torch::get_num_threads(), ", OpenBLAS ",
            get_blas ? std::to_string(get_blas()) : std::string("not loaded"), "); ", local_size,
            " rank(s) on a node of ", std::thread::hardware_concurrency(),
            " CPUs; rank 0's affinity: ", bound, " CPU(s)",
            n > bound && bound > 0 ? " (fewer than its threads: oversubscribed)" : "");
  const std::string slurm = slurm_context([](const char* name) { return std::getenv(name); },
                                          {log::rank(), log::world_size(), local_size});
  if (!slurm.empty()) log::info(slurm);
}

}  // namespace gdpo::app
