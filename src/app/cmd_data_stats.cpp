// `gdpo data stats`: the paper's Table 1 statistics of JSONL files, per dataset and split.
#include <algorithm>
#include <iostream>
#include <map>

#include "bind.hpp"
#include "command.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/split.hpp"
#include "gdpo/data/stats.hpp"

namespace gdpo::app {

int cmd_data_stats(const Args& args) {
  using namespace data;
  OptionSet set("gdpo data stats",
                "Table 1 statistics of JSONL files (split from the file names: *_train, *_eval, "
                "*_test; a file without one is split with --data.split)");
  std::vector<std::string> files;
  ReadOptions read;
  std::array<double, 3> ratios = {0.8, 0.1, 0.1};
  int64_t seed = 0;
  PairMode mode = PairMode::kGdpo;
  set.group("data").add("files", &files, "JSONL files");
  bind_read(set, read);
  set.group("data").choice("mode", &mode, {{"gdpo", PairMode::kGdpo}, {"dpo", PairMode::kDpo}},
                           "the pairs' use: dpo refuses a pair whose reject_choice_id is its "
                           "accept_choice_id (as `train --loss.type dpo` does); gdpo counts them");
  bind_split(set, ratios, "ratios for files without a split in their name");
  set.group("data").add("seed", &seed, "seed of that split");
  set.positional("data.files", -1);
  if (!set.parse(args)) return 0;
  if (files.empty()) GDPO_THROW(UsageError, "gdpo data stats: give JSONL files");
  std::vector<DatasetStats> rows;
  std::map<std::string, size_t> row_of;
  read.rejected_own_belief = mode == PairMode::kDpo;
  for (const auto& f : files) {
    const auto [name, split] = dataset_name_and_split(f);
    auto it = row_of.emplace(name, rows.size()).first;
    if (it->second == rows.size()) rows.push_back(DatasetStats{name});
    const Dataset data = read_records(f, read);
    if (data.skipped.total()) std::cerr << f << ": " << data.skipped.summary() << "\n";
    const auto same = std::count_if(data.pairs.begin(), data.pairs.end(),
                                    [](const Pair& p) { return p.chosen == p.rejected; });
    if (same > 0)
      std::cerr << f << ": " << same << " of " << data.pairs.size()
                << " pairs reject the chosen belief (usable for GDPO, cDPO and SFT; refused by "
                   "--data.mode dpo and by train --loss.type dpo)\n";
    if (split >= 0) {
      accumulate_stats(rows[it->second], data, split);
    } else {
      const auto parts = split_dataset(data, ratios, static_cast<uint64_t>(seed));
      for (int s = 0; s < 3; ++s) accumulate_stats(rows[it->second], parts[s], s);
    }
  }
  std::cout << format_stats_table(rows);
  return 0;
}

}  // namespace gdpo::app
