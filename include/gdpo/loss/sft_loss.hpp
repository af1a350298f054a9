// The supervised fine-tuning objective: the negative log-likelihood of the chosen responses.
#pragma once
#include <torch/torch.h>

namespace gdpo::loss {

// Token-mean NLL over the batch, as in the DPO reference SFT: -sum_i logp_i / sum_i tokens_i, so a
// long response weighs more than a short one. The response includes the belief span.
// response_logps [B] summed log-probs of the chosen responses; response_tokens [B] their token
// counts  ->  scalar. A batch without any response token gives 0.
torch::Tensor sft_loss(const torch::Tensor& response_logps, const torch::Tensor& response_tokens);

}  // namespace gdpo::loss
