// Crash-safe file and folder replacement: write to a temporary name beside the target, fsync,
// rename over the target, fsync the directory. A kill at any moment leaves either the old version
// or the new one, plus at most a temporary that temporary_target() recognises for clean-up.
#pragma once
#include <optional>
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

// The same for a folder: AtomicDirectory d(path); fill d.temp_path() (created empty); d.commit();
// commit() fsyncs every file of the temporary folder and swaps it with the target in one
// renameat2(RENAME_EXCHANGE) (on file systems without it: the old folder is first renamed to
// ".<name>.old.<pid>.<n>", so a kill between the two renames leaves no target but both siblings),
// then removes the old folder. Uncommitted, the destructor removes the temporary folder.
class AtomicDirectory {
 public:
  explicit AtomicDirectory(std::string target);
  ~AtomicDirectory();
  AtomicDirectory(const AtomicDirectory&) = delete;
  AtomicDirectory& operator=(const AtomicDirectory&) = delete;

  const std::string& temp_path() const { return temp_; }
  const std::string& target_path() const { return target_; }
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

// The target name whose temporary `filename` is: ".config.ini.tmp.12.0" -> "config.ini" (also the
// ".<name>.old.<pid>.<n>" a folder swap can leave); nullopt for any other name.
std::optional<std::string> temporary_target(const std::string& filename);

}  // namespace gdpo::io
