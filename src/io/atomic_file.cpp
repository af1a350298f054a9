#include "gdpo/io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "gdpo/core/error.hpp"

namespace gdpo::io {

namespace fs = std::filesystem;

namespace {
std::atomic<unsigned> temp_counter{0};

std::string errno_text() { return std::strerror(errno); }
}  // namespace

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  GDPO_CHECK(fd >= 0, "cannot open '" << path << "' to fsync: " << errno_text());
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  GDPO_CHECK(rc == 0, "fsync('" << path << "') failed: " << std::strerror(err));
}

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {
  fs::path t(target_);
  fs::path dir = t.parent_path().empty() ? fs::path(".") : t.parent_path();
  temp_ = (dir / ("." + t.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                  std::to_string(temp_counter++)))
              .string();
}

AtomicFile::~AtomicFile() {
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::commit() {
  GDPO_CHECK(!committed_, "AtomicFile for '" << target_ << "' committed twice");
  fsync_path(temp_);
  GDPO_CHECK(::rename(temp_.c_str(), target_.c_str()) == 0,
             "cannot rename '" << temp_ << "' to '" << target_ << "': " << errno_text());
  committed_ = true;
  fs::path dir = fs::path(target_).parent_path();
  fsync_path(dir.empty() ? "." : dir.string());
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile file(path);
  FILE* f = std::fopen(file.temp_path().c_str(), "wb");
  GDPO_CHECK(f, "cannot create '" << file.temp_path() << "': " << errno_text());
  size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  bool ok = written == bytes.size() && std::fflush(f) == 0;
  std::fclose(f);
  GDPO_CHECK(ok, "cannot write '" << file.temp_path() << "': " << errno_text());
  file.commit();
}

}  // namespace gdpo::io
