#include "gdpo/loss/reference_logprobs.hpp"

namespace gdpo::loss {

ReferenceLogprobs::ReferenceLogprobs(const SequenceLogprobs& seq)
    : after_belief(seq.after_belief.detach()),
      response(seq.response.detach()) {}

ReferenceLogprobs reference_logprobs(const torch::Tensor& hidden,
                                     const torch::Tensor& output_weight,
                                     const data::PairBatch& batch, int64_t chunk_rows) {
  torch::NoGradGuard no_grad;
  auto logps = token_logprobs(hidden, output_weight, batch.input_ids, batch.prompt_len,
                              batch.seq_len, chunk_rows);
  return ReferenceLogprobs(sequence_logprobs(logps, batch));
}

}  // namespace gdpo::loss
