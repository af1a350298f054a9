// The supervised fine-tuning objective: the negative log-likelihood of the chosen responses.
#pragma once
#include <torch/torch.h>

namespace gdpo::loss {

// The authors' SFT: minus the mean over examples of each response's MEAN token log-prob,
//   -(1/B) sum_i logp_i / tokens_i,
// so every example weighs the same whatever its length (and the value does not depend on how the
// examples are split into micro-batches or ranks). The response includes the belief span and the
// end-of-text. response_logps [B] summed log-probs of the chosen responses; response_tokens [B]
// their token counts (>= 1)  ->  scalar.
torch::Tensor sft_loss(const torch::Tensor& response_logps, const torch::Tensor& response_tokens);

}  // namespace gdpo::loss
