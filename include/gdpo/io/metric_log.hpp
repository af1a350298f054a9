// The append-only metric history of a run (metrics.h5). One group per table ("train", "eval", ...),
// each with an int64 `step` dataset and one float64 dataset per metric, all of the same length, so
// that `pandas.DataFrame({k: v[:] for k, v in h5py.File(p)["train"].items()})` is the table.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gdpo/io/hdf5_handle.hpp"

namespace gdpo::io {

// The writer keeps the file open in SWMR mode (single writer, multiple readers): every append is
// flushed, and read() in another process sees the rows written so far. Only one process may write a
// log at a time (an exclusive lock on "<path>.lock", held while the log is open); a file left
// marked "open for writing" by a killed writer is recovered on the next open.
class MetricLog {
 public:
  // Creates `path`, or reopens it for appending (a resumed run continues the same series).
  explicit MetricLog(std::string path);
  ~MetricLog();
  MetricLog(const MetricLog&) = delete;
  MetricLog& operator=(const MetricLog&) = delete;

  const std::string& path() const { return path_; }
  // Appends one row to `table`, one dataset per metric ("loss.calibration" is the dataset
  // <table>/loss.calibration: metric and table names hold no '/'; "step" is reserved). A metric
  // absent from `values` is NaN in this row, a metric seen for the first time is back-filled with
  // NaN for the earlier rows. Flushed before returning. A new table or metric costs a reopen of
  // the file (datasets cannot be created in SWMR mode); a kill during those milliseconds may damage
  // the file.
  void append(const std::string& table, int64_t step, const std::map<std::string, double>& values);
  // Flushes buffered data to the operating system (append() already does).
  void flush();
  // Drops the rows of `table` whose step is greater than `step` (on resume from an older
  // checkpoint, so that the rows after it are not duplicated). A missing table is left alone.
  void truncate_after(const std::string& table, int64_t step);
  // The same for every table.
  void truncate_after(int64_t step);

  // Names of the tables, sorted; and the number of rows of one (0 if it does not exist yet).
  std::vector<std::string> tables() const;
  int64_t rows(const std::string& table) const;

  // Every column of `table` in `path` ("step" included), as many rows as all columns have. Works
  // while a writer in another process has the file open. InputError if the file or the table does
  // not exist.
  static std::map<std::string, std::vector<double>> read(const std::string& path,
                                                         const std::string& table);

 private:
  struct Table {
    int64_t rows = 0;
    H5Handle step;                            // [rows] int64
    std::map<std::string, H5Handle> metrics;  // name -> [rows] float64
  };
  void open_file(bool swmr);  // opens (or creates) the file and loads the tables
  void close_file();          // closes every handle and the file, reporting a failed close
  void load_tables();
  void create_columns(const std::string& table, const std::map<std::string, double>& values);

  std::string path_;
  int lock_fd_ = -1;
  H5Handle file_;
  std::map<std::string, Table> tables_;
};

}  // namespace gdpo::io
