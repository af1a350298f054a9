// The [model] option group shared by every subcommand that needs a model: either a Hugging Face
// folder (--model.path) or a config name/INI file for random init (--model.config, --model.seed),
// in --model.dtype.
#pragma once
#include <cstdint>
#include <string>

#include "gdpo/cli/options.hpp"
#include "gdpo/model/causal_lm.hpp"

namespace gdpo::model {

struct ModelOptions {
  std::string path;             // Hugging Face folder (config.json + safetensors)
  std::string config;           // preset name (configs/models/<name>.ini) or INI path
  int64_t seed = 0;             // random init seed with --model.config
  std::string dtype = "float32";  // float32 | bfloat16

  // Adds the options to group "model" and a check that exactly one of path/config is given and
  // that the dtype is known (UsageError naming the options). A subcommand may preset `config`
  // before bind(); an explicit --model.path then replaces it.
  void bind(cli::OptionSet& set);
  // The same checks, for options filled in by code.
  void check() const;
};

// The model the options describe (checks them first).
CausalLMPtr load_model(const ModelOptions& options);

}  // namespace gdpo::model
