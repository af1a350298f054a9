// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the raw tensor bytes. Reads are
// memory-mapped and validated (files come from strangers); writes are atomic, optionally sharded.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gdpo::io {

// One tensor's entry in a safetensors header.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;                        // "F32", "BF16", ... as written in the file
  std::optional<torch::ScalarType> scalar;  // empty for dtypes LibTorch lacks (F8_*, U16, U32, U64)
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;              // byte offsets in the data section
  int64_t numel() const;
  uint64_t bytes() const { return end - begin; }
};

// The safetensors dtype name of a LibTorch scalar type ("F32" for kFloat); throws for others.
std::string safetensors_dtype(torch::ScalarType type);

// A read-only memory-mapped safetensors file whose header was fully validated on open: every error
// is a gdpo::InputError naming the file (and the tensor).
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Entries in data order.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  // Throws InputError naming the file when absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  // A fresh contiguous CPU tensor holding a copy of the named tensor's bytes.
  torch::Tensor tensor(const std::string& name) const;

 private:
  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
};

// A checkpoint that is one .safetensors file or several shards listed by an index file
// ("model.safetensors.index.json": {"weight_map": {tensor: shard file}}). open() accepts the file,
// the index, or a folder holding model.safetensors or model.safetensors.index.json.
class SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open(const std::string& path);

  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  const SafetensorsEntry& entry(const std::string& name) const;
  torch::Tensor tensor(const std::string& name) const;
  // The file (shard) holding `name`.
  const SafetensorsFile& file_of(const std::string& name) const;
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
  // The path given to open() after resolution (the file or the index).
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor -> index in files_
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes `tensors` (any device; copied to CPU) in the given order to `path`, atomically. The header is
// padded with spaces to a multiple of 8 bytes. Duplicate names are an error.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes `tensors` into `dir` as "<stem>.safetensors" when they fit in max_shard_bytes (0 = no
// limit), else as "<stem>-00001-of-0000N.safetensors" shards plus "<stem>.safetensors.index.json".
// Returns the files written (shards first, then the index).
std::vector<std::string> write_safetensors_sharded(const std::string& dir,
                                                   const NamedTensors& tensors,
                                                   const std::map<std::string, std::string>& metadata,
                                                   uint64_t max_shard_bytes,
                                                   const std::string& stem = "model");

}  // namespace gdpo::io
