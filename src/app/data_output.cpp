#include "data_output.hpp"

#include <filesystem>
#include <iostream>

#include "bind.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/split.hpp"
#include "output_paths.hpp"

namespace gdpo::app {

namespace fs = std::filesystem;
using data::Dataset;

void DataOutput::bind(OptionSet& set, bool split_flag) {
  auto g = set.group("data");
  g.required("output", &output, "output JSONL file");
  if (split_flag)
    g.flag("split-output", &split_output,
           "write OUTPUT's stem + _train/_eval/_test instead, split by question");
  bind_split(set, split, "train,eval[,test] ratios by question");
  g.add("seed", &seed, "seed of the builder and the split");
  set.validate([this] {
    if (seed < 0) throw UsageError("--data.seed must be >= 0");
    require_writable_file(output, "--data.output");
  });
}

namespace {

std::string with_split(const std::string& path, int split) {
  fs::path p(path);
  const std::string ext = p.has_extension() ? p.extension().string() : ".jsonl";
  return (p.parent_path() / (p.stem().string() + "_" + data::split_name(split) + ext)).string();
}

void report(const Dataset& d, std::ostream& out) {
  if (d.skipped.total()) out << "  " << d.skipped.summary() << "\n";
  if (d.notes.total()) out << "  " << d.notes.summary("noted") << "\n";
}

}  // namespace

void DataOutput::write(const Dataset& d) const {
  const DataOutput& o = *this;
  if (d.pairs.empty()) GDPO_THROW(InputError, d.source << ": no pairs were built" << (d.skipped.total() ? "; " + d.skipped.summary() : ""));
  if (!o.split_output) {
    data::write_records(o.output, d);
    std::cout << "wrote " << d.pairs.size() << " pairs of " << d.questions.size() << " questions to "
              << o.output << "\n";
  } else {
    const auto parts = data::split_dataset(d, o.split, static_cast<uint64_t>(o.seed));
    for (int s = 0; s < 3; ++s) {
      if (parts[s].questions.empty()) continue;
      data::write_records(with_split(o.output, s), parts[s]);
      std::cout << "wrote " << parts[s].pairs.size() << " pairs of " << parts[s].questions.size()
                << " questions to " << with_split(o.output, s) << "\n";
    }
  }
  report(d, std::cout);
}

}  // namespace gdpo::app
