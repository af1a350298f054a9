#include "gdpo/core/checks.hpp"

#include <cmath>

#include "gdpo/core/error.hpp"
#include "gdpo/core/format.hpp"

namespace gdpo {

namespace {
std::string text(double v) { return shortest_text(v); }
}  // namespace

void require_positive(const std::string& option, double value) {
  if (!std::isfinite(value) && !std::isnan(value))
    throw UsageError("--" + option + " must be a finite number, got " + text(value));
  if (!(value > 0)) throw UsageError("--" + option + " must be positive, got " + text(value));
}

void require_at_least(const std::string& option, double value, double minimum) {
  if (!std::isfinite(value) && !std::isnan(value))
    throw UsageError("--" + option + " must be a finite number, got " + text(value));
  if (!(value >= minimum))
    throw UsageError("--" + option + " must be >= " + text(minimum) + ", got " + text(value));
}

}  // namespace gdpo
