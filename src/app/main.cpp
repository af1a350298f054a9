// gdpo: one binary, many commands (`gdpo help` lists them); the program itself is app::run.
#include "gdpo/app/app.hpp"

int main(int argc, char** argv) {
  // C++ streams without the C stdio lock-step (fast `gdpo tokenize` on large inputs); the library
  // writes through std::cout/std::cerr only, which app::run may point elsewhere.
  std::ios::sync_with_stdio(false);
  return gdpo::app::run(std::vector<std::string>(argv + 1, argv + argc));
}
