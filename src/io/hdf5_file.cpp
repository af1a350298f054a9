#include "gdpo/io/hdf5_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/io/atomic_file.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gdpo::io::H5File describes tensors in memory as little-endian HDF5 types"
#endif

namespace gdpo::io {

namespace fs = std::filesystem;

namespace {

H5Handle copy_type(hid_t type) {
  return H5Handle(GDPO_H5(H5Tcopy(type), "copy a datatype", "", ""));
}

// A 16-bit IEEE-like float: sign bit 15, exponent bits [epos, epos + esize), mantissa bits [0,
// msize).
H5Handle float16_type(size_t epos, size_t esize, size_t msize, size_t bias) {
  H5Handle t = copy_type(H5T_IEEE_F32LE);
  GDPO_H5(H5Tset_fields(t.get(), 15, epos, esize, 0, msize), "set float fields", "", "");
  GDPO_H5(H5Tset_size(t.get(), 2), "set float size", "", "");
  GDPO_H5(H5Tset_ebias(t.get(), bias), "set exponent bias", "", "");
  return t;
}

H5Handle bool_type() {
  H5Handle t(GDPO_H5(H5Tenum_create(H5T_NATIVE_INT8), "create the bool enum", "", ""));
  int8_t no = 0, yes = 1;  // h5py's layout: numpy reads it back as bool
  GDPO_H5(H5Tenum_insert(t.get(), "FALSE", &no), "define the bool enum", "", "");
  GDPO_H5(H5Tenum_insert(t.get(), "TRUE", &yes), "define the bool enum", "", "");
  return t;
}

H5Handle string_type() {
  H5Handle t = copy_type(H5T_C_S1);
  GDPO_H5(H5Tset_size(t.get(), H5T_VARIABLE), "make a string type", "", "");
  GDPO_H5(H5Tset_cset(t.get(), H5T_CSET_UTF8), "make a string type", "", "");
  return t;
}

// The HDF5 type of a tensor dtype, used both in the file and in memory (little-endian host).
H5Handle type_of(torch::ScalarType dtype, const std::string& path, const std::string& name) {
  switch (dtype) {
    case torch::kFloat:
      return copy_type(H5T_IEEE_F32LE);
    case torch::kDouble:
      return copy_type(H5T_IEEE_F64LE);
    case torch::kHalf:
      return float16_type(10, 5, 10, 15);
    case torch::kBFloat16:
      return float16_type(7, 8, 7, 127);
    case torch::kChar:
      return copy_type(H5T_STD_I8LE);
    case torch::kShort:
      return copy_type(H5T_STD_I16LE);
    case torch::kInt:
      return copy_type(H5T_STD_I32LE);
    case torch::kLong:
      return copy_type(H5T_STD_I64LE);
    case torch::kByte:
      return copy_type(H5T_STD_U8LE);
    case torch::kBool:
      return bool_type();
    default:
      break;
  }
  GDPO_THROW(Error, "cannot store tensor '" << name << "' of dtype " << dtype << " in HDF5 file '"
                                            << path << "' (no HDF5 layout for it)");
}

// The tensor dtype of a stored HDF5 type; InputError for types LibTorch has no dtype for.
torch::ScalarType dtype_of(hid_t type, const std::string& path, const std::string& name) {
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  if (cls == H5T_INTEGER) {
    bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (is_signed && size == 1) return torch::kChar;
    if (is_signed && size == 2) return torch::kShort;
    if (is_signed && size == 4) return torch::kInt;
    if (is_signed && size == 8) return torch::kLong;
    if (!is_signed && size == 1) return torch::kByte;
  } else if (cls == H5T_FLOAT) {
    if (size == 4) return torch::kFloat;
    if (size == 8) return torch::kDouble;
    size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    if (size == 2 && H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0) {
      if (esize == 5 && msize == 10) return torch::kHalf;
      if (esize == 8 && msize == 7) return torch::kBFloat16;
    }
  } else if (cls == H5T_ENUM && size == 1 && H5Tget_nmembers(type) == 2) {
    return torch::kBool;
  }
  H5Eclear2(H5E_DEFAULT);
  GDPO_THROW(InputError, "HDF5 file '" << path << "': dataset '" << name << "' has a type ("
                                       << "class " << int(cls) << ", " << size
                                       << " bytes) that is not a tensor dtype");
}

std::vector<std::string> split_path(const std::string& name) {
  std::vector<std::string> parts;
  std::stringstream ss(name);
  std::string part;
  while (std::getline(ss, part, '/'))
    if (!part.empty()) parts.push_back(part);
  return parts;
}

std::string describe(torch::ScalarType dtype, c10::IntArrayRef shape) {
  std::ostringstream os;
  os << "dtype " << dtype << " and shape " << shape;
  return os.str();
}

// Reads a scalar string (variable- or fixed-length) of stored type `stored` through `read`.
template <class Read>
std::string read_scalar_string(hid_t stored, Read read, const std::string& path,
                               const std::string& what) {
  if (H5Tget_class(stored) != H5T_STRING)
    GDPO_THROW(InputError, "HDF5 file '" << path << "': " << what << " is not a string");
  if (GDPO_H5(H5Tis_variable_str(stored), "inspect", path, what) > 0) {
    H5Handle mem = string_type();
    char* text = nullptr;
    GDPO_H5(read(mem.get(), &text), "read", path, what);
    std::string out = text ? text : "";
    H5free_memory(text);
    return out;
  }
  size_t size = H5Tget_size(stored);
  H5Handle mem = copy_type(H5T_C_S1);
  GDPO_H5(H5Tset_size(mem.get(), size), "make a string type", path, what);
  std::string out(size, '\0');
  GDPO_H5(read(mem.get(), out.data()), "read", path, what);
  out.resize(std::strlen(out.c_str()));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Opening and closing.

namespace {
H5Handle file_access_plist() {
  H5Handle fapl(GDPO_H5(H5Pcreate(H5P_FILE_ACCESS), "create a file access list", "", ""));
  // H5Fclose fails (instead of leaving the file open) if any object is still open: a leak check.
  GDPO_H5(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_SEMI), "set the close degree", "", "");
  // 1.8-format groups (compact / dense link storage) scale to checkpoints with many tensors.
  GDPO_H5(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST),
          "set the format version", "", "");
  return fapl;
}
}  // namespace

H5File H5File::create(const std::string& path) {
  h5::init();
  H5Handle fapl = file_access_plist();
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (id < 0) throw Error(h5::failure_message(__FILE__, __LINE__, "create", path, ""));
  return H5File(path, H5Handle(id));
}

H5File H5File::open_read(const std::string& path) { return open(path, H5F_ACC_RDONLY); }
H5File H5File::open_rw(const std::string& path) { return open(path, H5F_ACC_RDWR); }

H5File H5File::open(const std::string& path, unsigned flags) {
  h5::init();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    GDPO_THROW(InputError, "cannot open HDF5 file '"
                               << path << "': "
                               << (fs::exists(path, ec) ? "not a regular file" : "no such file"));
  htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0)
    GDPO_THROW(InputError, "cannot open '" << path << "': not an HDF5 file ("
                                           << fs::file_size(path, ec)
                                           << " bytes, no HDF5 signature)");
  H5Handle fapl = file_access_plist();
  hid_t id = is_hdf5 > 0 ? H5Fopen(path.c_str(), flags, fapl.get()) : -1;
  if (id < 0) throw InputError(h5::failure_message(__FILE__, __LINE__, "open", path, ""));
  return H5File(path, H5Handle(id));
}

