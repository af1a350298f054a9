// What happens to the other ranks when one rank fails: with MPI running and more than one rank,
// the whole job is aborted (MPI_Abort) so that no rank waits forever in a collective.
#pragma once

namespace gdpo::dist {

// Called by main() after printing an uncaught error. Returns when MPI is not running or the world
// has one rank; otherwise aborts every rank with `exit_code` and does not return.
void abort_world_if_distributed(int exit_code);

}  // namespace gdpo::dist
