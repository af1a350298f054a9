#include "gdpo/io/metric_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "gdpo/core/error.hpp"

namespace gdpo::io {

namespace fs = std::filesystem;

namespace {

constexpr hsize_t kChunkRows = 1024;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// SWMR needs the latest file format. `clear_status_flags` is the library property h5clear sets: it
// clears the "open for writing" mark a killed writer leaves in the superblock.
H5Handle access_plist(const std::string& path, bool clear_status_flags) {
  H5Handle fapl(GDPO_H5(H5Pcreate(H5P_FILE_ACCESS), "create a file access list", path, ""));
  GDPO_H5(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST),
          "set the format version", path, "");
  if (clear_status_flags) {
    hbool_t yes = 1;
    GDPO_H5(H5Pset(fapl.get(), "clear_status_flags", &yes), "set clear_status_flags", path, "");
  }
  return fapl;
}

// Table and metric names are single, non-empty HDF5 names: no '/' ("loss.calibration").
void check_name(const std::string& kind, const std::string& name) {
  bool ok = !name.empty() && name.find('/') == std::string::npos;
  GDPO_CHECK(ok && name != "." && name != "..",
             "invalid metric " << kind << " name '" << name << "'");
}

// Appends the datasets of the table `group` to `out`, by name ("loss", "belief.js_distance");
// `where` ("train") names `group` in messages.
void collect_columns(hid_t group, const std::string& where, const std::string& path,
                     std::vector<std::pair<std::string, H5Handle>>& out) {
  for (const std::string& child : h5::child_names(group, path, where)) {
    H5Handle obj(
        GDPO_H5(H5Oopen(group, child.c_str(), H5P_DEFAULT), "open", path, where + "/" + child));
    if (H5Iget_type(obj.get()) == H5I_DATASET) out.emplace_back(child, std::move(obj));
  }
}

hsize_t length(hid_t ds, const std::string& path, const std::string& name) {
  H5Handle space(GDPO_H5(H5Dget_space(ds), "get the shape of", path, name));
  hsize_t n = 0;
  GDPO_H5(H5Sget_simple_extent_dims(space.get(), &n, nullptr), "get the shape of", path, name);
  return n;
}

// Reads the first `n` values of column `ds` converted to `mem` (H5T_NATIVE_DOUBLE / _INT64).
template <class T>
std::vector<T> read_column(hid_t ds, hid_t mem, hsize_t n, const std::string& path,
                           const std::string& name) {
  std::vector<T> out(n);
  if (n == 0) return out;
  H5Handle file_space(GDPO_H5(H5Dget_space(ds), "get the shape of", path, name));
  hsize_t start = 0;
  GDPO_H5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr),
          "select rows of", path, name);
  H5Handle mem_space(
      GDPO_H5(H5Screate_simple(1, &n, nullptr), "create a dataspace for", path, name));
  GDPO_H5(H5Dread(ds, mem, mem_space.get(), file_space.get(), H5P_DEFAULT, out.data()),
          "read column", path, name);
  return out;
}

// Sets the length of column `ds` to first + values.size() and writes `values` from row `first` on.
template <class T>
void write_column(hid_t ds, hid_t mem, hsize_t first, const std::vector<T>& values,
                  const std::string& path, const std::string& name) {
  hsize_t end = first + values.size(), n = values.size();
  GDPO_H5(H5Dset_extent(ds, &end), "resize column", path, name);
  if (n == 0) return;
  H5Handle file_space(GDPO_H5(H5Dget_space(ds), "get the shape of", path, name));
  GDPO_H5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &first, nullptr, &n, nullptr),
          "select rows of", path, name);
  H5Handle mem_space(
      GDPO_H5(H5Screate_simple(1, &n, nullptr), "create a dataspace for", path, name));
  GDPO_H5(H5Dwrite(ds, mem, mem_space.get(), file_space.get(), H5P_DEFAULT, values.data()),
          "write column", path, name);
}

// A chunked, extendible 1-D column of `rows` rows, which read as `fill` until written.
H5Handle create_column(hid_t group, const std::string& name, hid_t type, hsize_t rows,
                       const void* fill, const std::string& path) {
  H5Handle dcpl(GDPO_H5(H5Pcreate(H5P_DATASET_CREATE), "create a dataset list", path, name));
  GDPO_H5(H5Pset_chunk(dcpl.get(), 1, &kChunkRows), "set chunking of", path, name);
  GDPO_H5(H5Pset_fill_value(dcpl.get(), type, fill), "set the fill value of", path, name);
  H5Handle lcpl(GDPO_H5(H5Pcreate(H5P_LINK_CREATE), "create a link list", path, name));
  GDPO_H5(H5Pset_create_intermediate_group(lcpl.get(), 1), "set intermediate groups", path, name);
  hsize_t max_rows = H5S_UNLIMITED;
  H5Handle space(
      GDPO_H5(H5Screate_simple(1, &rows, &max_rows), "create a dataspace for", path, name));
  return H5Handle(GDPO_H5(
      H5Dcreate2(group, name.c_str(), type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
      "create column", path, name));
}

}  // namespace

