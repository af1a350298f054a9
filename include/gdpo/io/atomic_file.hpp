// Crash-safe file replacement: write to a temporary name beside the target, fsync, rename over the
// target, fsync the directory. A kill at any moment leaves either the old file or the new one.
#pragma once
#include <string>

namespace gdpo::io {

// Usage: AtomicFile f(path); write f.temp_path() (any library); f.commit();
// If commit() is never called the temporary file is removed by the destructor.
class AtomicFile {
 public:
  explicit AtomicFile(std::string target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // "<dir>/.<name>.tmp.<pid>.<n>": same directory, so rename() is atomic.
  const std::string& temp_path() const { return temp_; }
  const std::string& target_path() const { return target_; }
  // fsync(temp), rename(temp, target), fsync(dir). Throws gdpo::Error naming the path on failure.
  void commit();

 private:
  std::string target_;
  std::string temp_;
  bool committed_ = false;
};

// Writes `bytes` to `path` atomically (via AtomicFile).
void write_file_atomic(const std::string& path, const std::string& bytes);

// fsync a file or directory by path; throws gdpo::Error naming it on failure.
void fsync_path(const std::string& path);

}  // namespace gdpo::io
