// The learning-rate schedule: linear warmup to the peak, then constant (as the DPO reference code:
// lr(step) = peak * min(1, (step + 1) / (warmup + 1))).
#pragma once
#include <algorithm>
#include <cstdint>

namespace gdpo::train {

// Learning rate for optimizer step `step` (0-based).
inline double warmup_lr(double peak, int64_t warmup_steps, int64_t step) {
  return peak * std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(warmup_steps + 1));
}

}  // namespace gdpo::train
