// `gdpo data build-reviews`: preference pairs from Amazon movie reviews (SNAP movies.txt or JSON
// lines), p* the distribution of a movie's star ratings.
#include <iostream>

#include "command.hpp"
#include "data_output.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/review_builder.hpp"

namespace gdpo::app {

int cmd_data_build_reviews(const Args& args) {
  using namespace data;
  OptionSet set("gdpo data build-reviews",
                "preference pairs from Amazon movie reviews (SNAP movies.txt or JSON lines)");
  std::vector<std::string> inputs;
  ReviewBuildConfig c;
  DataOutput out;
  bool skip_invalid = false;
  set.group("data")
      .add("input", &inputs, "review files (repeatable)")
      .add("min-reviews", &c.min_reviews, "skip movies with fewer reviews")
      .add("pairs-per-question", &c.pairs_per_question, "max pairs per movie (0: one per review)")
      .flag("skip-invalid", &skip_invalid, "skip bad records (counted) instead of failing");
  set.positional("data.input", -1);
  out.bind(set);
  if (!set.parse(args)) return 0;
  if (inputs.empty()) GDPO_THROW(UsageError, "gdpo data build-reviews: give review files");
  c.seed = static_cast<uint64_t>(out.seed);
  c.skip_invalid = skip_invalid;
  out.write(build_reviews(inputs, c));
  return 0;
}

}  // namespace gdpo::app
