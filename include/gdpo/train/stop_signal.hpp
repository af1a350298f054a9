// Graceful stop for preemptible jobs: SIGTERM or SIGUSR1 (Slurm's --signal) only set a flag; the
// trainer finishes the current step, writes a checkpoint and exits with kExitPreempted (75).
#pragma once

namespace gdpo::train {

// Installs the handlers (idempotent) and clears the flag. The previous handlers are restored by
// the guard's destructor.
class StopSignalGuard {
 public:
  StopSignalGuard();
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;
};

// True once SIGTERM or SIGUSR1 arrived (async-signal-safe flag).
bool stop_requested();
// The number of the signal that arrived (0 when none).
int stop_signal_number();
// For tests: set or clear the flag as a signal would.
void request_stop_for_testing(int signal_number);

}  // namespace gdpo::train
