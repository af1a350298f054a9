// Summaries of training outputs for `gdpo inspect`: a run directory (configuration, evaluation
// history, checkpoints, final metrics), a checkpoint file, and several runs side by side.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace gdpo::train {

// True when `dir` looks like a `gdpo train` run directory (config.ini or checkpoints/).
bool is_run_directory(const std::string& dir);
// True when `path` is an HDF5 file written by save_checkpoint().
bool is_checkpoint_file(const std::string& path);

void describe_run(const std::string& run_dir, std::ostream& out);
void describe_checkpoint(const std::string& path, std::ostream& out);
// One row per run: objective, steps, which weights were exported, and their final evaluation
// (summary.json).
void compare_runs(const std::vector<std::string>& run_dirs, std::ostream& out);

}  // namespace gdpo::train
