// `gdpo bench <name> [options]`: runs one registered benchmark, which prints its numbers.
#include <iostream>

#include "gdpo/cli/bench.hpp"
#include "gdpo/cli/subcommand.hpp"
#include "gdpo/core/error.hpp"

namespace {

int run_bench(const std::vector<std::string>& args) {
  auto all = gdpo::cli::benchmarks();
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::ostream& out = args.empty() ? std::cerr : std::cout;
    out << "gdpo bench: measure speed and memory (numbers are printed, never asserted)\n\n"
           "usage: gdpo bench <benchmark> [options]    gdpo bench <benchmark> --help\n\n"
           "benchmarks:\n";
    for (const auto& b : all)
      out << "  " << b.name << std::string(b.name.size() < 12 ? 12 - b.name.size() : 1, ' ')
          << b.summary << "\n";
    return args.empty() ? gdpo::kExitUsage : gdpo::kExitOk;
  }
  for (const auto& b : all)
    if (b.name == args[0]) return b.run(std::vector<std::string>(args.begin() + 1, args.end()));
  throw gdpo::UsageError("unknown benchmark '" + args[0] + "' (see 'gdpo bench --help')");
}

}  // namespace

GDPO_SUBCOMMAND("bench", "Measure speed and memory (tokenize, data, step, ...)", run_bench);
