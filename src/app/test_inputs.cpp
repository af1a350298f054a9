#include "test_inputs.hpp"

#include <filesystem>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/data/test_split.hpp"
#include "gdpo/model/model_config.hpp"

namespace gdpo::app {

TestInputs load_test_inputs(const model::ModelSource& model_source,
                            const std::string& tokenizer_path, const data::DataConfig& data,
                            eval::GenerationConfig* generation) {
  TestInputs in;
  in.tokenizer = tokenizer::load_tokenizer(tokenizer_path);
  std::ostringstream data_log;
  const auto datasets = data::load_test_data(data, &data_log);
  std::istringstream lines(data_log.str());
  for (std::string line; std::getline(lines, line);) log::info(line);
  in.policy = eval::load_policy(model_source);
  const auto& mc = in.policy.model->config();
  if (in.tokenizer->vocab_size() > mc.vocab_size)
    throw UsageError("the tokenizer (" + in.tokenizer->name() + ") has " +
                     std::to_string(in.tokenizer->vocab_size()) + " tokens but the model only " +
                     std::to_string(mc.vocab_size) + " (--tokenizer.path / --model.*)");
  // GPT-2 has a learned table of max_positions positions; GPT-NeoX's rotary ones do not end.
  const int64_t positions = mc.family == model::Family::kGpt2 ? mc.max_positions : 0;
  if (generation && positions > 0 && generation->max_length > positions)
    generation->max_length = positions;
  int64_t question_offset = 0;
  for (size_t f = 0; f < datasets.size(); ++f) {
    const auto& d = datasets[f];
    if (f == 0) in.kind = d.kind;
    if (d.kind != in.kind)
      throw UsageError(d.source + ": " + data::kind_name(d.kind) + " data among " +
                       data::kind_name(in.kind) + " data (evaluate one kind at a time)");
    auto rows = eval::make_test_rows(d, *in.tokenizer, positions > 0 ? positions - 1 : 0);
    const std::string stem = std::filesystem::path(d.source).stem().string();
    for (auto& r : rows) {
      r.question += question_offset;
      r.dataset = stem;
      in.rows.push_back(std::move(r));
    }
    question_offset += static_cast<int64_t>(d.questions.size());
    if (in.data_name.find(stem) == std::string::npos)
      in.data_name += (in.data_name.empty() ? "" : "+") + stem;
  }
  if (in.rows.empty()) throw UsageError("the test data has no question with a pair");
  return in;
}

}  // namespace gdpo::app
