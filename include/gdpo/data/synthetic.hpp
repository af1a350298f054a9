// A controllable-opinion (or movie-review) generator with known p* per question, for the embedded
// default, tests, benchmarks and the pipelines' smoke sizes: Q questions with K beliefs,
// p* ~ Dirichlet(alpha) (or given), chosen belief ~ p*, rejected belief != chosen, and short
// responses from which the belief is readable. Deterministic from the seed on every platform.
#pragma once
#include <cstdint>
#include <vector>

#include "gdpo/data/record.hpp"

namespace gdpo::data {

struct SyntheticConfig {
  // kOpinion: `{id}<{option}>{text}` with ids 0..K-1 and word options; kReview: `{rating}{text}`
  // with ratings 1..K as the review builder writes them (options "1".."K").
  DatasetKind kind = DatasetKind::kOpinion;
  int64_t questions = 32;
  int64_t beliefs = 4;             // K, 2..10 (opinion ids 0..K-1) or 2..9 (review ratings 1..K)
  int64_t pairs_per_question = 8;
  double alpha = 1.0;              // Dirichlet concentration of p*
  std::vector<double> probabilities;  // if non-empty: the p* of every question ([K], sums to 1)
  uint64_t seed = 0;
};

// The dataset; throws UsageError (naming the option) on a bad configuration.
Dataset make_synthetic(const SyntheticConfig& config);

}  // namespace gdpo::data
