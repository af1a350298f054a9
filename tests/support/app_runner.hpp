// Runs gdpo commands in the test's own process through gdpo::app::run (only tests/app links the
// app): what a command printed and its exit code, without starting the binary.
#pragma once
#include <string>

#include "support/test_support.hpp"

namespace gdpo::test {

// Runs `gdpo <args>` with `input` as its stdin; stdout and stderr are captured together, in the
// order written. `args` is split at spaces; '...' and "..." quote (as a shell would, without
// expansions).
RunResult run_app(const std::string& args, const std::string& input = "");

}  // namespace gdpo::test
