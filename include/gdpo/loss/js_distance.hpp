// The Jensen-Shannon distance between discrete distributions, batched over rows with a validity
// mask; the same value as scipy.spatial.distance.jensenshannon(p, q) (natural log, inputs
// normalised).
#pragma once
#include <torch/torch.h>

namespace gdpo::loss {

// sqrt(JS(p, q)), JS(p, q) = (KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2, over the valid
// entries of each row, after normalising p and q to sum to 1 there (as scipy does); 0 log 0 = 0.
// Ranges over [0, sqrt(ln 2)]. A row whose valid p or q mass is 0 gives NaN (scipy does the same).
// p, q [B, K] non-negative; valid [B, K] bool (undefined: every entry)  ->  [B].
// Meant for metrics: the gradient is infinite where the distance is 0.
torch::Tensor js_distance(const torch::Tensor& p, const torch::Tensor& q,
                          const torch::Tensor& valid = torch::Tensor());

}  // namespace gdpo::loss
