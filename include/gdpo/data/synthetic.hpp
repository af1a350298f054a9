// A controllable-opinion generator with known p* per question, for the embedded default, tests and
// benchmarks: Q questions with K beliefs, p* ~ Dirichlet(alpha) (or given), chosen belief ~ p*,
// rejected belief != chosen, and short responses from which the belief is readable. Deterministic
// from the seed on every platform.
#pragma once
#include <cstdint>
#include <vector>

#include "gdpo/data/record.hpp"

namespace gdpo::data {

struct SyntheticConfig {
  int64_t questions = 32;
  int64_t beliefs = 4;             // K, 2..10 (ids are the digits 0..K-1)
  int64_t pairs_per_question = 8;
  double alpha = 1.0;              // Dirichlet concentration of p*
  std::vector<double> probabilities;  // if non-empty: the p* of every question ([K], sums to 1)
  uint64_t seed = 0;
};

// An opinion dataset; throws UsageError (naming the option) on a bad configuration.
Dataset make_synthetic(const SyntheticConfig& config);

}  // namespace gdpo::data
