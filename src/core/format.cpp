#include "gdpo/core/format.hpp"

#include <cstdio>
#include <cstdlib>

namespace gdpo {

std::string shortest_text(double v) {
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace gdpo
