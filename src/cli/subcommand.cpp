#include "gdpo/cli/subcommand.hpp"

#include <algorithm>

namespace gdpo::cli {

namespace {
std::vector<Subcommand>& registry() {
  static std::vector<Subcommand> r;
  return r;
}
}  // namespace

bool register_subcommand(Subcommand cmd) {
  registry().push_back(std::move(cmd));
  return true;
}

std::vector<Subcommand> subcommands() {
  auto all = registry();
  std::sort(all.begin(), all.end(),
            [](const Subcommand& a, const Subcommand& b) { return a.name < b.name; });
  return all;
}

const Subcommand* find_subcommand(const std::string& name) {
  for (const auto& c : registry())
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace gdpo::cli