MetricLog::MetricLog(std::string path) : path_(std::move(path)) {
  h5::init();
  std::string lock_path = path_ + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  GDPO_CHECK(lock_fd_ >= 0, "cannot create '" << lock_path << "': " << errno_text());
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd_);
    GDPO_CHECK(false, "metric log '" << path_ << "' is being written by another process ('"
                                     << lock_path << "' is locked: " << errno_text(err) << ")");
  }
  try {
    open_file(true);
  } catch (...) {
    tables_.clear();
    file_.reset();
    ::unlink(lock_path.c_str());
    ::close(lock_fd_);
    throw;
  }
}

MetricLog::~MetricLog() {
  tables_.clear();
  file_.reset();
  // Unlink before unlocking, so that a waiting writer never locks a file about to disappear.
  ::unlink((path_ + ".lock").c_str());
  ::close(lock_fd_);
}

void MetricLog::open_file(bool swmr) {
  std::error_code ec;
  if (!fs::exists(path_, ec) || fs::file_size(path_, ec) == 0) {
    file_ = H5Handle(GDPO_H5(
        H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access_plist(path_, false).get()),
        "create", path_, ""));
  } else {
    hid_t id = H5Fopen(path_.c_str(), H5F_ACC_RDWR, access_plist(path_, false).get());
    if (id < 0) {
      std::string first = h5::failure_message(__FILE__, __LINE__, "append to", path_, "");
      // We hold the writer lock, so a file still marked "open for writing" was left by a killed
      // writer: clear the mark (what h5clear -s does). Any other problem fails again.
      id = H5Fopen(path_.c_str(), H5F_ACC_RDWR, access_plist(path_, true).get());
      if (id < 0) {
        H5Eclear2(H5E_DEFAULT);
        throw InputError(first);
      }
    }
    file_ = H5Handle(id);
  }
  load_tables();
  if (swmr) {
    tables_.clear();  // start SWMR with no object open, then reopen the columns
    GDPO_H5(H5Fstart_swmr_write(file_.get()), "start SWMR writing on", path_, "");
    load_tables();
  }
}

void MetricLog::close_file() {
  tables_.clear();
  if (file_.valid() && file_.close() < 0) h5::throw_failure(__FILE__, __LINE__, "close", path_, "");
}

void MetricLog::load_tables() {
  tables_.clear();
  H5Handle root(GDPO_H5(H5Gopen2(file_.get(), "/", H5P_DEFAULT), "open group", path_, "/"));
  for (const std::string& name : h5::child_names(root.get(), path_, "/")) {
    H5Handle group(
        GDPO_H5(H5Gopen2(file_.get(), name.c_str(), H5P_DEFAULT), "open table", path_, name));
    Table table;
    hsize_t rows = std::numeric_limits<hsize_t>::max();
    std::vector<std::pair<std::string, H5Handle>> columns;
    collect_columns(group.get(), name, path_, columns);
    for (auto& [column, ds] : columns) {
      rows = std::min(rows, length(ds.get(), path_, name + "/" + column));
      (column == "step" ? table.step : table.metrics[column]) = std::move(ds);
    }
    if (!table.step.valid())
      GDPO_THROW(InputError, "'" << path_ << "' is not a metric log: group '" << name
                                 << "' has no 'step' column");
    table.rows = static_cast<int64_t>(rows);
    tables_.emplace(name, std::move(table));
  }
  // A writer killed in the middle of an append leaves some columns one row longer: drop that row
  // (only possible here before SWMR starts; after, every column has `rows` rows).
  for (auto& [name, table] : tables_) {
    hsize_t rows = table.rows;
    auto fix = [&](H5Handle& ds, const std::string& column) {
      if (length(ds.get(), path_, name + "/" + column) != rows)
        GDPO_H5(H5Dset_extent(ds.get(), &rows), "repair column", path_, name + "/" + column);
    };
    fix(table.step, "step");
    for (auto& [column, ds] : table.metrics) fix(ds, column);
  }
}

