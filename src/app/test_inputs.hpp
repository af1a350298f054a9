// What `gdpo generate` and `gdpo evaluate` both load: the tokenizer, the test rows of the test data
// and the policy (a Hugging Face folder, run directory or checkpoint), checked against each other.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "gdpo/data/data_config.hpp"
#include "gdpo/eval/generator.hpp"
#include "gdpo/eval/policy_source.hpp"
#include "gdpo/eval/test_rows.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::app {

struct TestInputs {
  tokenizer::TokenizerPtr tokenizer;
  std::vector<eval::TestRow> rows;  // every test file's rows; `question` counts across the files
  data::DatasetKind kind = data::DatasetKind::kOpinion;
  std::string data_name;            // the test files' stems, "+"-joined
  eval::LoadedPolicy policy;
};

// Loads everything; with `generation`, caps its max_length at the model's positions (GPT-2).
TestInputs load_test_inputs(const model::ModelSource& model_source,
                            const std::string& tokenizer_path, const data::DataConfig& data,
                            eval::GenerationConfig* generation);

}  // namespace gdpo::app
