// gdpo: one binary, many subcommands (`gdpo help` lists them). Maps uncaught errors to exit codes
// and, under MPI, aborts every rank when one fails.
#include <c10/util/Exception.h>

#include <iostream>
#include <string>
#include <vector>

#include "gdpo/cli/subcommand.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/core/version.hpp"
#include "gdpo/dist/fatal.hpp"

namespace {

void print_general_help(std::ostream& out) {
  out << "gdpo " << gdpo::version()
      << ": Group Distributional Preference Optimization (ICLR 2025, \"No Preference Left "
         "Behind\")\n"
         "(not TRL's \"GDPO\", which is a different method)\n\n"
         "usage: gdpo <subcommand> [options]    gdpo <subcommand> --help\n\nsubcommands:\n";
  for (const auto& cmd : gdpo::cli::subcommands())
    out << "  " << cmd.name << std::string(cmd.name.size() < 12 ? 12 - cmd.name.size() : 1, ' ')
        << cmd.summary << "\n";
  out << "\noptions are dotted (--train.lr 5e-7) and may come from INI files (--config F.ini)\n";
}

int fail(const std::string& where, const std::string& message, int code) {
  std::cerr << where << ": error: " << message << std::endl;
  gdpo::dist::abort_world_if_distributed(code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_general_help(std::cerr);
    return gdpo::kExitUsage;
  }
  const std::string name = args[0];
  if (name == "help" || name == "--help" || name == "-h") {
    if (args.size() > 1) {
      if (const auto* cmd = gdpo::cli::find_subcommand(args[1])) return cmd->run({"--help"});
      return fail("gdpo", "unknown subcommand '" + args[1] + "' (see 'gdpo help')",
                  gdpo::kExitUsage);
    }
    print_general_help(std::cout);
    return gdpo::kExitOk;
  }
  if (name == "version" || name == "--version") {
    std::cout << gdpo::build_description() << "\n";
    return gdpo::kExitOk;
  }
  const auto* cmd = gdpo::cli::find_subcommand(name);
  if (!cmd) return fail("gdpo", "unknown subcommand '" + name + "' (see 'gdpo help')",
                        gdpo::kExitUsage);

  const std::string where = "gdpo " + name;
  try {
    return cmd->run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const gdpo::Error& e) {
    return fail(where, e.what(), e.exit_code());
  } catch (const c10::Error& e) {
    return fail(where, std::string("LibTorch: ") + e.what_without_backtrace(), gdpo::kExitFailure);
  } catch (const std::exception& e) {
    return fail(where, e.what(), gdpo::kExitFailure);
  }
}
