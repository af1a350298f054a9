// The state of a pipeline directory written by jobs/*.sh (jobs/lib/pipeline.sh): stages.txt lists
// the stages of the last submitted configuration; each has `<group>/<name>-<hash>/stage.json`,
// updated by the submitter (waiting) and by the stage's batch shell (running, requeued, stopped,
// done, failed). `gdpo inspect <pipeline directory>` prints it.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace gdpo::app {

// One stage as its state file last recorded it.
struct StageStatus {
  std::string group;  // data, sft, judge, train, generate, evaluate, tables
  std::string name;   // the stage directory's name: "<what>-<configuration hash>"
  // planned (no state file yet) | waiting | running | requeued | stopped | done | failed
  std::string state;
  std::string job;    // Slurm job (array) id; "" when run with --local
  std::string array_task;
  int64_t restarts = 0;
  std::string exit_code;  // "" while it has none
  std::string host;
  std::string updated;    // UTC, ISO 8601
};

// True when `path` is a folder holding a pipeline's tasks/ and logs/ folders.
bool is_pipeline_directory(const std::string& path);

// The stages of the pipeline at `path` in stages.txt's order; without stages.txt every stage
// directory, in pipeline order (data, sft, judge, train, generate, evaluate, tables; by name).
// `superseded` (optional) receives the number of stage directories of other configurations. A state
// file that is not the expected JSON object is an InputError naming it.
std::vector<StageStatus> read_pipeline(const std::string& path, int64_t* superseded = nullptr);

// The table of stages, a count per state, the result file when there is one, and what to do next.
void describe_pipeline(const std::string& path, std::ostream& os);

}  // namespace gdpo::app
