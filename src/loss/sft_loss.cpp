#include "gdpo/loss/sft_loss.hpp"

#include "gdpo/core/error.hpp"

namespace gdpo::loss {

torch::Tensor sft_loss(const torch::Tensor& response_logps, const torch::Tensor& response_tokens) {
  GDPO_CHECK(response_logps.sizes() == response_tokens.sizes(),
             "response log-probs " << response_logps.sizes() << " and token counts "
                                   << response_tokens.sizes() << " differ in shape");
  auto tokens = response_tokens.sum().clamp_min(1).to(response_logps.scalar_type());
  return -response_logps.sum() / tokens;
}

}  // namespace gdpo::loss
