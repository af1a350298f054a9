// Training checkpoints in HDF5: policy weights (Hugging Face names), optimizer state, every RNG
// state, the data cursor, trainer counters and best metric, the configuration and a format version,
// as one file or sharded over the ranks (checkpoint_shards.hpp). Files are written atomically
// (temporary name, fsync, rename) and then named by a `latest` pointer.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gdpo/data/sampler.hpp"
#include "gdpo/model/causal_lm.hpp"
#include "gdpo/train/optimizer.hpp"

namespace gdpo::train {

// 2: + last_eval_step, threads (a version-1 file reads as -1 and 0: unknown).
// 3: + layout ("single" or "sharded": a manifest of per-rank shard files, checkpoint_shards.hpp);
//    version 1 and 2 files read as single files.
inline constexpr int64_t kCheckpointFormatVersion = 3;

// Everything besides weights and optimizer state that a resumed run needs to continue exactly.
struct TrainerState {
  int64_t step = 0;      // optimizer steps taken
  int64_t examples = 0;  // training pairs consumed (all ranks)
  data::SamplerCursor cursor;
  int64_t dataset_size = 0;  // training pairs, to validate the cursor on resume
  int64_t world_size = 1;    // ranks that wrote it: a resume with others is warned (not bitwise)
  int64_t threads = 0;       // CPU threads per rank that wrote it (0: unknown), likewise
  double best_metric = std::numeric_limits<double>::quiet_NaN();
  int64_t best_step = -1;
  int64_t evals_without_improvement = 0;
  int64_t evaluations = 0;
  int64_t last_eval_step = -1;  // the step of the newest evaluation (-1: none yet)
  bool stopped_early = false;
};

// What a checkpoint file holds, for writing and reading.
struct CheckpointContent {
  TrainerState state;
  std::string config_ini;             // the run's effective configuration
  std::string model_config_json;      // the policy's config.json (Hugging Face keys)
  std::string reference_fingerprint;  // the reference model's weights fingerprint
};

// Writes `path` atomically: /policy/<hf name>, /optimizer/<state name>, /rng/torch_cpu, the
// attributes of `content` and format = "gdpo-checkpoint", format_version, layout = "single".
void save_checkpoint(const std::string& path, const model::CausalLM& policy,
                     const Optimizer& optimizer, const CheckpointContent& content);

// Reads `path` (a single file or a sharded checkpoint's manifest, through CheckpointTensors) into
// the whole `policy` and `optimizer` (either may be null to skip it) and restores the torch CPU
// RNG: a checkpoint sharded over any number of ranks loads as a single file does. Tensors are
// converted to the current tensor's dtype when both are floating point. Missing or misshapen
// tensors, missing shard files and foreign or newer files are InputErrors naming the file and the
// tensor or shard.
CheckpointContent load_checkpoint(const std::string& path, model::CausalLM* policy,
                                  Optimizer* optimizer);

// Reads only the counters and strings (for `gdpo inspect` and resume decisions); for a sharded
// checkpoint it also checks that every shard file exists (InputError naming the missing one), so
// that find_latest() skips a checkpoint whose shards are gone.
CheckpointContent read_checkpoint_info(const std::string& path);

// The checkpoints of a run directory: <run>/checkpoints/step-<8 digits>.h5 (with, when sharded, its
// step-<8 digits>.shards/ folder), a `latest` pointer and a `best` pointer (text files naming the
// checkpoint), keep-last-K pruning that never removes the best.
//
// A sharded save (ZeRO), in this order:
//   1. every rank:  save_checkpoint_shard(dir.path_for_step(step), rank, world, its pieces);
//   2. barrier;
//   3. rank 0:      dir.commit_sharded(world, optimizer.kind(), its step count, content, ...);
//   4. barrier (so that no rank starts the next save while rank 0 prunes).
// A kill at any point leaves the previous `latest` intact: shards go to the new step's own folder,
// the manifest is renamed into place only once every shard is complete, and `latest` moves after
// it. A .shards folder without its manifest (a killed attempt) is ignored by list()/find_latest()
// and removed by the next save's pruning. Never re-save the step `latest` names.
class CheckpointDirectory {
 public:
  explicit CheckpointDirectory(std::string run_dir);

  // "<run>/checkpoints/step-00000042.h5".
  std::string path_for_step(int64_t step) const;
  // Saves a checkpoint for content.state.step, points `latest` at it (and `best` when is_best),
  // then prunes all but the newest keep_last (and the best). Returns the path.
  std::string save(const model::CausalLM& policy, const Optimizer& optimizer,
                   const CheckpointContent& content, bool is_best, int64_t keep_last);
  // Rank 0 of a sharded save (see above): writes the manifest for content.state.step over the
  // shards every rank wrote (save_sharded_manifest), then points `latest` (and `best`) at it and
  // prunes as save() does. Returns the path.
  std::string commit_sharded(int world, const std::string& optimizer_kind, int64_t optimizer_step,
                             const CheckpointContent& content, bool is_best, int64_t keep_last);
  // Points `best` at an existing checkpoint.
  void mark_best(const std::string& checkpoint_path);

  // The newest complete checkpoint: `latest` if it reads, else the newest step-*.h5 that reads
  // (each unreadable one is reported with log::warn and skipped). nullopt when there is none.
  std::optional<std::string> find_latest() const;
  // The checkpoint `best` names, if it exists.
  std::optional<std::string> find_best() const;
  // step-*.h5 files (single files and manifests), oldest first.
  std::vector<std::string> list() const;

  const std::string& run_dir() const { return run_dir_; }

 private:
  std::optional<std::string> read_pointer(const std::string& name) const;
  // After a checkpoint was written at `path`: moves `latest` (and `best`), prunes.
  void finish_save(const std::string& path, bool is_best, int64_t keep_last);
  // Removes all but the newest keep_last checkpoints (never the best) with their .shards folders,
  // and .shards folders whose manifest does not exist.
  void prune(int64_t keep_last);
  std::string run_dir_;
  std::string dir_;
};

}  // namespace gdpo::train
