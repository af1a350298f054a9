// The model's belief distribution p_theta(b|x): its next-token probabilities of a question's K
// belief tokens after the prompt, and how far they are from the group's p*. One function serves the
// GDPO loss's metrics, the trainer's evaluation of every objective, and the evaluation commands.
#pragma once
#include <torch/torch.h>

namespace gdpo::loss {

struct BeliefDistribution {
  torch::Tensor probs;        // [B, K] p_theta renormalised over the valid beliefs, 0 on padding
  torch::Tensor prob_sum;     // [B] sum_k p_theta(b_k | x) before renormalising (<= 1): the mass
                              //     the model puts on the belief tokens ("belief.prob_sum")
  torch::Tensor js_distance;  // [B] JS distance between `probs` and p* ("belief.js_distance")
};

// From full-vocabulary log-probs of the belief tokens (position_logprobs at the last prompt
// position): probs = softmax over the valid k of belief_logps, so the same as exp(belief_logps)
// divided by prob_sum. Detached, in float64.
// belief_logps [B, K]; target_probs [B, K] p* (0 on padding); valid [B, K] bool.
BeliefDistribution belief_distribution(const torch::Tensor& belief_logps,
                                       const torch::Tensor& target_probs,
                                       const torch::Tensor& valid);

}  // namespace gdpo::loss
