// Clipping by the global gradient norm (the paper clips at 10), as torch.nn.utils.clip_grad_norm_:
// the norm over every parameter's gradient, accumulated in float64.
//
// clip_gradients_on_device() does it without reading anything back to the host (the train step reads
// the norm once, together with its metrics); clip_gradients() is the same arithmetic plus that read.
// On CPU both give bit for bit what the original host loop gave: each parameter's sum of squares in
// float64, those sums added in parameter order, sqrt, coef = max_norm / (norm + 1e-6), and the
// gradients multiplied by coef only where coef < 1 (a coef of 1 or more, or NaN, leaves them as
// they are).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace gdpo::train {

// Returns the global L2 norm of the gradients; when max_norm > 0 and the norm exceeds it, scales
// every gradient by max_norm / (norm + 1e-6). Parameters without a gradient are skipped.
double clip_gradients(const std::vector<torch::Tensor>& params, double max_norm);

// The same without a host read: returns the norm (before clipping) as a 0-d float64 tensor on the
// gradients' device (0 on CPU when no parameter has a gradient). The scaling is applied on the
// device: every gradient is multiplied by min(coef, 1) (coef where coef < 1, else exactly 1), which
// is bitwise the conditional scaling; with max_norm <= 0 nothing is multiplied.
torch::Tensor clip_gradients_on_device(const std::vector<torch::Tensor>& params, double max_norm);

// The scaling step alone, for a `norm` computed elsewhere (ZeRO's gradient shards: the ranks' sums
// of squares added first): with max_norm > 0, every tensor of `grads` multiplied in place by
// min(max_norm / (norm + 1e-6), 1) exactly as above.
void scale_gradients_to_norm(const std::vector<torch::Tensor>& grads, const torch::Tensor& norm,
                             double max_norm);

}  // namespace gdpo::train
