// The test data of a configuration: the `--data.test` files, or the test share of the split of the
// training files, the same questions training held out (assign_splits over the same question count
// and seed as load_data), so evaluation never sees a training question.
#pragma once
#include <ostream>
#include <vector>

#include "gdpo/data/data_config.hpp"
#include "gdpo/data/record.hpp"

namespace gdpo::data {

// One Dataset per file, in order (a file can contribute no question). UsageError when there are
// neither test files nor a test share in --data.split, or no test question at all.
std::vector<Dataset> load_test_data(const DataConfig& config, std::ostream* log = nullptr);

}  // namespace gdpo::data