hid_t H5File::fid() const {
  GDPO_CHECK(file_.valid(), "HDF5 file '" << path_ << "' is already closed");
  return file_.get();
}

void H5File::flush() { GDPO_H5(H5Fflush(fid(), H5F_SCOPE_GLOBAL), "flush", path_, ""); }

void H5File::close() {
  if (file_.valid() && file_.close() < 0) h5::throw_failure(__FILE__, __LINE__, "close", path_, "");
}

// ---------------------------------------------------------------------------------------------------
// Names.

bool H5File::exists(const std::string& name) const {
  std::string prefix;
  for (const std::string& part : split_path(name)) {
    prefix += "/" + part;
    htri_t found = H5Lexists(fid(), prefix.c_str(), H5P_DEFAULT);
    if (found < 0) {  // a component is a dataset, not a group: "/ds/x" cannot exist
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (found == 0) return false;
  }
  return true;
}

bool H5File::is_dataset(const std::string& name) const {
  if (split_path(name).empty() || !exists(name)) return false;
  H5Handle obj = open_object(name);
  return H5Iget_type(obj.get()) == H5I_DATASET;
}

std::vector<std::string> H5File::list(const std::string& group) const {
  H5Handle g = open_object(group);
  GDPO_CHECK(H5Iget_type(g.get()) == H5I_GROUP,
             "HDF5 file '" << path_ << "': '" << group << "' is not a group");
  return h5::child_names(g.get(), path_, group);
}

H5Handle H5File::open_object(const std::string& name) const {
  if (!exists(name)) GDPO_THROW(InputError, "HDF5 file '" << path_ << "' has no '" << name << "'");
  return H5Handle(
      GDPO_H5(H5Oopen(fid(), name.empty() ? "/" : name.c_str(), H5P_DEFAULT), "open", path_, name));
}

H5Handle H5File::open_dataset(const std::string& name) const {
  if (!exists(name))
    GDPO_THROW(InputError, "HDF5 file '" << path_ << "' has no dataset '" << name << "'");
  return H5Handle(GDPO_H5(H5Dopen2(fid(), name.c_str(), H5P_DEFAULT), "open dataset", path_, name));
}

H5Handle H5File::create_dataset(const std::string& name, hid_t type, hid_t space, hid_t dcpl) {
  GDPO_CHECK(!split_path(name).empty(), "an empty dataset name for HDF5 file '" << path_ << "'");
  if (exists(name)) GDPO_H5(H5Ldelete(fid(), name.c_str(), H5P_DEFAULT), "replace", path_, name);
  H5Handle lcpl(GDPO_H5(H5Pcreate(H5P_LINK_CREATE), "create a link list", path_, name));
  GDPO_H5(H5Pset_create_intermediate_group(lcpl.get(), 1), "set intermediate groups", path_, name);
  return H5Handle(
      GDPO_H5(H5Dcreate2(fid(), name.c_str(), type, space, lcpl.get(), dcpl, H5P_DEFAULT),
              "create dataset", path_, name));
}

void H5File::create_group(const std::string& name) {
  if (exists(name)) return;
  H5Handle lcpl(GDPO_H5(H5Pcreate(H5P_LINK_CREATE), "create a link list", path_, name));
  GDPO_H5(H5Pset_create_intermediate_group(lcpl.get(), 1), "set intermediate groups", path_, name);
  H5Handle g(GDPO_H5(H5Gcreate2(fid(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                     "create group", path_, name));
}

// ---------------------------------------------------------------------------------------------------
// Tensors, strings, bytes.

void H5File::write_tensor(const std::string& name, const torch::Tensor& tensor) {
  GDPO_CHECK(tensor.defined(),
             "an undefined tensor for '" << name << "' in HDF5 file '" << path_ << "'");
  torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  H5Handle type = type_of(t.scalar_type(), path_, name);
  std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
  H5Handle space(GDPO_H5(
      t.dim() == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(t.dim(), dims.data(), nullptr),
      "create a dataspace for", path_, name));
  H5Handle ds = create_dataset(name, type.get(), space.get());
  if (t.numel() > 0)
    GDPO_H5(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()),
            "write dataset", path_, name);
}

namespace {
TensorInfo info_of(hid_t ds, const std::string& path, const std::string& name) {
  H5Handle type(GDPO_H5(H5Dget_type(ds), "get the type of", path, name));
  H5Handle space(GDPO_H5(H5Dget_space(ds), "get the shape of", path, name));
  if (H5Sget_simple_extent_type(space.get()) == H5S_NULL)
    GDPO_THROW(InputError, "HDF5 file '" << path << "': dataset '" << name << "' has no data");
  int rank = GDPO_H5(H5Sget_simple_extent_ndims(space.get()), "get the rank of", path, name);
  std::vector<hsize_t> dims(rank);
  GDPO_H5(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "get the shape of", path,
          name);
  return {dtype_of(type.get(), path, name), std::vector<int64_t>(dims.begin(), dims.end())};
}

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Throws when `ds` is a dataset of declare_tensor (contiguous, its storage never allocated):
// reading it would yield whatever the buffer held.
void check_holds_data(hid_t ds, const std::string& path, const std::string& name) {
  H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
  GDPO_H5(H5Dget_space_status(ds, &status), "get the storage status of", path, name);
  if (status != H5D_SPACE_STATUS_NOT_ALLOCATED) return;
  H5Handle dcpl(GDPO_H5(H5Dget_create_plist(ds), "get the creation list of", path, name));
  if (H5Pget_layout(dcpl.get()) == H5D_CONTIGUOUS)
    GDPO_THROW(InputError, "HDF5 file '" << path << "': dataset '" << name
                                         << "' holds no data (it only declares a dtype and shape)");
}

torch::Tensor read_data(hid_t ds, const TensorInfo& info, const std::string& path,
                        const std::string& name) {
  torch::Tensor t = torch::empty(info.shape, torch::TensorOptions().dtype(info.dtype));
  if (t.numel() > 0) check_holds_data(ds, path, name);
  H5Handle type = type_of(info.dtype, path, name);
  if (t.numel() > 0)
    GDPO_H5(H5Dread(ds, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()), "read dataset",
            path, name);
  return t;
}
}  // namespace

TensorInfo H5File::tensor_info(const std::string& name) const {
  return info_of(open_dataset(name).get(), path_, name);
}

torch::Tensor H5File::read_tensor(const std::string& name) const {
  H5Handle ds = open_dataset(name);
  return read_data(ds.get(), info_of(ds.get(), path_, name), path_, name);
}

torch::Tensor H5File::read_tensor(const std::string& name, torch::ScalarType dtype,
                                  torch::IntArrayRef shape) const {
  H5Handle ds = open_dataset(name);
  TensorInfo info = info_of(ds.get(), path_, name);
  if (info.dtype != dtype || c10::IntArrayRef(info.shape) != shape)
    GDPO_THROW(InputError, "HDF5 file '" << path_ << "': tensor '" << name << "' has "
                                         << describe(info.dtype, info.shape) << ", expected "
                                         << describe(dtype, shape));
  return read_data(ds.get(), info, path_, name);
}

namespace {
// Selects in `space` (of dims `shape`, rank >= 1) the elements [begin, end) of the row-major
// flattening, begin < end: a partial head row, whole rows, a partial tail row, recursively.
void select_flat_range(hid_t space, const std::vector<int64_t>& shape, int64_t begin, int64_t end,
                       const std::string& path, const std::string& name) {
  const size_t rank = shape.size();
  std::vector<int64_t> prefix;  // fixed indices of the dimensions before the current one
  bool first = true;
  auto box = [&](size_t dim, int64_t from, int64_t to) {  // prefix, [from, to) in dim, all after
    std::vector<hsize_t> start(rank, 0), count(rank, 1);
    for (size_t d = 0; d < dim; ++d) start[d] = static_cast<hsize_t>(prefix[d]);
    start[dim] = static_cast<hsize_t>(from);
    count[dim] = static_cast<hsize_t>(to - from);
    for (size_t d = dim + 1; d < rank; ++d) count[d] = static_cast<hsize_t>(shape[d]);
    GDPO_H5(H5Sselect_hyperslab(space, first ? H5S_SELECT_SET : H5S_SELECT_OR, start.data(),
                                nullptr, count.data(), nullptr),
            "select a range of", path, name);
    first = false;
  };
  // [b, e) relative to the block that `prefix` fixes (dimensions before `dim`).
  std::function<void(size_t, int64_t, int64_t)> go = [&](size_t dim, int64_t b, int64_t e) {
    int64_t inner = 1;
    for (size_t d = dim + 1; d < rank; ++d) inner *= shape[d];
    if (b % inner != 0) {  // a partial first row: recurse into it
      const int64_t row = b / inner, row_end = std::min(e, (row + 1) * inner);
      prefix.push_back(row);
      go(dim + 1, b - row * inner, row_end - row * inner);
      prefix.pop_back();
      b = row_end;
      if (b >= e) return;
    }
    const int64_t r0 = b / inner, r1 = e / inner;
    if (r1 > r0) box(dim, r0, r1);
    if (e % inner != 0) {  // a partial last row
      prefix.push_back(r1);
      go(dim + 1, 0, e - r1 * inner);
      prefix.pop_back();
    }
  };
  go(0, begin, end);
}
}  // namespace

torch::Tensor H5File::read_tensor_range(const std::string& name, int64_t begin,
                                        int64_t count) const {
  H5Handle ds = open_dataset(name);
  TensorInfo info = info_of(ds.get(), path_, name);
  const int64_t numel = numel_of(info.shape);
  if (begin < 0 || count < 0 || begin > numel || count > numel - begin)
    GDPO_THROW(InputError, "HDF5 file '"
                               << path_ << "': elements [" << begin << ", " << begin + count
                               << ") of dataset '" << name << "' are out of range (it has " << numel
                               << " elements, shape " << c10::IntArrayRef(info.shape) << ")");
  torch::Tensor t = torch::empty({count}, torch::TensorOptions().dtype(info.dtype));
  if (count == 0) return t;
  check_holds_data(ds.get(), path_, name);
  H5Handle type = type_of(info.dtype, path_, name);
  if (info.shape.empty()) {  // a 0-d dataset: its one element
    GDPO_H5(H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()),
            "read dataset", path_, name);
    return t;
  }
  H5Handle file_space(GDPO_H5(H5Dget_space(ds.get()), "get the shape of", path_, name));
  select_flat_range(file_space.get(), info.shape, begin, begin + count, path_, name);
  const hsize_t n = static_cast<hsize_t>(count);
  H5Handle mem_space(
      GDPO_H5(H5Screate_simple(1, &n, nullptr), "create a dataspace for", path_, name));
  GDPO_H5(
      H5Dread(ds.get(), type.get(), mem_space.get(), file_space.get(), H5P_DEFAULT, t.data_ptr()),
      "read a range of", path_, name);
  return t;
}

void H5File::declare_tensor(const std::string& name, torch::ScalarType dtype,
                            torch::IntArrayRef shape) {
  for (int64_t d : shape)
    GDPO_CHECK(d >= 0, "a negative dimension in shape " << shape << " of '" << name
                                                        << "' for HDF5 file '" << path_ << "'");
  H5Handle type = type_of(dtype, path_, name);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  H5Handle space(
      GDPO_H5(shape.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
              "create a dataspace for", path_, name));
  H5Handle dcpl(GDPO_H5(H5Pcreate(H5P_DATASET_CREATE), "create a dataset list", path_, name));
  GDPO_H5(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "set the layout of", path_, name);
  GDPO_H5(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_LATE), "set the allocation of", path_, name);
  GDPO_H5(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "set the fill time of", path_, name);
  create_dataset(name, type.get(), space.get(), dcpl.get());
}

