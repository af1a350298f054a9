#include "gdpo/model/model_options.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/model/model_factory.hpp"

namespace gdpo::model {

void ModelOptions::bind(cli::OptionSet& set) {
  set.group("model", "[model] the policy model")
      .add("path", &path, "Hugging Face model folder (config.json + model.safetensors)")
      .add("config", &config,
           "model config for random init: a name in configs/models/ (gpt2, pythia-160m, "
           "tiny-gpt2, ...) or an INI file")
      .add("seed", &seed, "random init seed (with --model.config)")
      .add("dtype", &dtype, "parameter dtype: float32 or bfloat16");
  set.validate([this, &set] {
    // A default config (a subcommand's preset) yields to a path given explicitly.
    if (!path.empty() && !config.empty() && !set.given("model.config")) config.clear();
    check();
  });
}

void ModelOptions::check() const {
  if (path.empty() == config.empty())
    GDPO_THROW(UsageError, "give exactly one of --model.path (a model folder) and --model.config "
                           "(a config for random init)"
                               << (path.empty() ? "" : ", not both"));
  if (seed < 0) GDPO_THROW(UsageError, "--model.seed must be non-negative, got " << seed);
  parse_dtype(dtype, "--model.dtype");
}

CausalLMPtr load_model(const ModelOptions& options) {
  options.check();
  const torch::ScalarType dtype = parse_dtype(options.dtype, "--model.dtype");
  if (!options.path.empty()) {
    if (!is_hf_model_folder(options.path))
      GDPO_THROW(UsageError, "--model.path '" << options.path
                                              << "' is not a model folder (no config.json)");
    return load_hf_model(options.path, dtype);
  }
  return build_model(load_model_config(options.config), static_cast<uint64_t>(options.seed), dtype);
}

}  // namespace gdpo::model
