#include "gdpo/core/error.hpp"

#include <cerrno>
#include <cstring>

namespace gdpo {

std::string errno_text(int err) { return std::strerror(err); }
std::string errno_text() { return errno_text(errno); }

}  // namespace gdpo

namespace gdpo::detail {

std::string source_location(const char* file, int line) {
  std::string path(file);
  for (const char* anchor : {"/src/", "/include/", "/tests/"}) {
    auto pos = path.rfind(anchor);
    if (pos != std::string::npos) {
      path = path.substr(pos + 1);
      break;
    }
  }
  return path + ":" + std::to_string(line) + ": ";
}

}  // namespace gdpo::detail
