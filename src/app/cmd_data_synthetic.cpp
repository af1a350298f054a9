// `gdpo data synthetic`: controllable-opinion pairs with a known p* per question (fixed, or drawn
// from a Dirichlet), for the embedded default and the tests.
#include <iostream>
#include <sstream>

#include "command.hpp"
#include "data_output.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/synthetic.hpp"

namespace gdpo::app {

int cmd_data_synthetic(const Args& args) {
  using namespace data;
  OptionSet set("gdpo data synthetic", "synthetic controllable-opinion (or movie-review) pairs with known p*");
  SyntheticConfig c;
  DataOutput out;
  std::string probs;
  set.group("data")
      .choice("kind", &c.kind, {{"opinion", DatasetKind::kOpinion}, {"review", DatasetKind::kReview}},
              "opinion: `{id}<{option}>{text}`, ids 0..K-1; review: `{rating}{text}`, ratings 1..K")
      .add("questions", &c.questions, "number of questions")
      .add("beliefs", &c.beliefs, "K beliefs per question (2..10; reviews 2..9)")
      .add("pairs-per-question", &c.pairs_per_question, "pairs per question")
      .add("alpha", &c.alpha, "Dirichlet concentration of p*")
      .add("probabilities", &probs, "fixed p* for every question, e.g. 0.6,0.3,0.1 (empty: Dirichlet)");
  out.bind(set);
  if (!set.parse(args)) return 0;
  std::stringstream ss(probs);
  for (std::string item; std::getline(ss, item, ',');) {
    char* end = nullptr;
    c.probabilities.push_back(std::strtod(item.c_str(), &end));
    if (item.empty() || *end != '\0')
      GDPO_THROW(UsageError, "--data.probabilities: '" << item << "' is not a number");
  }
  c.seed = static_cast<uint64_t>(out.seed);
  out.write(make_synthetic(c));
  return 0;
}

}  // namespace gdpo::app
