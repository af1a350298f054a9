#include "gdpo/train/fault_injection.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

#include "gdpo/core/error.hpp"

namespace gdpo::train::fault {

namespace {

struct Plan {
  std::string kind;
  int64_t n = 0;
};

const Plan& plan() {
  static const Plan p = [] {
    Plan out;
    const char* v = std::getenv("GDPO_FAULT_INJECT");
    if (!v || !*v) return out;
    std::string s(v);
    auto colon = s.find(':');
    out.kind = s.substr(0, colon);
    try {
      out.n = colon == std::string::npos ? 1 : std::stoll(s.substr(colon + 1));
    } catch (const std::exception&) {
      throw UsageError("GDPO_FAULT_INJECT: bad count in '" + s + "'");
    }
    if (out.kind != "kill-during-checkpoint" && out.kind != "sigterm-after-step" &&
        out.kind != "kill-after-chunk")
      throw UsageError("GDPO_FAULT_INJECT: unknown fault '" + out.kind + "'");
    return out;
  }();
  return p;
}

}  // namespace

void on_checkpoint_write() {
  static int64_t writes = 0;
  if (plan().kind == "kill-during-checkpoint" && ++writes == plan().n) std::raise(SIGKILL);
}

void on_step_end(int64_t step) {
  if (plan().kind == "sigterm-after-step" && step == plan().n) std::raise(SIGTERM);
}

void on_generation_chunk() {
  static int64_t chunks = 0;
  if (plan().kind == "kill-after-chunk" && ++chunks == plan().n) std::raise(SIGKILL);
}

}  // namespace gdpo::train::fault
