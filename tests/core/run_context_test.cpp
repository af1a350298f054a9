// The Slurm line every command logs at start, on hand-written environments (no Slurm needed):
// nothing outside a job, each part only when its variables are set, the local rank from Open MPI
// before Slurm, and a world that is not the job's task count pointed out.
#include "gdpo/core/run_context.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace gdpo {
namespace {

// A lookup over `vars` (nullptr for the others), as std::getenv answers.
EnvLookup env(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(SlurmContext, NothingOutsideAJob) {
  EXPECT_EQ(slurm_context(env({}), {}), "");
  EXPECT_EQ(slurm_context(env({{"SLURM_JOB_ID", ""}, {"SLURM_NTASKS", "4"}}), {}), "");
  // Open MPI's own variables alone are not a Slurm job.
  EXPECT_EQ(slurm_context(env({{"OMPI_COMM_WORLD_LOCAL_RANK", "1"}}), {1, 2, 2}), "");
}

TEST(SlurmContext, AnArrayTaskRequeuedUnderSrun) {
  const auto vars = env({{"SLURM_JOB_ID", "4243"},
                         {"SLURM_ARRAY_JOB_ID", "4242"},
                         {"SLURM_ARRAY_TASK_ID", "1"},
                         {"SLURM_RESTART_COUNT", "2"},
                         {"SLURM_STEP_ID", "0"},
                         {"SLURM_JOB_NUM_NODES", "2"},
                         {"SLURM_NTASKS", "8"},
                         {"SLURMD_NODENAME", "gpu17"},
                         {"SLURM_LOCALID", "3"}});
  EXPECT_EQ(slurm_context(vars, {7, 8, 4}),
            "slurm: job 4243 array 4242_1 restart 2 step 0 nodes 2 tasks 8 on gpu17; rank 7 of 8, "
            "4 on this node (local rank 3)");
}

TEST(SlurmContext, OnlyTheJobId) {
  EXPECT_EQ(slurm_context(env({{"SLURM_JOB_ID", "17"}}), {}),
            "slurm: job 17; rank 0 of 1, 1 on this node");
}

TEST(SlurmContext, AnArrayNeedsBothItsVariables) {
  EXPECT_EQ(slurm_context(env({{"SLURM_JOB_ID", "17"}, {"SLURM_ARRAY_JOB_ID", "16"}}), {}),
            "slurm: job 17; rank 0 of 1, 1 on this node");
  EXPECT_EQ(slurm_context(env({{"SLURM_JOB_ID", "17"}, {"SLURM_ARRAY_TASK_ID", "0"}}), {}),
            "slurm: job 17; rank 0 of 1, 1 on this node");
  // Empty values count as unset, as for SLURM_JOB_ID.
  EXPECT_EQ(slurm_context(env({{"SLURM_JOB_ID", "17"}, {"SLURM_RESTART_COUNT", ""}}), {}),
            "slurm: job 17; rank 0 of 1, 1 on this node");
}

TEST(SlurmContext, OpenMpisLocalRankComesBeforeSlurms) {
  const auto both = env({{"SLURM_JOB_ID", "5"},
                         {"SLURM_NTASKS", "2"},
                         {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                         {"SLURM_LOCALID", "0"}});
  EXPECT_EQ(slurm_context(both, {1, 2, 2}),
            "slurm: job 5 tasks 2; rank 1 of 2, 2 on this node (local rank 1)");
}

TEST(SlurmContext, AWorldThatIsNotTheJobsTasksIsPointedOut) {
  // gdpo started in the batch shell of an 8-task job without srun or mpiexec: it runs alone.
  EXPECT_EQ(slurm_context(env({{"SLURM_JOB_ID", "9"}, {"SLURM_NTASKS", "8"}}), {}),
            "slurm: job 9 tasks 8; rank 0 of 1, 1 on this node (not the job's 8 tasks: started "
            "without srun or mpiexec?)");
  EXPECT_EQ(slurm_context(env({{"SLURM_JOB_ID", "9"}, {"SLURM_NTASKS", "8"}}), {0, 2, 2}),
            "slurm: job 9 tasks 8; rank 0 of 2, 2 on this node (not the job's 8 tasks)");
}

}  // namespace
}  // namespace gdpo
