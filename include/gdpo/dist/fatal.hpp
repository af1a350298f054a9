// What happens to the other ranks when one rank fails: with MPI running and more than one rank,
// the whole job is aborted (MPI_Abort) so that no rank waits forever in a collective. Covers errors
// caught by main() and std::terminate (an uncaught exception, e.g. in another thread).
#pragma once

namespace gdpo::dist {

// Called by main() after printing an uncaught error. Returns when MPI is not running or the world
// has one rank; otherwise aborts every rank with `exit_code` and does not return.
void abort_world_if_distributed(int exit_code);

// Installs (once; later calls do nothing) a std::terminate handler that prints the active exception
// ("[rank R] fatal: uncaught exception: ...") and then aborts every rank when distributed (exit code
// 1), or otherwise calls the previous handler (std::abort). MpiRuntime and MpiCommunicator install it.
void install_terminate_handler();

}  // namespace gdpo::dist
