// What the `gdpo data` commands that write JSONL share: --data.output, --data.split-output,
// --data.split and --data.seed, and writing a dataset (whole, or split by question) with a report.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "gdpo/app/options.hpp"
#include "gdpo/data/record.hpp"

namespace gdpo::app {

struct DataOutput {
  std::string output;
  bool split_output = false;
  std::array<double, 3> split = {0.8, 0.1, 0.1};
  int64_t seed = 0;

  // Registers the options in group "data" (split-output only when `split_flag`).
  void bind(OptionSet& set, bool split_flag = true);
  // Writes `data` to `output`, or to its _train/_eval/_test siblings when split_output; prints what
  // was written and the skip counts. InputError when there are no pairs.
  void write(const data::Dataset& data) const;
};

}  // namespace gdpo::app