void MetricLog::create_columns(const std::string& name,
                               const std::map<std::string, double>& values) {
  // Objects cannot be created in SWMR-write mode: reopen without it, create, and restart it.
  close_file();
  open_file(false);
  auto found = tables_.find(name);
  hsize_t rows = found == tables_.end() ? 0 : found->second.rows;
  H5Handle group(
      found == tables_.end()
          ? GDPO_H5(H5Gcreate2(file_.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    "create table", path_, name)
          : GDPO_H5(H5Gopen2(file_.get(), name.c_str(), H5P_DEFAULT), "open table", path_, name));
  if (found == tables_.end()) {
    int64_t zero = 0;
    create_column(group.get(), "step", H5T_STD_I64LE, 0, &zero, path_);
  }
  for (const auto& [metric, value] : values)
    if (found == tables_.end() || !found->second.metrics.count(metric))
      create_column(group.get(), metric, H5T_IEEE_F64LE, rows, &kNaN, path_);
  group.reset();
  close_file();
  open_file(true);
}

void MetricLog::append(const std::string& table, int64_t step,
                       const std::map<std::string, double>& given) {
  check_name("table", table);
  const std::map<std::string, double>& values = given;
  auto found = tables_.find(table);
  for (const auto& [metric, value] : values) {
    check_name("", metric);
    GDPO_CHECK(metric != "step", "'step' cannot be a metric name (table '" << table << "')");
  }
  bool new_columns =
      found == tables_.end() || std::any_of(values.begin(), values.end(), [&](const auto& kv) {
        return !found->second.metrics.count(kv.first);
      });
  if (new_columns) create_columns(table, values);
  Table& t = tables_.at(table);
  hsize_t row = t.rows;
  // Metrics first, step last: a reader (and a reopen after a kill) trusts the shortest column.
  for (auto& [metric, ds] : t.metrics) {
    auto v = values.find(metric);
    write_column(ds.get(), H5T_NATIVE_DOUBLE, row,
                 std::vector<double>{v == values.end() ? kNaN : v->second}, path_,
                 table + "/" + metric);
  }
  write_column(t.step.get(), H5T_NATIVE_INT64, row, std::vector<int64_t>{step}, path_,
               table + "/step");
  t.rows += 1;
  flush();
}

void MetricLog::flush() { GDPO_H5(H5Fflush(file_.get(), H5F_SCOPE_LOCAL), "flush", path_, ""); }

void MetricLog::truncate_after(const std::string& table, int64_t step) {
  auto found = tables_.find(table);
  if (found == tables_.end()) return;
  std::vector<int64_t> steps = read_column<int64_t>(found->second.step.get(), H5T_NATIVE_INT64,
                                                    found->second.rows, path_, table + "/step");
  std::vector<size_t> keep;
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i] <= step) keep.push_back(i);
  if (keep.size() == steps.size()) return;
  // Datasets cannot shrink in SWMR-write mode: rewrite the kept rows without it.
  close_file();
  open_file(false);
  Table& t = tables_.at(table);
  auto compact = [&](hid_t ds, hid_t mem, auto zero, const std::string& column) {
    using T = decltype(zero);
    std::vector<T> all = read_column<T>(ds, mem, t.rows, path_, table + "/" + column);
    std::vector<T> kept;
    for (size_t i : keep) kept.push_back(all[i]);
    write_column(ds, mem, 0, kept, path_, table + "/" + column);
  };
  compact(t.step.get(), H5T_NATIVE_INT64, int64_t{0}, "step");
  for (auto& [metric, ds] : t.metrics) compact(ds.get(), H5T_NATIVE_DOUBLE, 0.0, metric);
  close_file();
  open_file(true);
}

void MetricLog::truncate_after(int64_t step) {
  for (const std::string& table : tables()) truncate_after(table, step);
}

std::vector<std::string> MetricLog::tables() const {
  std::vector<std::string> names;
  for (const auto& entry : tables_) names.push_back(entry.first);
  return names;
}

int64_t MetricLog::rows(const std::string& table) const {
  auto found = tables_.find(table);
  return found == tables_.end() ? 0 : found->second.rows;
}

namespace {
std::map<std::string, std::vector<double>> read_once(const std::string& path,
                                                     const std::string& table) {
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT));
  if (!file.valid()) h5::throw_failure(__FILE__, __LINE__, "read", path, "");
  htri_t exists =
      GDPO_H5(H5Lexists(file.get(), table.c_str(), H5P_DEFAULT), "look up", path, table);
  if (exists == 0)
    GDPO_THROW(InputError, "metric log '" << path << "' has no table '" << table << "'");
  H5Handle group(
      GDPO_H5(H5Gopen2(file.get(), table.c_str(), H5P_DEFAULT), "open table", path, table));
  std::map<std::string, std::vector<double>> columns;
  size_t rows = std::numeric_limits<size_t>::max();
  std::vector<std::pair<std::string, H5Handle>> datasets;
  collect_columns(group.get(), table, path, datasets);
  for (auto& [column, ds] : datasets) {
    std::string where = table + "/" + column;
    std::vector<double> values = read_column<double>(ds.get(), H5T_NATIVE_DOUBLE,
                                                     length(ds.get(), path, where), path, where);
    rows = std::min(rows, values.size());
    columns.emplace(column, std::move(values));
  }
  for (auto& entry : columns) entry.second.resize(rows);  // rows every column has
  return columns;
}
}  // namespace

std::map<std::string, std::vector<double>> MetricLog::read(const std::string& path,
                                                           const std::string& table) {
  h5::init();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    GDPO_THROW(InputError, "cannot read metric log '" << path << "': no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    GDPO_THROW(InputError, "cannot read metric log '" << path << "': not an HDF5 file");
  }
  // The writer holds the file locked for the few milliseconds it spends outside SWMR mode (adding a
  // column): retry for up to two seconds before reporting the failure.
  for (int attempt = 0;; ++attempt) {
    try {
      return read_once(path, table);
    } catch (const InputError&) {
      throw;
    } catch (const Error&) {
      if (attempt == 100) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace gdpo::io
