#include "gdpo/train/run_directory.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "gdpo/io/atomic_file.hpp"

namespace gdpo::train {

namespace fs = std::filesystem;

RunDirectory::RunDirectory(std::string root) : root_(std::move(root)) {}

std::string RunDirectory::config_ini() const { return (fs::path(root_) / "config.ini").string(); }
std::string RunDirectory::metrics() const { return (fs::path(root_) / "metrics.h5").string(); }
std::string RunDirectory::reference(const std::string& split) const {
  return (fs::path(root_) / ("reference_" + split + ".h5")).string();
}
std::string RunDirectory::checkpoints() const { return (fs::path(root_) / "checkpoints").string(); }
std::string RunDirectory::model() const { return (fs::path(root_) / "model").string(); }
std::string RunDirectory::summary() const { return (fs::path(root_) / "summary.json").string(); }

bool RunDirectory::is_complete(int64_t step) const {
  if (!fs::is_regular_file(fs::path(model()) / "config.json")) return false;
  std::ifstream in(summary());
  if (!in) return false;
  const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
         j["step"].get<int64_t>() == step;
}

std::vector<std::string> RunDirectory::remove_stale_temporaries() const {
  // What the run's writers name their files, per folder: a target outside these is not ours.
  static const std::set<std::string> top = {"config.ini",  "latest", "best", "summary.json",
                                            "reference_train.h5", "reference_eval.h5", "model"};
  static const std::regex step_file(R"(step-[0-9]{8,}\.h5)");
  auto ours = [&](const fs::path& folder, const std::string& target) {
    if (folder == fs::path(root_)) return top.count(target) > 0;
    if (folder == fs::path(checkpoints())) return std::regex_match(target, step_file);
    return true;  // model/: written only by the export (older gdpo wrote there file by file)
  };
  std::vector<std::string> removed;
  for (const auto& folder : {fs::path(root_), fs::path(checkpoints()), fs::path(model())}) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) continue;
    std::vector<fs::path> stale;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
      const auto target = io::temporary_target(e.path().filename().string());
      if (target && ours(folder, *target)) stale.push_back(e.path());
    }
    for (const auto& p : stale) {
      fs::remove_all(p, ec);
      removed.push_back(p.string());
    }
  }
  return removed;
}

}  // namespace gdpo::train
