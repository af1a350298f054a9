// Train/eval/test splits by question (a question never lands in two splits), deterministic from a
// seed, with configurable ratios.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "gdpo/data/record.hpp"

namespace gdpo::data {

enum SplitName : int { kTrain = 0, kEval = 1, kTest = 2 };
const char* split_name(int split);

// "0.8,0.1,0.1" (or two values "0.9,0.1": no test split); each >= 0, summing to 1 within 1e-6.
// Throws UsageError naming `option`.
std::array<double, 3> parse_split_ratios(const std::string& text, const std::string& option);

// The split of each of `questions` questions: counts by largest remainder of ratio x questions, a
// seeded shuffle assigns them. A split with a positive ratio that gets no question is an InputError
// naming `source`.
std::vector<int> assign_splits(int64_t questions, const std::array<double, 3>& ratios,
                               uint64_t seed, const std::string& source);

// The three datasets (questions keep their file order within each).
std::array<Dataset, 3> split_dataset(const Dataset& data, const std::array<double, 3>& ratios,
                                     uint64_t seed);

}  // namespace gdpo::data
