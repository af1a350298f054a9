#include "gdpo/loss/sft_loss.hpp"

#include "gdpo/core/error.hpp"

namespace gdpo::loss {

torch::Tensor sft_loss(const torch::Tensor& response_logps, const torch::Tensor& response_tokens) {
  GDPO_CHECK(response_logps.sizes() == response_tokens.sizes(),
             "response log-probs " << response_logps.sizes() << " and token counts "
                                   << response_tokens.sizes() << " differ in shape");
  GDPO_CHECK((response_tokens >= 1).all().item<bool>(), "an SFT response without tokens");
  return -(response_logps / response_tokens.to(response_logps.scalar_type())).mean();
}

}  // namespace gdpo::loss
