// Clipping by the global gradient norm (the paper clips at 10), as torch.nn.utils.clip_grad_norm_:
// the norm over every parameter's gradient, accumulated in float64.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace gdpo::train {

// Returns the global L2 norm of the gradients; when max_norm > 0 and the norm exceeds it, scales
// every gradient by max_norm / (norm + 1e-6). Parameters without a gradient are skipped.
double clip_gradients(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace gdpo::train