void H5File::write_string(const std::string& name, const std::string& text) {
  GDPO_CHECK(text.find('\0') == std::string::npos,
             "string '" << name << "' for HDF5 file '" << path_
                        << "' contains a NUL byte: store it with write_bytes");
  H5Handle type = string_type();
  H5Handle space(GDPO_H5(H5Screate(H5S_SCALAR), "create a dataspace for", path_, name));
  H5Handle ds = create_dataset(name, type.get(), space.get());
  const char* data = text.c_str();
  GDPO_H5(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &data), "write string",
          path_, name);
}

std::string H5File::read_string(const std::string& name) const {
  H5Handle ds = open_dataset(name);
  H5Handle type(GDPO_H5(H5Dget_type(ds.get()), "get the type of", path_, name));
  H5Handle space(GDPO_H5(H5Dget_space(ds.get()), "get the shape of", path_, name));
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    GDPO_THROW(InputError, "HDF5 file '" << path_ << "': '" << name << "' is not a single string");
  auto read = [&](hid_t mem, void* buf) {
    return H5Dread(ds.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  };
  return read_scalar_string(type.get(), read, path_, "string '" + name + "'");
}

void H5File::write_strings(const std::string& name, const std::vector<std::string>& texts) {
  std::vector<const char*> data;
  data.reserve(texts.size());
  for (const auto& text : texts) {
    GDPO_CHECK(text.find('\0') == std::string::npos,
               "string array '" << name << "' for HDF5 file '" << path_ << "' contains a NUL byte");
    data.push_back(text.c_str());
  }
  H5Handle type = string_type();
  const hsize_t n = texts.size();
  H5Handle space(GDPO_H5(H5Screate_simple(1, &n, nullptr), "create a dataspace for", path_, name));
  H5Handle ds = create_dataset(name, type.get(), space.get());
  if (n > 0)
    GDPO_H5(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()),
            "write strings", path_, name);
}

