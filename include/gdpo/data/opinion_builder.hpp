// Builds opinion preference pairs from Global Opinion QA (CSV with Python-literal columns, or JSON
// lines): one country's answer distribution is p*, options map to beliefs by position or through the
// authors' option map, and N pairs per question have chosen beliefs drawn from p* (seeded) and
// rejected beliefs that differ. Answer texts come from an answers file or built-in styled templates.
// Every input file may start with a UTF-8 byte-order mark.
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
  // The country's values may sum to 1 +- tolerance; they are then rescaled to sum to 1. Survey
  // values are rounded (Global Opinion QA to 2-3 decimals: the sample's sums are off by up to 0.003;
  // rounding K values to whole percents moves a sum by at most K * 0.005, 0.05 for 10 options). A sum
  // further off (0.4, 7) is a bad row, not rounding.
  double tolerance = 0.05;
};

// Throws InputError "file:line[:column]: ..." on bad input (unless skip_invalid, which skips and
// counts bad rows and bad lines of the answers file in Dataset::skipped). A bad row: malformed CSV,
// JSON or Python literal (a lone UTF-16 surrogate escape included), a field of the wrong type, a
// value of the country negative, not finite, of the wrong count or summing to 1 only beyond
// `tolerance`, an option text that is empty or listed twice, an option missing from the option map.
// Questions without the country, or with fewer than two beliefs, are skipped and counted in
// Dataset::skipped; answers that came from templates are counted in Dataset::notes.
// A question is its text AND its (final) options: a text that recurs with other options is another
// question, kept (two records with one prompt). A row that repeats an earlier question exactly is
// merged into it (dropped, counted in Dataset::notes) when the country's values are the same, and is
// a bad row naming the earlier line when they differ.
Dataset build_opinion(const std::string& input_path, const OpinionBuildConfig& config);

// The built-in answer of `style` ("formal", "casual", "first-person") stating `option`.
std::string template_answer(const std::string& style, const std::string& option);
extern const char* const kAnswerStyles[3];

}  // namespace gdpo::data
