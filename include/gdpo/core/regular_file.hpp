// Reading an input file that must be a regular file, without ever blocking: a FIFO's open() waits
// for a writer forever and /dev/zero never ends, so the path is stat()ed before open(), opened with
// O_NONBLOCK and fstat()ed again after it, and its size is bounded before anything is read.
#pragma once
#include <cstdint>
#include <string>

namespace gdpo {

// A descriptor of `path` opened for reading (the caller closes it) and its size in *size.
// InputError "<where> is not a regular file (it is a FIFO)" for anything else, or naming `where`
// and the system's reason when it cannot be opened.
int open_regular_file(const std::string& path, const std::string& where, uint64_t* size);

// The whole of the regular file `path` of at most `max_bytes` (InputError naming `where` beyond).
std::string read_regular_file(const std::string& path, const std::string& where,
                              uint64_t max_bytes);

}  // namespace gdpo