std::vector<std::string> H5File::read_strings(const std::string& name) const {
  H5Handle ds = open_dataset(name);
  H5Handle type(GDPO_H5(H5Dget_type(ds.get()), "get the type of", path_, name));
  H5Handle space(GDPO_H5(H5Dget_space(ds.get()), "get the shape of", path_, name));
  if (H5Tget_class(type.get()) != H5T_STRING || !H5Tis_variable_str(type.get()) ||
      H5Sget_simple_extent_ndims(space.get()) != 1)
    GDPO_THROW(InputError, "HDF5 file '" << path_ << "': '" << name
                                         << "' is not a 1-D array of variable-length strings");
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space.get(), &n, nullptr);
  std::vector<char*> data(n, nullptr);
  H5Handle mem = string_type();
  if (n > 0)
    GDPO_H5(H5Dread(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()),
            "read strings", path_, name);
  std::vector<std::string> out;
  out.reserve(n);
  for (char* p : data) out.emplace_back(p ? p : "");
  if (n > 0) H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, data.data());
  return out;
}

void H5File::write_bytes(const std::string& name, const std::string& bytes) {
  auto data = const_cast<char*>(bytes.data());  // from_blob wants a non-const pointer; only read
  write_tensor(name, torch::from_blob(data, {static_cast<int64_t>(bytes.size())}, torch::kByte));
}

