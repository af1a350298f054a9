#include "gdpo/core/fault_injection.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

#include "gdpo/core/error.hpp"

namespace gdpo::fault {

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
    for (const char* known : {"kill-during-checkpoint", "kill-before-rename", "sigterm-after-step",
                              "sigusr1-during-reference", "kill-after-chunk",
                              "sigusr1-after-setup", "sigusr1-after-batch", "sigusr1-after-chunk",
                              "sigusr1-during-evaluate"})
      if (out.kind == known) return out;
    throw UsageError("GDPO_FAULT_INJECT: unknown fault '" + out.kind + "'");
  }();
  return p;
}

// Counts the calls of one hook; true at the N-th when the plan is `kind`.
bool nth(const char* kind, int64_t& calls) {
  return plan().kind == kind && ++calls == plan().n;
}

}  // namespace

void on_checkpoint_write() {
  static int64_t calls = 0;
  if (nth("kill-during-checkpoint", calls)) std::raise(SIGKILL);
}

void on_before_rename() {
  static int64_t calls = 0;
  if (nth("kill-before-rename", calls)) std::raise(SIGKILL);
}

void on_step_end(int64_t step) {
  if (plan().kind == "sigterm-after-step" && step == plan().n) std::raise(SIGTERM);
}

void on_reference_batch() {
  static int64_t calls = 0;
  if (nth("sigusr1-during-reference", calls)) std::raise(SIGUSR1);
}

void on_generation_chunk() {
  static int64_t calls = 0;
  if (nth("kill-after-chunk", calls)) std::raise(SIGKILL);
  if (nth("sigusr1-after-chunk", calls)) std::raise(SIGUSR1);  // one plan: one of them counts
}

void on_generation_batch() {
  static int64_t calls = 0;
  if (nth("sigusr1-after-batch", calls)) std::raise(SIGUSR1);
}

void on_setup_done() {
  static int64_t calls = 0;
  if (nth("sigusr1-after-setup", calls)) std::raise(SIGUSR1);
}

void on_belief_batch() {
  static int64_t calls = 0;
  if (nth("sigusr1-during-evaluate", calls)) std::raise(SIGUSR1);
}

}  // namespace gdpo::fault
