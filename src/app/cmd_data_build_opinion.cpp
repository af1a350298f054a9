// `gdpo data build-opinion`: preference pairs from Global Opinion QA (CSV or JSON lines), p* the
// answer distribution of one country.
#include <iostream>

#include "command.hpp"
#include "data_output.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/opinion_builder.hpp"

namespace gdpo::app {

int cmd_data_build_opinion(const Args& args) {
  using namespace data;
  OptionSet set("gdpo data build-opinion",
                "preference pairs from Global Opinion QA (CSV or JSON lines)");
  std::string input;
  OpinionBuildConfig c;
  DataOutput out;
  bool skip_invalid = false;
  set.group("data")
      .required("input", &input, "Global Opinion QA file (CSV or JSON lines)")
      .add("country", &c.country, "the group whose answer distribution is p*")
      .add("option-map", &c.option_map, "JSON {option: 0-5 belief}; empty maps options by position")
      .add("belief-ids", &c.belief_ids, "positional ids: index0 | letters")
      .add("answers", &c.answers, "JSONL answer texts {question, option|belief, text|texts}; "
                                  "empty: built-in templates")
      .add("tolerance", &c.tolerance,
           "allowed |sum of the country's values - 1| (within it p* is rescaled to sum to 1)")
      .add("pairs-per-question", &c.pairs_per_question, "pairs built per question")
      .flag("skip-invalid", &skip_invalid, "skip bad rows (counted) instead of failing");
  set.positional("data.input", 1);
  out.bind(set);
  if (!set.parse(args)) return 0;
  c.seed = static_cast<uint64_t>(out.seed);
  c.skip_invalid = skip_invalid;
  out.write(build_opinion(input, c));
  return 0;
}

}  // namespace gdpo::app
