#include "output_paths.hpp"

#include <filesystem>

#include "gdpo/core/error.hpp"

namespace gdpo::app {

namespace fs = std::filesystem;

void require_writable_file(const std::string& path, const std::string& option) {
  if (path.empty()) return;
  const fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) throw UsageError(option + " '" + path + "' is a folder, not a file");
  if (fs::exists(p, ec) && !fs::is_regular_file(p, ec))
    throw UsageError(option + " '" + path + "' exists and is not a regular file");
  const fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec))
    throw UsageError(option + " '" + path + "': the folder '" + parent.string() + "' " +
                     (fs::exists(parent, ec) ? "is not a folder" : "does not exist"));
}

void require_output_folder(const std::string& path, const std::string& option) {
  if (path.empty()) throw UsageError(option + " must name a folder");
  std::error_code ec;
  // The nearest existing ancestor (the path itself included) must be a folder.
  for (fs::path p = fs::absolute(path, ec); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec)) {
      if (!fs::is_directory(p, ec))
        throw UsageError(option + " '" + path + "': '" + p.string() + "' is not a folder");
      return;
    }
    if (p == p.parent_path()) break;
  }
}

}  // namespace gdpo::app
