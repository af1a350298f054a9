#include "gdpo/eval/policy_source.hpp"

#include <filesystem>

#include "gdpo/core/error.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/checkpoint.hpp"

namespace gdpo::eval {

namespace fs = std::filesystem;

namespace {

LoadedPolicy from_checkpoint(const std::string& path, torch::ScalarType dtype) {
  const auto info = train::read_checkpoint_info(path);
  auto policy = model::make_model(model::config_from_hf_json(info.model_config_json, path));
  train::load_checkpoint(path, policy.get(), nullptr);
  policy->to(dtype);
  return {policy, path + " (checkpoint, step " + std::to_string(info.state.step) + ")"};
}

}  // namespace

LoadedPolicy load_policy(const model::ModelSource& source) {
  model::validate(source);
  const std::string& path = source.path;
  if (path.empty()) return {model::load_model(source), source.config + " (random weights)"};
  if (model::is_hf_model_folder(path))
    return {model::load_hf_model(path, source.dtype), path + " (Hugging Face folder)"};
  if (fs::is_directory(path)) {
    const std::string exported = (fs::path(path) / "model").string();
    if (model::is_hf_model_folder(exported))
      return {model::load_hf_model(exported, source.dtype), exported + " (the run's exported model)"};
    if (fs::is_directory(fs::path(path) / "checkpoints")) {
      train::CheckpointDirectory dir(path);
      if (auto best = dir.find_best()) return from_checkpoint(*best, source.dtype);
      if (auto latest = dir.find_latest()) return from_checkpoint(*latest, source.dtype);
    }
    GDPO_THROW(UsageError, "--model.path '" << path
                                            << "' is a folder with neither config.json, model/ nor a "
                                               "checkpoint in checkpoints/");
  }
  if (fs::is_regular_file(path)) return from_checkpoint(path, source.dtype);
  GDPO_THROW(UsageError, "--model.path '" << path << "' does not exist");
}

}  // namespace gdpo::eval
