// `gdpo data judge`: the belief judge's training data from preference data (data/judge_data.hpp),
// to train with `gdpo train --loss.type sft` and pass to `gdpo evaluate --evaluate.judge`.
#include "bind.hpp"
#include "command.hpp"
#include "data_output.hpp"
#include "gdpo/data/judge_data.hpp"
#include "gdpo/data/record.hpp"

namespace gdpo::app {

int cmd_data_judge(const Args& args) {
  using namespace data;
  OptionSet set("gdpo data judge",
                "(response -> belief) examples for the belief judge of belief-preference "
                "consistency");
  std::string input;
  ReadOptions read;
  DataOutput out;
  set.group("data").required("input", &input, "JSONL file in the published schema");
  bind_read(set, read);
  set.positional("data.input", 1);
  out.bind(set);
  if (!set.parse(args)) return 0;
  out.write(make_judge_data(read_records(input, read)));
  return 0;
}

}  // namespace gdpo::app
