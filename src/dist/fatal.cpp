#include "gdpo/dist/fatal.hpp"

#include <mpi.h>

#include <cstdio>

namespace gdpo::dist {

void abort_world_if_distributed(int exit_code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (world <= 1) return;
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, exit_code == 0 ? 1 : exit_code);
}

}  // namespace gdpo::dist
