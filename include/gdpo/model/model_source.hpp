// Where a model comes from: a Hugging Face folder (`path`), or a config name/INI file built with
// random weights (`config`, `seed`), in a parameter dtype. The app binds it to `[model]`.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "gdpo/model/causal_lm.hpp"

namespace gdpo::model {

struct ModelSource {
  std::string path;    // Hugging Face folder (config.json + safetensors)
  std::string config;  // preset name (configs/models/<name>.ini) or INI path
  int64_t seed = 0;    // random init seed with `config`
  torch::ScalarType dtype = torch::kFloat32;  // float32 | bfloat16

  // "the folder" or "the config", for messages.
  std::string describe() const { return path.empty() ? config : path; }
};

// UsageError naming the options unless exactly one of path/config is given, seed >= 0 and the
// dtype is float32 or bfloat16.
void validate(const ModelSource& source);

// The model the source describes (validated first).
CausalLMPtr load_model(const ModelSource& source);

}  // namespace gdpo::model
