// Private to the train module: what checkpoint.cpp (single files, loading, the checkpoint folder)
// and checkpoint_shards.cpp (shards, manifests, the reader) share of the checkpoint format.
#pragma once
#include <string>

#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/train/checkpoint.hpp"

namespace gdpo::train::detail {

inline constexpr const char* kCheckpointFormat = "gdpo-checkpoint";

// The attributes and config strings of `c` (and format, format_version, gdpo_version).
void write_checkpoint_state(io::H5File& f, const CheckpointContent& c);
// Reads them back; InputError for a file that is not a gdpo checkpoint or is of a newer format.
CheckpointContent read_checkpoint_state(const io::H5File& f);

// The default CPU generator's state, and restoring it.
std::string rng_state_bytes();
void restore_rng_state(const std::string& bytes);

// Whether `f` (a checkpoint) is a manifest: layout = "sharded" (InputError for an unknown layout).
bool is_sharded(const io::H5File& f);
// For a manifest: InputError naming the checkpoint and the first shard file that is missing.
void check_shards_present(const io::H5File& manifest);

}  // namespace gdpo::train::detail
