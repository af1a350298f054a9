// The batch system's view of a run, logged by every command at start: the Slurm job (id, array
// task, restart count, step, nodes, tasks, node) and the rank layout the run has inside it. A pure
// function of an environment lookup, so that it is tested on hand-written environments.
#pragma once
#include <functional>
#include <string>

namespace gdpo {

// A variable's value, or nullptr when it is unset (std::getenv, or a map in tests).
using EnvLookup = std::function<const char*(const char*)>;

// Where this process sits among the ranks (from the communicator).
struct RankLayout {
  int rank = 0;
  int world_size = 1;
  int local_size = 1;  // ranks on this node
};

// One line, "" unless SLURM_JOB_ID is set (an empty value counts as unset), e.g.
//   slurm: job 4243 array 4242_1 restart 2 step 0 nodes 2 tasks 8 on gpu17; rank 0 of 8, 4 on this
//   node (local rank 0)
// Each part only when its variables are: array SLURM_ARRAY_JOB_ID _ SLURM_ARRAY_TASK_ID (both),
// restart SLURM_RESTART_COUNT, step SLURM_STEP_ID, nodes SLURM_JOB_NUM_NODES, tasks SLURM_NTASKS,
// on SLURMD_NODENAME; the local rank from OMPI_COMM_WORLD_LOCAL_RANK, else SLURM_LOCALID. A world
// that is not SLURM_NTASKS ranks is pointed out (a command started without srun or mpiexec in a
// many-task job runs alone).
std::string slurm_context(const EnvLookup& getenv, const RankLayout& layout);

}  // namespace gdpo
