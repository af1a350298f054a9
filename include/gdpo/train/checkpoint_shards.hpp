// Sharded checkpoints (ZeRO stages 1-3): every rank writes the slices of the tensors it owns to a
// file of its own and rank 0 merges them with a manifest; CheckpointTensors reads a whole tensor or
// a range of it from a sharded or a single-file checkpoint, whatever the number of ranks that wrote
// it.
//
// The format (checkpoint format_version 3), independent of the sharding layout: tensors keep their
// logical names and shapes, and a piece is a range of the row-major flattened tensor.
//
//   <dir>/step-00000042.h5                               the manifest (rank 0, written last)
//   <dir>/step-00000042.shards/rank-00001-of-00004.h5    rank 1's pieces (one file per rank)
//
// A shard file: root attributes format = "gdpo-checkpoint-shard", format_version, rank, world and
// checkpoint (the manifest's file name). Each piece is a 1-D dataset "<name>@<offset>", e.g.
// "policy/transformer.wte.weight@5120" or "optimizer/exp_avg/transformer.wte.weight@0": elements
// [offset, offset + n) of the flattened tensor <name>, in the tensor's dtype (bf16 stays bf16),
// with attributes shape (int64 array: the whole tensor's shape) and offset (int64). A file may hold
// several pieces of one tensor; a tensor may lie wholly in one file.
//
// The manifest: everything a single-file checkpoint holds except the tensors' data (attributes
// format = "gdpo-checkpoint", format_version, step, examples, ..., optimizer = <kind>; datasets
// config_ini, model_config_json, rng/torch_cpu), plus attributes layout = "sharded",
// shard_count = W and optimizer_step (the optimizer's step count: the "optimizer/step" tensor of a
// single file). Every tensor appears at its name ("policy/<hf name>", "optimizer/<slot>/<hf name>")
// as a dataset of the full shape and dtype that stores no data (io::H5File::declare_tensor: h5ls
// and `gdpo inspect` see names and shapes; reading it is an error), with attribute pieces = int64
// [rank, offset, count, rank, offset, count, ...] sorted by offset. Single files of version 3 carry
// layout = "single"; older ones have no layout attribute and read as single files.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/train/checkpoint.hpp"

namespace gdpo::train {

// A piece of a logical tensor.
struct TensorPiece {
  std::string name;            // "policy/<hf name>" or "optimizer/<slot>/<hf name>"
  std::vector<int64_t> shape;  // the full tensor's shape
  int64_t offset = 0;          // first element of the piece in the flattened (row-major) tensor
  torch::Tensor values;        // 1-D, contiguous: elements [offset, offset + numel)
};

// "<dir>/step-00000042.shards" for checkpoint "<dir>/step-00000042.h5".
std::string shards_directory(const std::string& checkpoint_path);
// "<dir>/step-00000042.shards/rank-00001-of-00002.h5" for checkpoint "<dir>/step-00000042.h5".
std::string shard_file_path(const std::string& checkpoint_path, int rank, int world);

// Every rank: writes its pieces to shard_file_path(checkpoint_path, rank, world) atomically
// (temporary + rename, creating the .shards folder; a file left by an earlier, killed attempt is
// replaced). Rank 0 first removes a manifest left at checkpoint_path by such an attempt, so that no
// manifest names shards of two attempts. Pieces must be 1-D, lie within their tensor, not overlap
// within this file, and be named policy/... or optimizer/... (not optimizer/step: the manifest
// holds the step count); gdpo::Error otherwise (a caller's bug).
void save_checkpoint_shard(const std::string& checkpoint_path, int rank, int world,
                           const std::vector<TensorPiece>& pieces);

// Rank 0, after every rank's save_checkpoint_shard returned (the caller's barrier): opens every
// shard file and checks that the pieces of every tensor cover it exactly, with one shape and dtype
// everywhere (InputError naming the checkpoint, the tensor and the missing or doubly held element
// range, or the shard file that is missing or unreadable); removes other files of the .shards
// folder (temporaries of killed writers, shards of an attempt with another world size); then
// writes the manifest atomically at checkpoint_path, with the torch CPU RNG state of this process.
void save_sharded_manifest(const std::string& checkpoint_path, int world,
                           const std::string& optimizer_kind, int64_t optimizer_step,
                           const CheckpointContent& content);

// The tensors of a checkpoint, single file or manifest + shards: names, shapes, whole tensors and
// element ranges. Shard files are opened on first use and kept open (not thread-safe). Errors about
// the files are InputErrors naming the checkpoint and the tensor or shard file: a shard that is
// missing ("checkpoint '.../step-00000004.h5': shard 'rank-00001-of-00002.h5' is missing") is
// reported by the constructor already.
class CheckpointTensors {
 public:
  explicit CheckpointTensors(const std::string& checkpoint_path);
  ~CheckpointTensors();
  CheckpointTensors(CheckpointTensors&&) noexcept;
  CheckpointTensors& operator=(CheckpointTensors&&) noexcept;

  const std::string& path() const;
  bool sharded() const;
  // The manifest's shard_count (1 for a single file).
  int shard_count() const;
  bool has(const std::string& name) const;
  // Every tensor name ("policy/...", "optimizer/...", including "optimizer/step"), sorted.
  std::vector<std::string> names() const;
  std::vector<int64_t> shape(const std::string& name) const;
  // The stored dtype.
  torch::ScalarType dtype(const std::string& name) const;
  std::string optimizer_kind() const;
  int64_t optimizer_step() const;
  // The single file or the manifest (attributes, config strings, rng/torch_cpu).
  const io::H5File& file() const;

  // The whole tensor in `dtype` (a stored floating dtype converts to another floating dtype), its
  // shape checked against `expected` (InputError naming the file and the tensor otherwise).
  torch::Tensor read(const std::string& name, torch::ScalarType dtype,
                     torch::IntArrayRef expected) const;
  // Elements [begin, begin + count) of the flattened tensor (1-D), from whichever shard files hold
  // them: only those elements are read (hyperslabs). A range beyond the tensor, or one its pieces
  // leave a gap in, is an InputError naming the tensor and the range.
  torch::Tensor read_range(const std::string& name, torch::ScalarType dtype, int64_t begin,
                           int64_t count) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gdpo::train
