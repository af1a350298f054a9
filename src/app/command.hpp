// The table of gdpo's commands: a path of one or more words ("train", "data synthetic",
// "bench step"), a one-line summary, and the function that runs it on the remaining arguments.
// Groups ("data", "bench") are the shared first words; `gdpo data` lists its commands.
#pragma once
#include <string>
#include <vector>

namespace gdpo::app {

using Args = std::vector<std::string>;

struct Command {
  std::string path;     // "data build-opinion"
  std::string summary;  // one line for the listings
  int (*run)(const Args& args);
};

// Every command, in the order listings show them (src/app/commands.cpp).
const std::vector<Command>& commands();
// One-line summaries of the groups ("data", "bench").
const std::vector<std::pair<std::string, std::string>>& command_groups();

// The command functions, one file each: src/app/cmd_<path with '_' for ' ' and '-'>.cpp.
int cmd_train(const Args& args);
int cmd_inspect(const Args& args);
int cmd_tokenize(const Args& args);
int cmd_generate(const Args& args);
int cmd_evaluate(const Args& args);
int cmd_bench_generate(const Args& args);
int cmd_data_build_opinion(const Args& args);
int cmd_data_build_reviews(const Args& args);
int cmd_data_synthetic(const Args& args);
int cmd_data_split(const Args& args);
int cmd_data_stats(const Args& args);
int cmd_data_show(const Args& args);
int cmd_data_cache(const Args& args);
int cmd_data_judge(const Args& args);
int cmd_bench_step(const Args& args);
int cmd_bench_model(const Args& args);
int cmd_bench_data(const Args& args);
int cmd_bench_tokenize(const Args& args);
int cmd_bench_dist(const Args& args);

}  // namespace gdpo::app
