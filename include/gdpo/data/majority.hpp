// The group's majority belief: the index of the largest p*(b|x), the first one on ties. One
// definition for the records, the batches (chosen_is_majority) and the evaluation metrics.
#pragma once
#include <cstdint>
#include <iterator>

namespace gdpo::data {

// Index in [0, last - first) of the first largest value; 0 for an empty range.
template <class It>
int64_t majority_belief(It first, It last) {
  int64_t best = 0, k = 0;
  for (It it = first; it != last; ++it, ++k)
    if (*it > *std::next(first, best)) best = k;
  return best;
}

}  // namespace gdpo::data
