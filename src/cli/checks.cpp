#include "gdpo/cli/checks.hpp"

#include "gdpo/cli/options.hpp"
#include "gdpo/core/error.hpp"

namespace gdpo::cli {

void require_one_of(const std::string& option, const std::string& value,
                    std::initializer_list<const char*> choices) {
  std::string list;
  for (const char* c : choices) {
    if (value == c) return;
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  throw UsageError("--" + option + " must be one of " + list + "; got '" + value + "'");
}

void require_positive(const std::string& option, double value) {
  if (!(value > 0))
    throw UsageError("--" + option + " must be positive, got " + option_value_text(value));
}

}  // namespace gdpo::cli
