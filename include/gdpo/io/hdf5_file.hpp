// One HDF5 file of named tensors, strings, raw bytes and attributes: checkpoints (model and
// optimizer state, RNG states, JSON/INI blobs, counters as attributes) and cached tokenized data.
// Names are
// '/'-separated paths ("model/wte.weight"); missing intermediate groups are created on write.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "gdpo/io/hdf5_handle.hpp"

namespace gdpo::io {

// dtype and shape of a stored tensor (read from its metadata, without the data).
struct TensorInfo {
  torch::ScalarType dtype;
  std::vector<int64_t> shape;  // empty for a 0-d tensor
};

// Tensors are stored as plain HDF5 datasets that h5py reads as numpy arrays: float32/64,
// int8/16/32/64, uint8, float16 (IEEE half), bfloat16 (a 16-bit float type: sign 15, exponent 8
// bits at 7, mantissa 7 bits at 0, bias 127) and bool (h5py's enum {FALSE, TRUE} over int8). Data
// is written byte-exact. Errors about the file's content (missing tensor, wrong dtype/shape, not an
// HDF5 file) are InputError naming the file and the object; other HDF5 failures are Error with
// HDF5's error stack.
class H5File {
 public:
  // Creates `path` (truncating an existing file), open for reading and writing.
  static H5File create(const std::string& path);
  // Opens an existing file read-only. InputError naming the path if it is missing, not HDF5 or
  // truncated.
  static H5File open_read(const std::string& path);
  // Opens an existing file for reading and writing (same errors as open_read).
  static H5File open_rw(const std::string& path);

  H5File(H5File&&) noexcept = default;
  H5File& operator=(H5File&&) noexcept = default;
  ~H5File() = default;  // closes the file, ignoring errors: call close() to see them

  const std::string& path() const { return path_; }
  // The file's hid_t, for HDF5 calls this class does not wrap (the file keeps ownership).
  hid_t id() const { return file_.get(); }
  // Writes everything buffered to the operating system.
  void flush();
  // Flushes and closes the file, throwing on failure; the object is unusable afterwards.
  void close();

  // Stores `tensor` (any device, any strides: a contiguous CPU copy is written) as dataset `name`,
  // replacing an existing dataset of that name (its space is not reclaimed: write fresh files).
  void write_tensor(const std::string& name, const torch::Tensor& tensor);
  // Reads dataset `name` as a CPU tensor of the stored dtype and shape.
  torch::Tensor read_tensor(const std::string& name) const;
  // As above, but InputError (naming file, tensor, expected and found) unless dtype and shape
  // match.
  torch::Tensor read_tensor(const std::string& name, torch::ScalarType dtype,
                            torch::IntArrayRef shape) const;
  // dtype and shape of dataset `name` without reading its data.
  TensorInfo tensor_info(const std::string& name) const;
  // Elements [begin, begin + count) of dataset `name` flattened in row-major order, as a 1-D CPU
  // tensor of the stored dtype. Only those elements are read (a union of at most 2 * rank - 1
  // hyperslabs). InputError naming the file and the dataset when the range is out of bounds.
  torch::Tensor read_tensor_range(const std::string& name, int64_t begin, int64_t count) const;
  // Creates dataset `name` with this dtype and shape but stores no data (no space is allocated):
  // tensor_info() describes it, h5ls lists it, reading it is an InputError ("holds no data"). For
  // indexes whose data lies elsewhere (a sharded checkpoint's manifest).
  void declare_tensor(const std::string& name, torch::ScalarType dtype, torch::IntArrayRef shape);
  // Whether `name` exists and is a dataset (not a group).
  bool is_dataset(const std::string& name) const;

  // A text (JSON, INI, ...; no NUL bytes) as a scalar variable-length UTF-8 string dataset.
  void write_string(const std::string& name, const std::string& text);
  std::string read_string(const std::string& name) const;
  // Texts (no NUL bytes) as a 1-D variable-length UTF-8 string dataset (h5py: an array of str).
  void write_strings(const std::string& name, const std::vector<std::string>& texts);
  std::vector<std::string> read_strings(const std::string& name) const;
  // Arbitrary bytes (an RNG state, ...) as a 1-D uint8 dataset.
  void write_bytes(const std::string& name, const std::string& bytes);
  std::string read_bytes(const std::string& name) const;

  // Creates group `name` (and missing parents); an existing group is kept.
  void create_group(const std::string& name);
  // Whether a group or dataset `name` exists ("/" is the root and always exists).
  bool exists(const std::string& name) const;
  // Names of the children of `group` ("/" = the root), sorted by name.
  std::vector<std::string> list(const std::string& group = "/") const;

  // Scalar attributes on the object `object` ("/" = the file itself), replacing an existing one.
  void set_attr(const std::string& object, const std::string& key, const std::string& value);
  void set_attr(const std::string& object, const std::string& key, const char* value) {
    set_attr(object, key, std::string(value));
  }
  void set_attr(const std::string& object, const std::string& key, double value);
  void set_attr(const std::string& object, const std::string& key, int64_t value);
  template <class T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, int64_t>, int> = 0>
  void set_attr(const std::string& object, const std::string& key, T value) {
    set_attr(object, key, static_cast<int64_t>(value));
  }
  // A 1-D int64 attribute (h5py: a numpy int64 array); an empty vector is stored with a null
  // dataspace.
  void set_attr(const std::string& object, const std::string& key,
                const std::vector<int64_t>& values);
  bool has_attr(const std::string& object, const std::string& key) const;
  // Attribute values; InputError naming the file, object and key when the attribute is missing.
  // Numeric attributes convert (an int64 attribute reads as a double and vice versa).
  std::string string_attr(const std::string& object, const std::string& key) const;
  double double_attr(const std::string& object, const std::string& key) const;
  int64_t int_attr(const std::string& object, const std::string& key) const;
  // An integer array attribute (a scalar one reads as one value, a null one as none).
  std::vector<int64_t> int_array_attr(const std::string& object, const std::string& key) const;

 private:
  H5File(std::string path, H5Handle file) : path_(std::move(path)), file_(std::move(file)) {}
  static H5File open(const std::string& path, unsigned flags);
  hid_t fid() const;
  H5Handle open_dataset(const std::string& name) const;
  H5Handle open_object(const std::string& name) const;
  H5Handle create_dataset(const std::string& name, hid_t type, hid_t space,
                          hid_t dcpl = H5P_DEFAULT);
  H5Handle open_attr(const std::string& object, const std::string& key) const;
  void write_attr(const std::string& object, const std::string& key, hid_t type, const void* value,
                  hid_t space = H5I_INVALID_HID);

  std::string path_;
  H5Handle file_;
};

// Writes `path` crash-safely: `fill` builds the whole file at a temporary name beside it (an
// io::AtomicFile), which is then closed, fsynced and renamed over `path`. A kill at any moment
// leaves the previous version of `path` intact; if `fill` throws, the temporary is removed.
void write_h5_atomic(const std::string& path, const std::function<void(H5File&)>& fill);

}  // namespace gdpo::io
