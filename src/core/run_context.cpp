#include "gdpo/core/run_context.hpp"

namespace gdpo {

std::string slurm_context(const EnvLookup& getenv, const RankLayout& layout) {
  auto get = [&](const char* name) -> std::string {
    const char* v = getenv(name);
    return v ? std::string(v) : std::string();
  };
  const std::string job = get("SLURM_JOB_ID");
  if (job.empty()) return "";
  std::string out = "slurm: job " + job;
  auto part = [&](const char* label, const std::string& value) {
    if (!value.empty()) out += std::string(" ") + label + " " + value;
  };
  const std::string array_job = get("SLURM_ARRAY_JOB_ID"), array_task = get("SLURM_ARRAY_TASK_ID");
  if (!array_job.empty() && !array_task.empty()) part("array", array_job + "_" + array_task);
  part("restart", get("SLURM_RESTART_COUNT"));
  part("step", get("SLURM_STEP_ID"));
  part("nodes", get("SLURM_JOB_NUM_NODES"));
  const std::string tasks = get("SLURM_NTASKS");
  part("tasks", tasks);
  part("on", get("SLURMD_NODENAME"));
  out += "; rank " + std::to_string(layout.rank) + " of " + std::to_string(layout.world_size) +
         ", " + std::to_string(layout.local_size) + " on this node";
  std::string local = get("OMPI_COMM_WORLD_LOCAL_RANK");
  if (local.empty()) local = get("SLURM_LOCALID");
  if (!local.empty()) out += " (local rank " + local + ")";
  if (!tasks.empty() && tasks != std::to_string(layout.world_size))
    out += std::string(" (not the job's ") + tasks + " tasks" +
           (layout.world_size == 1 ? ": started without srun or mpiexec?" : "") + ")";
  return out;
}

}  // namespace gdpo
