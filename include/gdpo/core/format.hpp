// Number formatting shared by every module: the shortest text of a double that reads back as the
// same value, for INI files and logs ("5e-07", not "4.9999999999999998e-07").
#pragma once
#include <string>

namespace gdpo {

// printf "%.Ng" with the smallest N in 6..17 that round-trips through strtod ("0.1", "1e-05",
// "10000", "0.30000000000000004").
std::string shortest_text(double v);

}  // namespace gdpo
