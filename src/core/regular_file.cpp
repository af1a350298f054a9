#include "gdpo/core/regular_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gdpo/core/error.hpp"

namespace gdpo {

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

}  // namespace

int open_regular_file(const std::string& path, const std::string& where, uint64_t* size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    GDPO_THROW(InputError, "cannot open " << where << ": " << errno_text());
  if (!S_ISREG(st.st_mode))
    GDPO_THROW(InputError,
               where << " is not a regular file (it is " << file_kind(st.st_mode) << ")");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) GDPO_THROW(InputError, "cannot open " << where << ": " << errno_text());
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    GDPO_THROW(InputError, where << " is not a regular file");
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

std::string read_regular_file(const std::string& path, const std::string& where,
                              uint64_t max_bytes) {
  uint64_t size = 0;
  const int fd = open_regular_file(path, where, &size);
  if (size > max_bytes) {
    ::close(fd);
    GDPO_THROW(InputError,
               where << " has " << size << " bytes, more than the " << max_bytes << " allowed");
  }
  std::string text(size, '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t got = ::read(fd, text.data() + done, text.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const std::string why = got < 0 ? errno_text() : "the file shrank while being read";
      ::close(fd);
      GDPO_THROW(InputError, "cannot read " << where << ": " << why);
    }
    done += static_cast<size_t>(got);
  }
  ::close(fd);
  return text;
}

}  // namespace gdpo
