// `gdpo data split`: a JSONL file split by question into _train/_eval/_test files.
#include <iostream>

#include "bind.hpp"
#include "command.hpp"
#include "data_output.hpp"
#include "gdpo/data/record.hpp"

namespace gdpo::app {

int cmd_data_split(const Args& args) {
  using namespace data;
  OptionSet set("gdpo data split", "split a JSONL file into train/eval/test by question");
  std::string input;
  ReadOptions read;
  DataOutput out;
  set.group("data").required("input", &input, "JSONL file in the published schema");
  bind_read(set, read);
  set.positional("data.input", 1);
  out.bind(set, /*split_flag=*/false);
  if (!set.parse(args)) return 0;
  out.split_output = true;
  out.write(read_records(input, read));
  return 0;
}

}  // namespace gdpo::app
