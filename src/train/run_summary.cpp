#include "gdpo/train/run_summary.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/io/metric_log.hpp"
#include "gdpo/train/checkpoint.hpp"

namespace gdpo::train {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of `key` in the [section] of an INI text ("" when absent).
std::string ini_value(const std::string& ini, const std::string& section, const std::string& key) {
  std::istringstream in(ini);
  std::string line, current;
  while (std::getline(in, line)) {
    if (!line.empty() && line.front() == '[') {
      current = line.substr(1, line.find(']') - 1);
      continue;
    }
    auto eq = line.find(" = ");
    if (current == section && eq != std::string::npos && line.substr(0, eq) == key)
      return line.substr(eq + 3);
  }
  return "";
}

std::string number(double v, int precision = 4) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

nlohmann::json read_summary(const std::string& run_dir) {
  const fs::path p = fs::path(run_dir) / "summary.json";
  if (!fs::exists(p)) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(read_text(p));
  } catch (const std::exception& e) {
    throw InputError("'" + p.string() + "' is not valid JSON: " + e.what());
  }
}

double json_number(const nlohmann::json& j, const std::string& key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : std::nan("");
}

}  // namespace

bool is_run_directory(const std::string& dir) {
  return fs::is_directory(dir) &&
         (fs::exists(fs::path(dir) / "config.ini") || fs::is_directory(fs::path(dir) / "checkpoints"));
}

bool is_checkpoint_file(const std::string& path) {
  if (!fs::is_regular_file(path)) return false;
  try {
    auto f = io::H5File::open_read(path);
    return f.has_attr("/", "format") && f.string_attr("/", "format") == "gdpo-checkpoint";
  } catch (const std::exception&) {
    return false;
  }
}

void describe_checkpoint(const std::string& path, std::ostream& out) {
  auto c = read_checkpoint_info(path);
  const auto& s = c.state;
  out << "checkpoint:    " << path << "\n"
      << "step:          " << s.step << " (" << s.examples << " pairs, epoch " << s.cursor.epoch
      << ", position " << s.cursor.position << " of " << s.dataset_size << ")\n"
      << "best:          " << number(s.best_metric) << " at step " << s.best_step << " ("
      << s.evaluations << " evaluations, " << s.evals_without_improvement
      << " without improvement; last at step " << s.last_eval_step << ")\n"
      << "objective:     " << ini_value(c.config_ini, "loss", "type") << "\n"
      << "written by:    " << s.world_size << " rank(s) x "
      << (s.threads > 0 ? std::to_string(s.threads) : std::string("?")) << " thread(s)"
      << " (a bitwise resume needs the same)\n";
  auto f = io::H5File::open_read(path);
  int64_t params = 0, tensors = 0;
  // Count the policy's tensors and elements (names may be nested groups).
  std::function<void(const std::string&)> walk = [&](const std::string& g) {
    for (const auto& child : f.list(g)) {
      const std::string name = g + "/" + child;
      try {
        auto info = f.tensor_info(name);
        int64_t n = 1;
        for (auto d : info.shape) n *= d;
        params += n;
        tensors += 1;
      } catch (const InputError&) {
        walk(name);
      }
    }
  };
  walk("policy");
  out << "policy:        " << tensors << " tensors, " << params << " parameters\n";
}

void describe_run(const std::string& run_dir, std::ostream& out) {
  const fs::path dir(run_dir);
  const std::string ini = read_text(dir / "config.ini");
  out << "run:           " << run_dir << "\n"
      << "objective:     " << ini_value(ini, "loss", "type") << "\n"
      << "model:         " << ini_value(ini, "model", "path") << ini_value(ini, "model", "config")
      << "\n"
      << "data:          " << ini_value(ini, "data", "train") << "\n";
  CheckpointDirectory ckpt(run_dir);
  auto latest = ckpt.find_latest();
  auto best = ckpt.find_best();
  out << "checkpoints:   " << ckpt.list().size() << " (latest "
      << (latest ? fs::path(*latest).filename().string() : "-") << ", best "
      << (best ? fs::path(*best).filename().string() : "-") << ")\n";
  const fs::path metrics = dir / "metrics.h5";
  if (fs::exists(metrics)) {
    auto eval = io::MetricLog::read(metrics.string(), "eval");
    const auto& steps = eval.at("step");
    out << "\nevaluations (" << steps.size() << "):\n";
    const std::vector<std::string> cols = {"loss", "belief.js_distance", "belief.prob_sum",
                                           "rewards.accuracy", "rewards.margin"};
    out << std::setw(8) << "step";
    for (const auto& c : cols) out << std::setw(20) << c;
    out << "\n";
    for (size_t i = 0; i < steps.size(); ++i) {
      out << std::setw(8) << static_cast<int64_t>(steps[i]);
      for (const auto& c : cols) {
        auto it = eval.find(c);
        out << std::setw(20) << (it == eval.end() ? "-" : number(it->second[i]));
      }
      out << "\n";
    }
  }
  auto summary = read_summary(run_dir);
  if (!summary.empty())
    out << "\nfinished:      step " << summary.value("step", 0) << ", exported model "
        << (dir / "model").string() << " (best step " << summary.value("best_step", -1) << ")\n";
}

void compare_runs(const std::vector<std::string>& run_dirs, std::ostream& out) {
  // The final evaluation's metrics, under the names they have everywhere else.
  const std::vector<std::string> cols = {"loss", "belief.js_distance", "belief.prob_sum",
                                         "rewards.accuracy"};
  out << std::left << std::setw(28) << "run" << std::right << std::setw(8) << "type"
      << std::setw(8) << "steps" << std::setw(10) << "model";
  for (const auto& c : cols) out << std::setw(20) << c;
  out << "\n";
  for (const auto& dir : run_dirs) {
    auto s = read_summary(dir);
    if (s.empty()) throw InputError("'" + dir + "' has no summary.json (unfinished run?)");
    const auto eval = s.value("eval", nlohmann::json::object());
    // Which weights the run exported: the best evaluation's, or the last step's.
    const std::string exported =
        s.value("exported", std::string("best")) == "last"
            ? "last@" + std::to_string(s.value("step", 0))
            : "best@" + std::to_string(s.value("best_step", -1));
    std::string name = fs::path(dir).filename().string();
    if (name.empty()) name = dir;
    out << std::left << std::setw(28) << name << std::right << std::setw(8)
        << s.value("loss_type", std::string("?")) << std::setw(8) << s.value("step", 0)
        << std::setw(10) << exported;
    for (const auto& c : cols) out << std::setw(20) << number(json_number(eval, c));
    out << "\n";
  }
}

}  // namespace gdpo::train
