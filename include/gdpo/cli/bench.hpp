// The registry of `gdpo bench <name>` benchmarks. Each src/<module>/cmd_bench_<name>.cpp registers
// one with GDPO_BENCHMARK; benchmarks print their numbers (never asserted by tests).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "gdpo/cli/subcommand.hpp"  // GDPO_CONCAT_

namespace gdpo::cli {

struct Benchmark {
  std::string name;     // "tokenize"
  std::string summary;  // one line for `gdpo bench --help`
  // Runs with the arguments after `gdpo bench <name>`; returns the exit code.
  std::function<int(const std::vector<std::string>& args)> run;
};

bool register_benchmark(Benchmark b);
std::vector<Benchmark> benchmarks();  // sorted by name

}  // namespace gdpo::cli

#define GDPO_BENCHMARK(name, summary, fn)                                  \
  static const bool GDPO_CONCAT_(gdpo_benchmark_registered_, __LINE__) =  \
      ::gdpo::cli::register_benchmark({name, summary, fn})
