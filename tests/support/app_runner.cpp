#include "support/app_runner.hpp"

#include <sstream>
#include <stdexcept>
#include <vector>

#include "gdpo/app/app.hpp"

namespace gdpo::test {

namespace {

std::vector<std::string> split_args(const std::string& line) {
  std::vector<std::string> args;
  std::string cur;
  bool have = false;
  char quote = 0;
  for (char c : line) {
    if (quote) {
      if (c == quote) quote = 0;
      else cur += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (have) args.push_back(cur), cur.clear(), have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (quote) throw std::runtime_error("unbalanced quote in: " + line);
  if (have) args.push_back(cur);
  return args;
}
}  // namespace

RunResult run_app(const std::string& args, const std::string& input) {
  std::istringstream in(input);
  std::ostringstream out;
  const int code = gdpo::app::run(split_args(args), in, out, out);
  return {code, out.str()};
}

}  // namespace gdpo::test
