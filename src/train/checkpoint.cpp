#include "gdpo/train/checkpoint.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <mutex>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>

#include "gdpo/core/error.hpp"
#include "gdpo/core/fault_injection.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/core/version.hpp"
#include "gdpo/io/atomic_file.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/train/checkpoint_shards.hpp"
#include "checkpoint_format.hpp"

namespace gdpo::train {

namespace fs = std::filesystem;

namespace detail {

void write_checkpoint_state(io::H5File& f, const CheckpointContent& c) {
  const auto& s = c.state;
  f.set_attr("/", "format", kCheckpointFormat);
  f.set_attr("/", "format_version", kCheckpointFormatVersion);
  f.set_attr("/", "gdpo_version", version());
  f.set_attr("/", "step", s.step);
  f.set_attr("/", "examples", s.examples);
  f.set_attr("/", "epoch", s.cursor.epoch);
  f.set_attr("/", "position", s.cursor.position);
  f.set_attr("/", "dataset_size", s.dataset_size);
  f.set_attr("/", "world_size", s.world_size);
  f.set_attr("/", "threads", s.threads);
  f.set_attr("/", "best_metric", s.best_metric);
  f.set_attr("/", "best_step", s.best_step);
  f.set_attr("/", "evals_without_improvement", s.evals_without_improvement);
  f.set_attr("/", "evaluations", s.evaluations);
  f.set_attr("/", "last_eval_step", s.last_eval_step);
  f.set_attr("/", "stopped_early", static_cast<int64_t>(s.stopped_early));
  f.set_attr("/", "reference_fingerprint", c.reference_fingerprint);
  f.write_string("config_ini", c.config_ini);
  f.write_string("model_config_json", c.model_config_json);
}

CheckpointContent read_checkpoint_state(const io::H5File& f) {
  const std::string& path = f.path();
  if (!f.has_attr("/", "format") || f.string_attr("/", "format") != kCheckpointFormat)
    throw InputError("'" + path + "' is not a gdpo checkpoint (no format = " + kCheckpointFormat +
                     ")");
  const int64_t v = f.int_attr("/", "format_version");
  if (v > kCheckpointFormatVersion)
    throw InputError("'" + path + "' has checkpoint format " + std::to_string(v) +
                     "; this gdpo reads up to " + std::to_string(kCheckpointFormatVersion));
  CheckpointContent c;
  auto& s = c.state;
  s.step = f.int_attr("/", "step");
  s.examples = f.int_attr("/", "examples");
  s.cursor.epoch = f.int_attr("/", "epoch");
  s.cursor.position = f.int_attr("/", "position");
  s.dataset_size = f.int_attr("/", "dataset_size");
  s.world_size = f.int_attr("/", "world_size");
  s.best_metric = f.double_attr("/", "best_metric");
  s.best_step = f.int_attr("/", "best_step");
  s.evals_without_improvement = f.int_attr("/", "evals_without_improvement");
  s.evaluations = f.int_attr("/", "evaluations");
  if (v >= 2) {
    s.last_eval_step = f.int_attr("/", "last_eval_step");
    s.threads = f.int_attr("/", "threads");
  }
  s.stopped_early = f.int_attr("/", "stopped_early") != 0;
  c.reference_fingerprint = f.string_attr("/", "reference_fingerprint");
  c.config_ini = f.read_string("config_ini");
  c.model_config_json = f.read_string("model_config_json");
  return c;
}

// The default CPU generator's state (sampling in generation; dropout would use it too).
std::string rng_state_bytes() {
  auto gen = at::detail::getDefaultCPUGenerator();
  torch::Tensor state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    state = gen.get_state();  // uint8 [N]
  }
  return std::string(reinterpret_cast<const char*>(state.data_ptr<uint8_t>()),
                     static_cast<size_t>(state.numel()));
}

void restore_rng_state(const std::string& bytes) {
  auto state = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(state.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace detail

void save_checkpoint(const std::string& path, const model::CausalLM& policy,
                     const Optimizer& optimizer, const CheckpointContent& content) {
  io::write_h5_atomic(path, [&](io::H5File& f) {
    for (const auto& [name, tensor] : policy.hf_state_dict())
      f.write_tensor("policy/" + name, tensor);
    fault::on_checkpoint_write();
    f.set_attr("/", "optimizer", optimizer.kind());
    for (const auto& [name, tensor] : optimizer.state())
      f.write_tensor("optimizer/" + name, tensor);
    f.write_bytes("rng/torch_cpu", detail::rng_state_bytes());
    f.set_attr("/", "layout", "single");
    detail::write_checkpoint_state(f, content);
  });
}

namespace {

// The tensors `prefix`/<name> of checkpoint `t` for every name of `current`, each in the current
// tensor's dtype and checked against its shape (InputError naming the file and the tensor
// otherwise).
std::vector<std::pair<std::string, torch::Tensor>> read_like(
    const CheckpointTensors& t, const std::string& prefix,
    const std::vector<std::pair<std::string, torch::Tensor>>& current) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [name, tensor] : current)
    out.emplace_back(name, t.read(prefix + "/" + name, tensor.scalar_type(), tensor.sizes()));
  return out;
}

}  // namespace

CheckpointContent load_checkpoint(const std::string& path, model::CausalLM* policy,
                                  Optimizer* optimizer) {
  CheckpointTensors t(path);
  CheckpointContent content = detail::read_checkpoint_state(t.file());
  if (policy) policy->load_hf_state_dict(read_like(t, "policy", policy->hf_state_dict()));
  if (optimizer) {
    const std::string kind = t.optimizer_kind();
    if (kind != optimizer->kind())
      throw InputError("checkpoint '" + path + "' holds " + kind + " state but the run uses " +
                       optimizer->kind() + " (--train.optimizer)");
    optimizer->load_state(read_like(t, "optimizer", optimizer->state()));
  }
  detail::restore_rng_state(t.file().read_bytes("rng/torch_cpu"));
  return content;
}

CheckpointContent read_checkpoint_info(const std::string& path) {
  const auto f = io::H5File::open_read(path);
  CheckpointContent content = detail::read_checkpoint_state(f);
  if (detail::is_sharded(f)) detail::check_shards_present(f);
  return content;
}

CheckpointDirectory::CheckpointDirectory(std::string run_dir)
    : run_dir_(std::move(run_dir)), dir_((fs::path(run_dir_) / "checkpoints").string()) {}

std::string CheckpointDirectory::path_for_step(int64_t step) const {
  char name[64];
  std::snprintf(name, sizeof name, "step-%08lld.h5", static_cast<long long>(step));
  return (fs::path(dir_) / name).string();
}

namespace {

// "step-00000042.shards" folders of `dir`.
std::vector<fs::path> shard_folders(const std::string& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  static const std::regex pattern("step-[0-9]{8,}\\.shards");
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory() && std::regex_match(e.path().filename().string(), pattern))
      out.push_back(e.path());
  return out;
}

// A checkpoint and its shards: the manifest first, so that a kill in between leaves a .shards
// folder without manifest (ignored, removed by the next pruning) rather than a manifest without
// shards.
void remove_checkpoint(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
  fs::remove_all(shards_directory(path), ec);
}

}  // namespace

