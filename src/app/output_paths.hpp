// Checks of the paths a command will write, done with the options (before any work), so that a
// careless path is a usage error naming the option instead of a failed write hours later.
#pragma once
#include <string>

namespace gdpo::app {

// UsageError naming `option` unless `path` can be written as a file: it is not a folder (or other
// non-regular file) and its folder exists and is a folder. "" passes (the output is optional).
void require_writable_file(const std::string& path, const std::string& option);

// UsageError naming `option` unless `path` is, or can be created as, a folder: it is not a file, and
// no existing part of its parent chain is a file.
void require_output_folder(const std::string& path, const std::string& option);

}  // namespace gdpo::app
