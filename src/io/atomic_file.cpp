#include "gdpo/io/atomic_file.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>

#include "gdpo/core/error.hpp"
#include "gdpo/core/fault_injection.hpp"

namespace gdpo::io {

namespace fs = std::filesystem;

namespace {
std::atomic<unsigned> temp_counter{0};

// "<dir>/.<name>.<kind>.<pid>.<n>" beside `target`.
std::string sibling(const std::string& target, const char* kind) {
  fs::path t(target);
  fs::path dir = t.parent_path().empty() ? fs::path(".") : t.parent_path();
  return (dir / ("." + t.filename().string() + "." + kind + "." + std::to_string(::getpid()) +
                 "." + std::to_string(temp_counter++)))
      .string();
}

std::string parent_of(const std::string& path) {
  fs::path dir = fs::path(path).parent_path();
  return dir.empty() ? "." : dir.string();
}
}  // namespace

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  GDPO_CHECK(fd >= 0, "cannot open '" << path << "' to fsync: " << errno_text());
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  GDPO_CHECK(rc == 0, "fsync('" << path << "') failed: " << errno_text(err));
}

std::optional<std::string> temporary_target(const std::string& filename) {
  static const std::regex pattern(R"(\.(.+)\.(tmp|old)\.[0-9]+\.[0-9]+)");
  std::smatch m;
  if (!std::regex_match(filename, m, pattern)) return std::nullopt;
  return m[1].str();
}

AtomicFile::AtomicFile(std::string target)
    : target_(std::move(target)), temp_(sibling(target_, "tmp")) {}

AtomicFile::~AtomicFile() {
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::commit() {
  GDPO_CHECK(!committed_, "AtomicFile for '" << target_ << "' committed twice");
  fsync_path(temp_);
  fault::on_before_rename();
  GDPO_CHECK(::rename(temp_.c_str(), target_.c_str()) == 0,
             "cannot rename '" << temp_ << "' to '" << target_ << "': " << errno_text());
  committed_ = true;
  fsync_path(parent_of(target_));
}

AtomicDirectory::AtomicDirectory(std::string target)
    : target_(std::move(target)), temp_(sibling(target_, "tmp")) {
  std::error_code ec;
  fs::create_directory(temp_, ec);
  GDPO_CHECK(!ec, "cannot create the folder '" << temp_ << "': " << ec.message());
}

AtomicDirectory::~AtomicDirectory() {
  std::error_code ec;
  if (!committed_) fs::remove_all(temp_, ec);
}

void AtomicDirectory::commit() {
  GDPO_CHECK(!committed_, "AtomicDirectory for '" << target_ << "' committed twice");
  for (const auto& e : fs::recursive_directory_iterator(temp_)) fsync_path(e.path().string());
  fsync_path(temp_);
  fault::on_before_rename();
  const bool exists = fs::exists(target_);
  if (!exists) {
    GDPO_CHECK(::rename(temp_.c_str(), target_.c_str()) == 0,
               "cannot rename '" << temp_ << "' to '" << target_ << "': " << errno_text());
  } else if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) ==
             0) {
    // temp_ now holds the old folder.
  } else {
    GDPO_CHECK(errno == EINVAL || errno == ENOSYS,
               "cannot swap '" << temp_ << "' and '" << target_ << "': " << errno_text());
    const std::string old = sibling(target_, "old");
    GDPO_CHECK(::rename(target_.c_str(), old.c_str()) == 0,
               "cannot rename '" << target_ << "' to '" << old << "': " << errno_text());
    GDPO_CHECK(::rename(temp_.c_str(), target_.c_str()) == 0,
               "cannot rename '" << temp_ << "' to '" << target_ << "': " << errno_text());
    temp_ = old;
  }
  fsync_path(parent_of(target_));
  committed_ = true;
  std::error_code ec;
  if (exists) fs::remove_all(temp_, ec);
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