std::vector<std::string> CheckpointDirectory::list() const {
  std::vector<std::string> out;
  if (!fs::is_directory(dir_)) return out;
  static const std::regex pattern("step-[0-9]{8,}\\.h5");
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.is_regular_file() && std::regex_match(e.path().filename().string(), pattern))
      out.push_back(e.path().string());
  // Zero-padded names sort by step (steps beyond 8 digits are longer: sort by length first).
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return out;
}

std::optional<std::string> CheckpointDirectory::read_pointer(const std::string& name) const {
  std::ifstream in(fs::path(run_dir_) / name);
  std::string file;
  if (!in || !std::getline(in, file) || file.empty()) return std::nullopt;
  return (fs::path(dir_) / file).string();
}

std::optional<std::string> CheckpointDirectory::find_best() const {
  auto p = read_pointer("best");
  if (p && fs::exists(*p)) return p;
  return std::nullopt;
}

std::optional<std::string> CheckpointDirectory::find_latest() const {
  auto readable = [](const std::string& path) {
    try {
      read_checkpoint_info(path);
      return true;
    } catch (const std::exception& e) {
      log::warn("skipping unreadable checkpoint: ", e.what());
      return false;
    }
  };
  if (auto p = read_pointer("latest"); p && fs::exists(*p) && readable(*p)) return p;
  auto all = list();
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (readable(*it)) return *it;
  return std::nullopt;
}

void CheckpointDirectory::mark_best(const std::string& checkpoint_path) {
  io::write_file_atomic((fs::path(run_dir_) / "best").string(),
                        fs::path(checkpoint_path).filename().string() + "\n");
}

std::string CheckpointDirectory::save(const model::CausalLM& policy, const Optimizer& optimizer,
                                      const CheckpointContent& content, bool is_best,
                                      int64_t keep_last) {
  fs::create_directories(dir_);
  const std::string path = path_for_step(content.state.step);
  save_checkpoint(path, policy, optimizer, content);
  std::error_code ec;
  fs::remove_all(shards_directory(path), ec);  // shards of an earlier sharded save of this step
  finish_save(path, is_best, keep_last);
  return path;
}

std::string CheckpointDirectory::commit_sharded(int world, const std::string& optimizer_kind,
                                                int64_t optimizer_step,
                                                const CheckpointContent& content, bool is_best,
                                                int64_t keep_last) {
  const std::string path = path_for_step(content.state.step);
  save_sharded_manifest(path, world, optimizer_kind, optimizer_step, content);
  finish_save(path, is_best, keep_last);
  return path;
}

void CheckpointDirectory::finish_save(const std::string& path, bool is_best, int64_t keep_last) {
  const std::string file = fs::path(path).filename().string() + "\n";
  io::write_file_atomic((fs::path(run_dir_) / "latest").string(), file);
  if (is_best) mark_best(path);
  prune(keep_last);
}

void CheckpointDirectory::prune(int64_t keep_last) {
  const auto best = find_best();
  auto all = list();
  const int64_t excess = static_cast<int64_t>(all.size()) - keep_last;
  for (int64_t i = 0; i < excess; ++i) {
    if (best && fs::equivalent(all[i], *best)) continue;
    remove_checkpoint(all[i]);
  }
  // Shards of attempts killed before their manifest (no rank writes shards while this runs).
  for (const auto& folder : shard_folders(dir_)) {
    fs::path manifest = folder;
    manifest.replace_extension(".h5");
    std::error_code ec;
    if (!fs::exists(manifest, ec)) fs::remove_all(folder, ec);
  }
}

}  // namespace gdpo::train
