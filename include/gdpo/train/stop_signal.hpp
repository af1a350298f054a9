// Graceful stop for preemptible jobs: SIGTERM or SIGUSR1 (Slurm's --signal) only set a flag. The
// command installs the handlers before any work, so a signal during set-up (data, models, the
// reference pass) is not fatal either: the trainer stops at its next check, checkpoints if it has
// trained, and exits with kExitPreempted (75).
#pragma once

#include "gdpo/core/error.hpp"
#include "gdpo/dist/communicator.hpp"

namespace gdpo::train {

// Installs the handlers. The outermost guard clears the flag and its destructor restores the
// previous handlers; nested guards (the command's, then the trainer's) change nothing, so a signal
// that arrived under the outer one is kept.
class StopSignalGuard {
 public:
  StopSignalGuard();
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;
};

// True once SIGTERM or SIGUSR1 arrived on this process (async-signal-safe flag).
bool stop_requested();
// The number of the signal that arrived (0 when none).
int stop_signal_number();
// For tests: set or clear the flag as a signal would.
void request_stop_for_testing(int signal_number);

// Whether any rank got a stop signal: a collective (every rank calls it at the same point), so all
// ranks stop together even when the signal reached only some of them.
bool stop_agreed(dist::Communicator& comm);

// Thrown on every rank by a set-up phase that stopped on a signal (before there is a checkpoint to
// write); Trainer::run turns it into kExitPreempted.
class StopRequested : public Error {
 public:
  explicit StopRequested(const std::string& where) : Error("stopped by a signal during " + where) {}
  int exit_code() const override { return kExitPreempted; }
};

}  // namespace gdpo::train
