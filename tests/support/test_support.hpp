// Helpers shared by the tests: temporary directories, paths to the shared real-data samples (tests
// skip with a message when ../shared/data is absent), and running the gdpo binary (for what needs a
// process of its own: signals, kills, mpiexec; support/app_runner.hpp runs commands in-process).
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace gdpo::test {

// A fresh directory under the system temp dir, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The source tree (e.g. for configs/), and the gdpo binary under test.
std::string source_dir();
std::string gdpo_binary();

// ../shared/data/<relative>, or "" when it does not exist.
std::string shared_data(const std::string& relative);

// Skips the current test with a message when ../shared/data/<relative> is absent; yields the path.
#define GDPO_REQUIRE_SHARED_DATA(var, relative)                                            \
  std::string var = ::gdpo::test::shared_data(relative);                                   \
  if (var.empty()) GTEST_SKIP() << "../shared/data/" << relative << " is absent (a fresh clone " \
                                                                     "has none); skipping"

// One JSON line of the authors' opinion schema: a question "Q{k}?" with k options "o0".."o{k-1}"
// (the first of `options` replace them), uniform p*, chosen belief `chosen`, rejected `rejected`.
std::string opinion_record(size_t k, size_t chosen, size_t rejected,
                           const std::vector<std::string>& options = {});

// Writes `text` to `path` (creating parent directories).
void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

// Whether `text` contains `part` (for checks on a command's output).
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// What a command printed (stdout and stderr interleaved as written) and its exit code.
struct RunResult {
  int exit_code;
  std::string output;
};
// Runs the gdpo binary with `args` (shell-quoted by the caller), capturing stdout+stderr.
RunResult run_gdpo(const std::string& args);
// Runs `mpiexec -n 2 --oversubscribe [--allow-run-as-root] <mpiexec_options> gdpo <args>` under
// `timeout seconds` (exit code 124 means it hung and was killed). mpiexec_options: e.g.
// "--bind-to none", "-x GDPO_FAULT_INJECT=...".
RunResult run_gdpo_mpi2(const std::string& args, int timeout_seconds = 120,
                        const std::string& mpiexec_options = "");
// Runs `env <assignments> gdpo <args>` (e.g. "GDPO_FAULT_INJECT=sigterm-after-step:3").
RunResult run_command_with_env(const std::string& assignments, const std::string& args);

}  // namespace gdpo::test
