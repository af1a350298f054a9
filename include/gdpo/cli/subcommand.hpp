// The registry of `gdpo` subcommands. Each src/<module>/cmd_<name>.cpp registers one with
// GDPO_SUBCOMMAND; src/cli/main.cpp dispatches argv[1] to it.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace gdpo::cli {

struct Subcommand {
  std::string name;     // "train"
  std::string summary;  // one line for `gdpo help`
  // Runs with the arguments after the subcommand name; returns the exit code.
  std::function<int(const std::vector<std::string>& args)> run;
};

bool register_subcommand(Subcommand cmd);
// Sorted by name.
std::vector<Subcommand> subcommands();
const Subcommand* find_subcommand(const std::string& name);

}  // namespace gdpo::cli

#ifndef GDPO_CONCAT_
#define GDPO_CONCAT_INNER_(a, b) a##b
#define GDPO_CONCAT_(a, b) GDPO_CONCAT_INNER_(a, b)
#endif
// GDPO_SUBCOMMAND("train", "Train a policy (SFT, DPO, GDPO)", run_train);
#define GDPO_SUBCOMMAND(name, summary, fn)                                 \
  static const bool GDPO_CONCAT_(gdpo_subcommand_registered_, __LINE__) = \
      ::gdpo::cli::register_subcommand({name, summary, fn})
