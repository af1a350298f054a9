#include "gdpo/model/model_source.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/model/model_factory.hpp"

namespace gdpo::model {

void validate(const ModelSource& s) {
  if (s.path.empty() == s.config.empty())
    GDPO_THROW(UsageError, "give exactly one of --model.path (a model folder) and --model.config "
                           "(a config for random init)"
                               << (s.path.empty() ? "" : ", not both"));
  if (s.seed < 0) GDPO_THROW(UsageError, "--model.seed must be non-negative, got " << s.seed);
  if (s.dtype != torch::kFloat32 && s.dtype != torch::kBFloat16)
    GDPO_THROW(UsageError, "--model.dtype must be float32 or bfloat16");
}

CausalLMPtr load_model(const ModelSource& s) {
  validate(s);
  if (!s.path.empty()) {
    if (!is_hf_model_folder(s.path))
      GDPO_THROW(UsageError, "--model.path '" << s.path << "' is not a model folder (no config.json)");
    return load_hf_model(s.path, s.dtype);
  }
  return build_model(load_model_config(s.config), static_cast<uint64_t>(s.seed), s.dtype);
}

}  // namespace gdpo::model
