// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the raw tensor bytes. Reads are
// memory-mapped and validated as strictly as the reference reader; writes are atomic (sharded).
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

// The reference implementation's bound on the header length (its MAX_HEADER_SIZE): 100,000,000
// bytes. Index files (.safetensors.index.json) are held to the same bound.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100000000;

// A tensor name as messages show it: quoted, bytes outside printable ASCII as '?', long names cut.
std::string quoted_tensor_name(const std::string& name);

// A read-only memory-mapped safetensors file whose header was fully validated on open; every error
// is a gdpo::InputError naming the file (and the tensor or key). The rules, as the reference
// implementation's: the path is a regular file (a FIFO, folder or device is refused before it is
// opened, so open() cannot block); the header length is at most kMaxSafetensorsHeaderBytes and fits
// in the file; the header is UTF-8 JSON that starts with '{' (no BOM, no NUL), padded at its end
// with spaces (0x20) only; it is an object without duplicate keys; "__metadata__" (optional) maps
// strings to strings; every tensor has a known dtype, a shape of non-negative integers and
// data_offsets [begin, end] with end - begin = elements x dtype size; the tensors, sorted by
// offset, tile the data section exactly (start at 0, no gap, no overlap, end at its last byte). The
// header is parsed as a stream (no JSON tree), so its cost is one small record per tensor.
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
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // Bytes of the data section (= the sum of the tensors' bytes).
  uint64_t data_size() const { return data_size_; }
  // Throws InputError naming the file when absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  // A fresh contiguous CPU tensor holding a copy of the named tensor's bytes.
  torch::Tensor tensor(const std::string& name) const;

 private:
  const SafetensorsEntry* find(const std::string& name) const;

  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  uint64_t data_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorsEntry> entries_;
  std::vector<size_t> by_name_;  // indices into entries_, sorted by name (names are unique)
};

// A checkpoint that is one .safetensors file or several shards listed by an index file
// ("model.safetensors.index.json": {"weight_map": {tensor: shard file}}). open() accepts the file,
// the index, or a folder holding model.safetensors or model.safetensors.index.json. An index is a
// regular file of at most kMaxSafetensorsHeaderBytes, a JSON object without duplicate keys; each
// shard is a file name in the index's folder; every tensor of every shard is in the weight map,
// mapped to that shard (a tensor in two shards is refused), and every mapped tensor is in its
// shard.
class SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open(const std::string& path);

  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;
  torch::Tensor tensor(const std::string& name) const;
  // The file (shard) holding `name`.
  const SafetensorsFile& file_of(const std::string& name) const;
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
  // The path given to open() after resolution (the file or the index).
  const std::string& path() const { return path_; }
  // Bytes of tensor data in all files.
  uint64_t data_size() const;

 private:
  std::string path_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // with an index: tensor -> index in files_ (else empty)
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes `tensors` (any device; copied to CPU) in the given order to `path`, atomically: the
// offsets tile the data exactly and the header is padded with spaces to a multiple of 8 bytes, so
// that SafetensorsFile (and the reference implementation) reads it back. Duplicate names are an
// error.
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
