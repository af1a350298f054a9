// Errors and checked calls. Every failure is an exception carrying file:line and a message that names
// the offending file, line or option; main() maps the exception type to the process exit code.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace gdpo {

// Process exit codes, shared by every subcommand (and by Slurm scripts that requeue on kPreempted).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,    // a runtime error (I/O, numerics, library failure)
  kExitUsage = 2,      // unknown option, bad value, missing required option
  kExitInput = 3,      // malformed input data (JSONL line, checkpoint, model file)
  kExitPreempted = 75, // stopped by SIGTERM/SIGUSR1 after writing a checkpoint (EX_TEMPFAIL): requeue
};

// A runtime failure; exit code 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  virtual int exit_code() const { return kExitFailure; }
};

// A command-line or configuration mistake; exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitUsage; }
};

// Malformed input data (a file from outside); exit code 3.
class InputError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitInput; }
};

// strerror(err) as a string: the C library's message for a failed system call (errno by default).
std::string errno_text(int err);
std::string errno_text();

namespace detail {
// "src/io/hdf5_file.cpp:42: " with the path shortened to start at src/ or include/.
std::string source_location(const char* file, int line);
}  // namespace detail

}  // namespace gdpo

// GDPO_CHECK(cond, "message " << value): throws gdpo::Error with file:line when cond is false.
#define GDPO_CHECK(cond, msg)                                                              \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::ostringstream gdpo_check_os_;                                                   \
      gdpo_check_os_ << ::gdpo::detail::source_location(__FILE__, __LINE__) << msg;        \
      throw ::gdpo::Error(gdpo_check_os_.str());                                           \
    }                                                                                      \
  } while (0)

// GDPO_THROW(Type, "message " << value): throws Type (an Error subclass) with the message as is.
// Use it for errors about user input, whose message names the file/line/option instead.
#define GDPO_THROW(Type, msg)                                                              \
  do {                                                                                     \
    std::ostringstream gdpo_throw_os_;                                                     \
    gdpo_throw_os_ << msg;                                                                 \
    throw Type(gdpo_throw_os_.str());                                                      \
  } while (0)
