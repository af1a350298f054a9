#include "gdpo/cli/bench.hpp"

#include <algorithm>

namespace gdpo::cli {

namespace {
std::vector<Benchmark>& registry() {
  static std::vector<Benchmark> r;
  return r;
}
}  // namespace

bool register_benchmark(Benchmark b) {
  registry().push_back(std::move(b));
  return true;
}

std::vector<Benchmark> benchmarks() {
  auto all = registry();
  std::sort(all.begin(), all.end(),
            [](const Benchmark& a, const Benchmark& b) { return a.name < b.name; });
  return all;
}

}  // namespace gdpo::cli
