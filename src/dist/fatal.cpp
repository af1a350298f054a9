#include "gdpo/dist/fatal.hpp"

#include <c10/util/Exception.h>
#include <mpi.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "gdpo/core/error.hpp"

namespace gdpo::dist {

namespace {

std::terminate_handler previous_handler = nullptr;

// The active exception's message, if any.
std::string current_exception_text() {
  std::exception_ptr ep = std::current_exception();
  if (!ep) return "std::terminate called without an active exception";
  try {
    std::rethrow_exception(ep);
  } catch (const c10::Error& e) {
    return std::string("uncaught exception: LibTorch: ") + e.what_without_backtrace();
  } catch (const std::exception& e) {
    return std::string("uncaught exception: ") + e.what();
  } catch (...) {
    return "uncaught exception of a non-standard type";
  }
}

[[noreturn]] void on_terminate() {
  static std::atomic<bool> entered{false};
  if (!entered.exchange(true)) {  // a second terminate (from this handler) skips straight to abort
    int initialized = 0, finalized = 0, rank = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "[rank %d] fatal: %s\n", rank, current_exception_text().c_str());
    abort_world_if_distributed(kExitFailure);
    if (previous_handler) previous_handler();
  }
  std::abort();
}

}  // namespace

void abort_world_if_distributed(int exit_code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (world <= 1) return;
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, exit_code == 0 ? 1 : exit_code);
  std::_Exit(exit_code == 0 ? 1 : exit_code);  // MPI_Abort does not return; be sure of it
}

void install_terminate_handler() {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return;
  previous_handler = std::set_terminate(on_terminate);
}

}  // namespace gdpo::dist
