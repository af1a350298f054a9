#include "gdpo/train/stop_signal.hpp"

#include <csignal>

namespace gdpo::train {

namespace {
volatile std::sig_atomic_t g_signal = 0;
struct sigaction g_old_term, g_old_usr1;
int g_installed = 0;

extern "C" void on_stop_signal(int signo) { g_signal = signo; }
}  // namespace

StopSignalGuard::StopSignalGuard() {
  if (g_installed++ > 0) return;
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, &g_old_term);
  sigaction(SIGUSR1, &sa, &g_old_usr1);
}

StopSignalGuard::~StopSignalGuard() {
  if (--g_installed > 0) return;
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGUSR1, &g_old_usr1, nullptr);
}

bool stop_requested() { return g_signal != 0; }
int stop_signal_number() { return static_cast<int>(g_signal); }
void request_stop_for_testing(int signal_number) { g_signal = signal_number; }

bool stop_agreed(dist::Communicator& comm) {
  return comm.all_reduce(static_cast<int64_t>(stop_requested()), dist::ReduceOp::Max) != 0;
}

}  // namespace gdpo::train
