// Options most commands share: [log] (level, every rank) and [dist] (backend, CPU threads), and
// applying them once the communicator is known.
#pragma once
#include <string>

#include "gdpo/app/options.hpp"

namespace gdpo::app {

struct CommonOptions {
  std::string log_level = "info";  // debug | info | warn | error
  bool log_all_ranks = false;      // info lines from every rank, not just rank 0
  std::string backend = "auto";    // auto | mpi | single
  int threads = 0;                 // CPU threads per rank (0: cores / ranks on this node)

  void bind(OptionSet& set);
  // Applies the log settings and sets LibTorch's thread count for a rank sharing the node with
  // `local_size` ranks.
  void apply(int local_size) const;
};

}  // namespace gdpo::app
