// The model a generation or evaluation reads: `--model.path` names a Hugging Face folder, a gdpo run
// directory (its exported model/, else its best checkpoint, else its latest) or one checkpoint file
// (checkpoints/step-*.h5: the policy's config.json is stored in it); `--model.config` builds random
// weights as for training.
#pragma once
#include <string>

#include "gdpo/model/causal_lm.hpp"
#include "gdpo/model/model_source.hpp"

namespace gdpo::eval {

struct LoadedPolicy {
  model::CausalLMPtr model;
  std::string description;  // "run/model (Hugging Face folder)", "run/checkpoints/step-...h5", ...
};

// UsageError naming --model.path when it is none of the above.
LoadedPolicy load_policy(const model::ModelSource& source);

}  // namespace gdpo::eval
