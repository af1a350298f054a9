// Shared by the communicator tests: a backend forced onto the base class's default sharding
// collectives, and the message of a call that should throw. Header-only, for tests/dist/*.cpp.
#pragma once
#include <functional>
#include <string>

#include "gdpo/core/error.hpp"
#include "gdpo/dist/communicator.hpp"

namespace gdpo::dist::test {

// `Backend` with the base class's reduce_scatter_impl / all_gather_into_impl (all_reduce_impl /
// all_gather_impl, then copies), as a backend without its own gets them.
template <class Backend>
class WithDefaultSharding : public Backend {
 protected:
  void reduce_scatter_impl(const torch::Tensor& input, torch::Tensor& output,
                           ReduceOp op) override {
    Communicator::reduce_scatter_impl(input, output, op);
  }
  void all_gather_into_impl(const torch::Tensor& input, torch::Tensor& output) override {
    Communicator::all_gather_into_impl(input, output);
  }
};

// What `f` throws as gdpo::Error, or "(no exception)".
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace gdpo::dist::test
