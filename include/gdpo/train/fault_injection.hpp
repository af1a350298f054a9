// Deterministic failure hooks for the crash-safety tests, driven by the GDPO_FAULT_INJECT variable:
//   kill-during-checkpoint:N   SIGKILL this process halfway through writing its N-th checkpoint
//   sigterm-after-step:N       raise SIGTERM after optimizer step N (as Slurm's preemption would)
//   kill-after-chunk:N         SIGKILL this process after it wrote its N-th generation chunk
// Unset (every normal run), the hooks do nothing.
#pragma once
#include <cstdint>

namespace gdpo::train::fault {

// Called by the checkpoint writer after the weights are written and before the file is complete.
void on_checkpoint_write();
// Called by the trainer after each optimizer step.
void on_step_end(int64_t step);
// Called by `gdpo generate` after each chunk of generations is written.
void on_generation_chunk();

}  // namespace gdpo::train::fault
