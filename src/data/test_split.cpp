#include "gdpo/data/test_split.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/data/split.hpp"

namespace gdpo::data {

std::vector<Dataset> load_test_data(const DataConfig& c, std::ostream* log) {
  std::vector<Dataset> out;
  if (!c.test_files.empty()) {
    for (const auto& f : c.test_files) out.push_back(read_records(f, c.read));
  } else {
    if (c.train_files.empty())
      GDPO_THROW(UsageError, "no test data: give --data.test, or --data.train with a test share "
                             "in --data.split");
    if (!c.eval_files.empty() || !(c.split[kTest] > 0))
      GDPO_THROW(UsageError,
                 "no test data: give --data.test, or a --data.split with a test share (e.g. "
                 "0.8,0.1,0.1) and no --data.eval");
    std::vector<Dataset> all;
    int64_t questions = 0;
    for (const auto& f : c.train_files) {
      all.push_back(read_records(f, c.read));
      questions += static_cast<int64_t>(all.back().questions.size());
    }
    const auto split =
        assign_splits(questions, c.split, static_cast<uint64_t>(c.seed), c.train_files.front());
    int64_t offset = 0;
    for (const Dataset& d : all) {
      std::vector<int64_t> members;
      for (size_t q = 0; q < d.questions.size(); ++q)
        if (split[offset + static_cast<int64_t>(q)] == kTest) members.push_back(static_cast<int64_t>(q));
      offset += static_cast<int64_t>(d.questions.size());
      out.push_back(d.subset(members));
    }
  }
  size_t total = 0;
  for (const Dataset& d : out) total += d.questions.size();
  if (total == 0) GDPO_THROW(UsageError, "the test data has no question (--data.test / --data.split)");
  if (log)
    *log << "data: " << total << " test questions"
         << (c.test_files.empty() ? " (the split's test share, seed " + std::to_string(c.seed) + ")"
                                  : std::string())
         << "\n";
  return out;
}

}  // namespace gdpo::data