std::string H5File::read_bytes(const std::string& name) const {
  TensorInfo info = tensor_info(name);
  if (info.dtype != torch::kByte || info.shape.size() != 1)
    GDPO_THROW(InputError, "HDF5 file '" << path_ << "': '" << name << "' has "
                                         << describe(info.dtype, info.shape)
                                         << ", expected 1-D uint8 bytes");
  torch::Tensor t = read_tensor(name);
  return std::string(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()));
}

// ---------------------------------------------------------------------------------------------------
// Attributes.

// `space`: the attribute's dataspace (default: scalar); `value` null writes nothing (a null space).
void H5File::write_attr(const std::string& object, const std::string& key, hid_t type,
                        const void* value, hid_t space) {
  H5Handle obj = open_object(object);
  std::string what = object + "@" + key;
  if (GDPO_H5(H5Aexists(obj.get(), key.c_str()), "look up attribute", path_, what) > 0)
    GDPO_H5(H5Adelete(obj.get(), key.c_str()), "replace attribute", path_, what);
  H5Handle scalar;
  if (space < 0) {
    scalar = H5Handle(GDPO_H5(H5Screate(H5S_SCALAR), "create a dataspace for", path_, what));
    space = scalar.get();
  }
  H5Handle attr(GDPO_H5(H5Acreate2(obj.get(), key.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                        "create attribute", path_, what));
  if (value) GDPO_H5(H5Awrite(attr.get(), type, value), "write attribute", path_, what);
}

void H5File::set_attr(const std::string& object, const std::string& key,
                      const std::vector<int64_t>& values) {
  const std::string what = object + "@" + key;
  const hsize_t n = values.size();
  H5Handle space(GDPO_H5(n == 0 ? H5Screate(H5S_NULL) : H5Screate_simple(1, &n, nullptr),
                         "create a dataspace for", path_, what));
  write_attr(object, key, H5T_NATIVE_INT64, n == 0 ? nullptr : values.data(), space.get());
}

void H5File::set_attr(const std::string& object, const std::string& key, const std::string& value) {
  GDPO_CHECK(value.find('\0') == std::string::npos,
             "attribute '" << key << "' for HDF5 file '" << path_ << "' contains a NUL byte");
  H5Handle type = string_type();
  const char* data = value.c_str();
  write_attr(object, key, type.get(), &data);
}

void H5File::set_attr(const std::string& object, const std::string& key, double value) {
  write_attr(object, key, H5T_NATIVE_DOUBLE, &value);
}

void H5File::set_attr(const std::string& object, const std::string& key, int64_t value) {
  write_attr(object, key, H5T_NATIVE_INT64, &value);
}

bool H5File::has_attr(const std::string& object, const std::string& key) const {
  H5Handle obj = open_object(object);
  return GDPO_H5(H5Aexists(obj.get(), key.c_str()), "look up attribute", path_,
                 object + "@" + key) > 0;
}

H5Handle H5File::open_attr(const std::string& object, const std::string& key) const {
  H5Handle obj = open_object(object);
  std::string what = object + "@" + key;
  if (GDPO_H5(H5Aexists(obj.get(), key.c_str()), "look up attribute", path_, what) == 0)
    GDPO_THROW(InputError,
               "HDF5 file '" << path_ << "': '" << object << "' has no attribute '" << key << "'");
  return H5Handle(
      GDPO_H5(H5Aopen(obj.get(), key.c_str(), H5P_DEFAULT), "open attribute", path_, what));
}

std::string H5File::string_attr(const std::string& object, const std::string& key) const {
  H5Handle attr = open_attr(object, key);
  H5Handle type(GDPO_H5(H5Aget_type(attr.get()), "get the type of", path_, object + "@" + key));
  auto read = [&](hid_t mem, void* buf) { return H5Aread(attr.get(), mem, buf); };
  return read_scalar_string(type.get(), read, path_, "attribute '" + key + "' of '" + object + "'");
}

namespace {
// Reads a scalar numeric attribute into `mem` (H5T_NATIVE_DOUBLE / H5T_NATIVE_INT64).
H5T_class_t read_number(hid_t attr, hid_t mem, void* out, const std::string& path,
                        const std::string& what) {
  H5Handle type(GDPO_H5(H5Aget_type(attr), "get the type of", path, what));
  H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    GDPO_THROW(InputError,
               "HDF5 file '" << path << "': attribute '" << what << "' is not a number");
  GDPO_H5(H5Aread(attr, mem, out), "read attribute", path, what);
  return cls;
}
}  // namespace

double H5File::double_attr(const std::string& object, const std::string& key) const {
  double value = 0;
  read_number(open_attr(object, key).get(), H5T_NATIVE_DOUBLE, &value, path_, object + "@" + key);
  return value;
}

int64_t H5File::int_attr(const std::string& object, const std::string& key) const {
  H5Handle attr = open_attr(object, key);
  int64_t value = 0;
  double real = 0;
  if (read_number(attr.get(), H5T_NATIVE_INT64, &value, path_, object + "@" + key) == H5T_FLOAT) {
    read_number(attr.get(), H5T_NATIVE_DOUBLE, &real, path_, object + "@" + key);
    if (real != std::trunc(real) || !(std::fabs(real) < 9.2e18))
      GDPO_THROW(InputError, "HDF5 file '" << path_ << "': attribute '" << key << "' of '" << object
                                           << "' is " << real << ", not an integer");
    value = static_cast<int64_t>(real);
  }
  return value;
}

std::vector<int64_t> H5File::int_array_attr(const std::string& object,
                                            const std::string& key) const {
  H5Handle attr = open_attr(object, key);
  const std::string what = object + "@" + key;
  H5Handle space(GDPO_H5(H5Aget_space(attr.get()), "get the shape of", path_, what));
  const H5S_class_t cls = H5Sget_simple_extent_type(space.get());
  if (cls == H5S_NULL) return {};
  H5Handle type(GDPO_H5(H5Aget_type(attr.get()), "get the type of", path_, what));
  if (H5Tget_class(type.get()) != H5T_INTEGER ||
      (cls == H5S_SIMPLE && H5Sget_simple_extent_ndims(space.get()) != 1))
    GDPO_THROW(InputError, "HDF5 file '" << path_ << "': attribute '" << key << "' of '" << object
                                         << "' is not a 1-D integer array");
  const hssize_t n =
      GDPO_H5(H5Sget_simple_extent_npoints(space.get()), "get the size of", path_, what);
  std::vector<int64_t> out(static_cast<size_t>(n));
  if (n > 0)
    GDPO_H5(H5Aread(attr.get(), H5T_NATIVE_INT64, out.data()), "read attribute", path_, what);
  return out;
}

// ---------------------------------------------------------------------------------------------------

void write_h5_atomic(const std::string& path, const std::function<void(H5File&)>& fill) {
  AtomicFile temp(path);
  H5File file = H5File::create(temp.temp_path());
  fill(file);
  file.close();
  temp.commit();
}

}  // namespace gdpo::io
