// The gdpo version and build description (printed by `gdpo --version`, stored in every checkpoint).
#pragma once
#include <string>

namespace gdpo {

// "0.1.0"
std::string version();
// "gdpo 0.1.0 (LibTorch 1.13.1, CPU, Open MPI ..., HDF5 1.10.8)"
std::string build_description();

}  // namespace gdpo
