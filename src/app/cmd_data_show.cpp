// `gdpo data show`: the rendered prompt, chosen and rejected texts of a file's first pairs, exactly
// as they are tokenized.
#include <iostream>

#include "bind.hpp"
#include "command.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/record.hpp"

namespace gdpo::app {

int cmd_data_show(const Args& args) {
  using namespace data;
  OptionSet set("gdpo data show", "print the rendered texts of the first pairs of a file");
  std::string input;
  ReadOptions read;
  PairMode mode = PairMode::kGdpo;
  int64_t count = 3;
  set.group("data")
      .required("input", &input, "JSONL file")
      .choice("mode", &mode, {{"gdpo", PairMode::kGdpo}, {"dpo", PairMode::kDpo}},
              "the rejected response's belief: gdpo (the chosen one), dpo (its own)")
      .add("count", &count, "pairs to show");
  bind_read(set, read);
  set.positional("data.input", 1);
  if (!set.parse(args)) return 0;
  if (count < 0) throw UsageError("--data.count must be >= 0");
  const Dataset data = read_records(input, read);
  std::cout << input << ": " << kind_name(data.kind) << " data, " << data.questions.size()
            << " questions, " << data.pairs.size() << " pairs (" << mode_name(mode) << ")\n";
  for (int64_t i = 0; i < count && i < static_cast<int64_t>(data.pairs.size()); ++i) {
    const auto r = render_pair(data, data.pairs[i], mode);
    std::cout << "--- pair " << i << " (line " << data.pairs[i].line << ")\nprompt:   " << r.prompt
              << "\nchosen:   " << r.chosen() << "\nrejected: " << r.rejected() << "\n";
  }
  return 0;
}

}  // namespace gdpo::app
