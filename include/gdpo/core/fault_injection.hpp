// Deterministic failure hooks for the crash-safety tests, driven by the GDPO_FAULT_INJECT variable:
//   kill-during-checkpoint:N    SIGKILL this process halfway through writing its N-th checkpoint
//   kill-before-rename:N        SIGKILL this process just before its N-th atomic rename (every file
//                               and folder io::AtomicFile / io::AtomicDirectory commits)
//   sigterm-after-step:N        raise SIGTERM after optimizer step N (as Slurm's preemption would)
//   sigusr1-during-reference:N  raise SIGUSR1 after this process's N-th reference log-prob batch
//   kill-after-chunk:N          SIGKILL this process after it wrote its N-th generation chunk
//   sigusr1-after-setup         raise SIGUSR1 once `gdpo generate`/`evaluate` loaded model and rows
//   sigusr1-after-batch:N       raise SIGUSR1 after this process's N-th generation batch
//   sigusr1-after-chunk:N       raise SIGUSR1 after this process wrote its N-th generation chunk
//   sigusr1-during-evaluate:N   raise SIGUSR1 after this process's N-th belief-probability batch
// Unset (every normal run), the hooks do nothing. An unknown fault is a UsageError at the first hook.
#pragma once
#include <cstdint>

namespace gdpo::fault {

// Called by the checkpoint writer after the weights are written and before the file is complete.
void on_checkpoint_write();
// Called by the atomic writers just before they rename a finished temporary over its target.
void on_before_rename();
// Called by the trainer after each optimizer step.
void on_step_end(int64_t step);
// Called by the reference log-prob pass after each batch.
void on_reference_batch();
// Called by `gdpo generate` after each chunk of generations is written.
void on_generation_chunk();
// Called by `gdpo generate` after each batch of sequences is generated.
void on_generation_batch();
// Called by `gdpo generate` and `gdpo evaluate` once the model, tokenizer and test rows are loaded.
void on_setup_done();
// Called by the belief-probability pass (`gdpo evaluate`) after each batch.
void on_belief_batch();

}  // namespace gdpo::fault
