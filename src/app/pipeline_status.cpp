#include "pipeline_status.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "gdpo/core/error.hpp"

namespace gdpo::app {

namespace fs = std::filesystem;

namespace {

const char* const kGroups[] = {"data", "sft", "judge", "train", "generate", "evaluate", "tables"};

int group_rank(const std::string& group) {
  for (int i = 0; i < 7; ++i)
    if (group == kGroups[i]) return i;
  return 7;
}

std::string text_field(const nlohmann::json& j, const char* key, const std::string& file) {
  if (!j.contains(key)) GDPO_THROW(InputError, file << ": no '" << key << "'");
  const auto& v = j.at(key);
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  GDPO_THROW(InputError, file << ": '" << key << "' is neither text nor an integer");
}

StageStatus read_stage(const fs::path& file, const std::string& group, const std::string& name) {
  std::ifstream in(file);
  if (!in) GDPO_THROW(InputError, file.string() << ": cannot be read");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    GDPO_THROW(InputError, file.string() << ": not JSON (" << e.what() << ")");
  }
  if (!j.is_object()) GDPO_THROW(InputError, file.string() << ": not a JSON object");
  StageStatus s;
  s.group = group;
  s.name = name;
  const std::string path = file.string();
  s.state = text_field(j, "state", path);
  static const char* const kStates[] = {"waiting", "running", "requeued", "stopped", "done",
                                        "failed"};
  if (std::find(std::begin(kStates), std::end(kStates), s.state) == std::end(kStates))
    GDPO_THROW(InputError, path << ": unknown state '" << s.state << "'");
  s.job = text_field(j, "job", path);
  s.array_task = text_field(j, "array_task", path);
  if (!j.contains("restarts") || !j.at("restarts").is_number_unsigned())
    GDPO_THROW(InputError, path << ": 'restarts' is not a count");
  s.restarts = j.at("restarts").get<int64_t>();
  s.exit_code = text_field(j, "exit_code", path);
  s.host = text_field(j, "host", path);
  s.updated = text_field(j, "updated", path);
  return s;
}

}  // namespace

bool is_pipeline_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(fs::path(path) / "tasks", ec) && fs::is_directory(fs::path(path) / "logs", ec);
}

std::vector<StageStatus> read_pipeline(const std::string& path, int64_t* superseded) {
  std::vector<StageStatus> found;  // every stage directory with a state file
  for (const auto& group : fs::directory_iterator(path)) {
    if (!group.is_directory()) continue;
    const std::string g = group.path().filename().string();
    if (g == "tasks" || g == "logs") continue;
    for (const auto& stage : fs::directory_iterator(group.path())) {
      const fs::path file = stage.path() / "stage.json";
      if (stage.is_directory() && fs::exists(file))
        found.push_back(read_stage(file, g, stage.path().filename().string()));
    }
  }
  std::sort(found.begin(), found.end(), [](const StageStatus& a, const StageStatus& b) {
    const int ra = group_rank(a.group), rb = group_rank(b.group);
    return ra != rb ? ra < rb : (a.group != b.group ? a.group < b.group : a.name < b.name);
  });
  const fs::path plan = fs::path(path) / "stages.txt";
  if (!fs::exists(plan)) {
    if (superseded) *superseded = 0;
    return found;
  }
  std::ifstream in(plan);
  if (!in) GDPO_THROW(InputError, plan.string() << ": cannot be read");
  std::vector<StageStatus> stages;
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.empty()) continue;
    const auto slash = line.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == line.size() ||
        line.find('/', slash + 1) != std::string::npos)
      GDPO_THROW(InputError, plan.string() << ":" << lineno << ": not a GROUP/NAME stage: '" << line
                                           << "'");
    StageStatus s;
    s.group = line.substr(0, slash);
    s.name = line.substr(slash + 1);
    s.state = "planned";
    for (const auto& f : found)
      if (f.group == s.group && f.name == s.name) s = f;
    stages.push_back(std::move(s));
  }
  if (superseded) {
    int64_t listed_with_state = 0;
    for (const auto& s : stages) listed_with_state += s.state != "planned";
    *superseded = static_cast<int64_t>(found.size()) - listed_with_state;
  }
  return stages;
}

void describe_pipeline(const std::string& path, std::ostream& os) {
  int64_t superseded = 0;
  const auto stages = read_pipeline(path, &superseded);
  std::map<std::string, int> count;
  for (const auto& s : stages) ++count[s.state];
  os << "pipeline " << path << ": " << stages.size() << " stages";
  const char* const order[] = {"done",   "running", "requeued", "stopped",
                               "waiting", "failed",  "planned"};
  for (const char* state : order)
    if (count[state]) os << ", " << count[state] << " " << state;
  os << " (as their state files last recorded)";
  if (superseded) os << "; " << superseded << " stage directories of other configurations not shown";
  os << "\n";
  if (stages.empty()) {
    os << "no stage has been submitted yet\n";
    return;
  }
  size_t width = 5;
  for (const auto& s : stages) width = std::max(width, s.group.size() + 1 + s.name.size());
  os << std::left << std::setw(static_cast<int>(width) + 2) << "stage" << std::setw(10) << "state"
     << std::setw(14) << "job" << std::setw(10) << "restarts" << std::setw(6) << "exit"
     << "updated (UTC) on host\n";
  for (const auto& s : stages) {
    const std::string job =
        s.job.empty() ? "local" : (s.array_task.empty() ? s.job : s.job + "_" + s.array_task);
    os << std::left << std::setw(static_cast<int>(width) + 2) << (s.group + "/" + s.name)
       << std::setw(10) << s.state << std::setw(14) << job << std::setw(10) << s.restarts
       << std::setw(6) << (s.exit_code.empty() ? "-" : s.exit_code) << s.updated
       << (s.host.empty() ? "" : " on " + s.host) << "\n";
  }
  for (const char* result : {"table.md", "table.txt", "figure.png"})
    if (fs::exists(fs::path(path) / result)) os << "result: " << (fs::path(path) / result).string() << "\n";
  if (count["stopped"])
    os << count["stopped"] << " stage(s) stopped by SIGTERM after a checkpoint (a cancel, or a "
          "preemption that Slurm requeues itself): run the same jobs/ command again to resume\n";
  if (count["failed"])
    os << count["failed"] << " stage(s) failed (their logs are in " << (fs::path(path) / "logs").string()
       << "): the stages after them do not start (Slurm cancels them); fix the cause and run the "
          "same jobs/ command again: finished stages are skipped\n";
}

}  // namespace gdpo::app
