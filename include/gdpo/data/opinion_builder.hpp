// Builds opinion preference pairs from Global Opinion QA (CSV with Python-literal columns, or JSON
// lines): one country's answer distribution is p*, options map to beliefs by position or through the
// authors' option map, and N pairs per question have chosen beliefs drawn from p* (seeded) and
// rejected beliefs that differ. Answer texts come from an answers file or built-in styled templates.
#pragma once
#include <cstdint>
#include <string>

#include "gdpo/data/record.hpp"

namespace gdpo::data {

struct OpinionBuildConfig {
  std::string country = "United States";
  std::string option_map;             // JSON {option text: belief 0-5}; "" maps by position
  std::string belief_ids = "index0";  // positional ids: index0 (0..K-1) | letters (A..)
  std::string answers;                // JSONL {question, option|belief, text|texts}; "" = templates
  int64_t pairs_per_question = 10;
  uint64_t seed = 0;
  bool skip_invalid = false;          // skip (and count) bad rows instead of throwing InputError
};

// Throws InputError "file:line[:column]: ..." on bad input (unless skip_invalid). Questions without
// the country, or with fewer than two beliefs, are skipped and counted in Dataset::skipped; answers
// that came from templates are counted in Dataset::notes.
Dataset build_opinion(const std::string& input_path, const OpinionBuildConfig& config);

// The built-in answer of `style` ("formal", "casual", "first-person") stating `option`.
std::string template_answer(const std::string& style, const std::string& option);
extern const char* const kAnswerStyles[3];

}  // namespace gdpo::data
