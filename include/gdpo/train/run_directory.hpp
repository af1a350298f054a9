// The files of a training run directory in one place: what each is, and the clean-up of what a
// killed writer leaves behind. Rank 0 writes every file, each atomically (io::AtomicFile, or
// io::AtomicDirectory for model/), so a kill leaves the previous version plus a hidden temporary.
//
//   file                          what                                       written
//   config.ini                    the effective configuration                at start (not by a
//                                                                            resubmitted finished run)
//   metrics.h5 (+ .lock)          metric history (io::MetricLog); the lock  appended every step and
//                                 makes a second writer of the run fail      evaluation
//   reference_{train,eval}.h5     cached reference log-probs                 once per weights + data
//   checkpoints/step-<N>.h5       checkpoints (CheckpointDirectory)          every save
//   latest, best                  one line: the checkpoint file's name       with each save
//   model/                        the exported Hugging Face folder           at the end, swapped in whole
//   summary.json                  final counters and eval; written last,    at the end
//                                 so it marks the run complete (is_complete)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gdpo::train {

class RunDirectory {
 public:
  explicit RunDirectory(std::string root);

  const std::string& root() const { return root_; }
  std::string config_ini() const;
  std::string metrics() const;
  std::string reference(const std::string& split) const;  // "train" | "eval"
  std::string checkpoints() const;
  std::string model() const;
  std::string summary() const;

  // True when summary.json exists, parses, and records step `step` and model/ holds a config.json:
  // the run finished at that step (the summary is written after the model).
  bool is_complete(int64_t step) const;

  // Removes every temporary a killed writer of this run can leave: ".<name>.tmp.<pid>.<n>" (and the
  // ".<name>.old.<pid>.<n>" of a folder swap) of each file above, in the run folder, checkpoints/
  // and model/. Other files are never touched. Call on one rank, before this run writes anything
  // (another process writing the same run holds metrics.h5's lock). Returns the paths removed.
  std::vector<std::string> remove_stale_temporaries() const;

 private:
  std::string root_;
};

}  // namespace gdpo::train
