#include "gdpo/data/synthetic.hpp"

#include <cmath>
#include <string>

#include "gdpo/core/error.hpp"
#include "gdpo/data/random.hpp"

namespace gdpo::data {

namespace {

struct Topic {
  const char* name;
  const char* words[10];
};

// Short words keep every rendered pair far below the 256 positions of the embedded tiny model.
const Topic kTopics[] = {
    {"color", {"red", "blue", "green", "gold", "gray", "pink", "teal", "tan", "lime", "navy"}},
    {"fruit", {"apple", "pear", "plum", "fig", "kiwi", "lemon", "mango", "peach", "lime", "date"}},
    {"pet", {"cat", "dog", "fish", "bird", "frog", "rat", "snake", "horse", "goat", "duck"}},
    {"city", {"Rome", "Oslo", "Lima", "Kyiv", "Doha", "Bern", "Riga", "Lagos", "Quito", "Hue"}},
};
const char* kTemplates[] = {"I pick {}.", "{}, surely.", "My view: {}.", "It is {}."};
// Reviews: a rating's word rises with the rating (K words spread over these ten).
const char* kReviewWords[] = {"dire", "awful", "poor", "weak", "fine",
                              "decent", "good", "great", "superb", "perfect"};
const char* kReviewTemplates[] = {" stars: a {} film.", " stars, {} acting.", " stars. {} fun.",
                                  " stars: {} plot."};
static_assert(sizeof kReviewTemplates == sizeof kTemplates, "one template draw for both kinds");

std::string fill(const char* tmpl, const std::string& word) {
  std::string s = tmpl;
  s.replace(s.find("{}"), 2, word);
  return s;
}

}  // namespace

Dataset make_synthetic(const SyntheticConfig& c) {
  const bool review = c.kind == DatasetKind::kReview;
  const int64_t max_beliefs = review ? 9 : 10;  // one digit per rating
  if (c.beliefs < 2 || c.beliefs > max_beliefs)
    GDPO_THROW(UsageError, "--data.beliefs: " << c.beliefs << " is outside 2.." << max_beliefs
                                              << (review ? " (review ratings are one digit)" : ""));
  if (c.questions < 1) GDPO_THROW(UsageError, "--data.questions: must be >= 1");
  if (c.pairs_per_question < 1) GDPO_THROW(UsageError, "--data.pairs-per-question: must be >= 1");
  if (!(c.alpha > 0) || !std::isfinite(c.alpha))
    GDPO_THROW(UsageError, "--data.alpha: must be > 0 (got " << c.alpha << ")");
  if (!c.probabilities.empty()) {
    if (static_cast<int64_t>(c.probabilities.size()) != c.beliefs)
      GDPO_THROW(UsageError, "--data.probabilities: " << c.probabilities.size()
                                                      << " values for " << c.beliefs << " beliefs");
    double sum = 0;
    for (double p : c.probabilities) {
      if (!(p >= 0) || !std::isfinite(p))
        GDPO_THROW(UsageError, "--data.probabilities: " << p << " is not a probability");
      sum += p;
    }
    if (std::fabs(sum - 1) > 1e-6)
      GDPO_THROW(UsageError, "--data.probabilities: the values sum to " << sum << ", not 1");
  }

  Rng rng(c.seed);
  Dataset data;
  data.kind = c.kind;
  data.source = "synthetic(seed=" + std::to_string(c.seed) + ")";
  const int64_t n_topics = sizeof kTopics / sizeof kTopics[0];
  const int64_t n_templates = sizeof kTemplates / sizeof kTemplates[0];
  for (int64_t qi = 0; qi < c.questions; ++qi) {
    const Topic& topic = kTopics[qi % n_topics];
    Question q;
    const int64_t shift = (qi / n_topics) % 10;
    if (review) {
      q.prompt = "Review movie M" + std::to_string(qi) + ".";
      for (int64_t k = 0; k < c.beliefs; ++k) {
        q.options.push_back(std::to_string(k + 1));
        q.belief_ids.push_back(std::to_string(k + 1));
      }
    } else {
      q.prompt = "Q" + std::to_string(qi) + " favorite " + topic.name + "?";
      for (int64_t k = 0; k < c.beliefs; ++k) {
        q.options.push_back(topic.words[(shift + k) % 10]);
        q.belief_ids.push_back(std::to_string(k));
      }
    }
    q.probabilities = c.probabilities.empty() ? rng.dirichlet(c.beliefs, c.alpha) : c.probabilities;
    const int64_t question = static_cast<int64_t>(data.questions.size());
    for (int64_t n = 0; n < c.pairs_per_question; ++n) {
      Pair p;
      p.question = question;
      p.chosen = rng.categorical(q.probabilities);
      p.rejected = rng.below(c.beliefs - 1);
      if (p.rejected >= p.chosen) ++p.rejected;
      if (review) {
        const auto word = [&](int64_t k) { return kReviewWords[k * 10 / c.beliefs]; };
        p.chosen_response = fill(kReviewTemplates[rng.below(n_templates)], word(p.chosen));
        p.rejected_response = fill(kReviewTemplates[rng.below(n_templates)], word(p.rejected));
      } else {
        p.chosen_response = fill(kTemplates[rng.below(n_templates)], q.options[p.chosen]);
        p.rejected_response = fill(kTemplates[rng.below(n_templates)], q.options[p.rejected]);
      }
      data.pairs.push_back(std::move(p));
    }
    data.questions.push_back(std::move(q));
  }
  return data;
}

}  // namespace gdpo::data
