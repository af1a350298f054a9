// Options most commands share: [log] (level, every rank) and [dist] (backend, CPU threads), and
// applying them once the communicator is known.
#pragma once
#include <string>

#include "gdpo/app/options.hpp"

namespace gdpo::app {

struct CommonOptions {
  std::string log_level = "info";  // debug | info | warn | error
  bool log_all_ranks = false;      // info lines from every rank, not just rank 0
  std::string backend = "auto";    // auto | mpi | single
  int threads = 0;                 // CPU threads per rank (0: cores / ranks on this node)

  void bind(OptionSet& set);
  // Applies the log settings and sets every CPU thread pool (LibTorch's OpenMP pool and OpenBLAS's
  // own) to one count for a rank sharing the node with `local_size` ranks: --dist.threads, else
  // OMP_NUM_THREADS, else the node's cores / local_size. The count never depends on the launcher's
  // CPU binding (OpenBLAS would size its pool from the affinity mask), so bound mpiexec, unbound
  // mpiexec and srun compute the same sums in the same order. Logs the layout (rank 0), and under
  // Slurm the job, array task, restart count, step and rank layout (core/run_context.hpp).
  void apply(int local_size) const;
};

}  // namespace gdpo::app
