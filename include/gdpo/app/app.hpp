// The gdpo program as a function: `gdpo <command> [options]` dispatched in-process, so that tests run
// any command and read its output and exit code without starting a process. main() is one call.
#pragma once
#include <iostream>
#include <string>
#include <vector>

namespace gdpo::app {

// Runs the command named by the leading words of `args` ("train", "data synthetic", "bench step",
// "help data") with the rest as its options. While it runs, std::cin, std::cout and std::cerr read
// from `in` and write to `out` and `err` (so library output and log lines are captured too). Errors
// are printed to `err` as "gdpo <command>: error: ..." and mapped to exit codes (gdpo::ExitCode);
// under MPI a failing rank ends every rank.
int run(const std::vector<std::string>& args, std::istream& in = std::cin,
        std::ostream& out = std::cout, std::ostream& err = std::cerr);

}  // namespace gdpo::app
