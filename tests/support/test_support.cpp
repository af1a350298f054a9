#include "support/test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

namespace gdpo::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto p = fs::temp_directory_path() /
             ("gdpo-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    if (fs::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string source_dir() { return GDPO_SOURCE_DIR; }
std::string gdpo_binary() { return GDPO_BINARY; }

std::string shared_data(const std::string& relative) {
  fs::path p = fs::path(GDPO_SHARED_DATA_DIR) / relative;
  return fs::exists(p) ? p.string() : std::string();
}

void write_file(const std::string& path, const std::string& text) {
  auto parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {
RunResult run_command(const std::string& cmd);

}  // namespace


RunResult run_gdpo(const std::string& args) {
  return run_command(std::string("'") + GDPO_BINARY + "' " + args + " 2>&1");
}

RunResult run_gdpo_mpi2(const std::string& args, int timeout_seconds,
                        const std::string& mpiexec_options) {
  return run_command("timeout " + std::to_string(timeout_seconds) + " " + GDPO_MPIEXEC + " " +
                     mpiexec_options + " '" + GDPO_BINARY + "' " + args + " 2>&1");
}

RunResult run_command_with_env(const std::string& assignments, const std::string& args) {
  return run_command("env " + assignments + " '" + GDPO_BINARY + "' " + args + " 2>&1");
}

namespace {
RunResult run_command(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, out};
}
}  // namespace

std::string opinion_record(size_t k, size_t chosen, size_t rejected,
                           const std::vector<std::string>& options) {
  std::vector<std::string> opts = options;
  for (size_t i = opts.size(); i < k; ++i) opts.push_back("o" + std::to_string(i));
  nlohmann::ordered_json j;
  j["prompt"] = "Q" + std::to_string(k) + "?";
  j["options"] = opts;
  j["probabilities"] = std::vector<double>(k, 1.0 / static_cast<double>(k));
  j["accept_choice_id"] = chosen;
  j["accept_choice"] = opts[chosen];
  j["accept_response"] = " because " + opts[chosen];
  j["reject_choice_id"] = rejected;
  j["reject_choice"] = opts[rejected];
  j["reject_response"] = " because " + opts[rejected];
  return j.dump();
}

}  // namespace gdpo::test
