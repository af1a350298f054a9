// The exact belief distribution of test rows: the softmax over each row's K belief tokens' logits
// at the last prompt position (the authors' `softmax(option_logits_6)`), through the same
// loss::belief_distribution the trainer's evaluation uses. Data parallel over the ranks.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "gdpo/dist/communicator.hpp"
#include "gdpo/eval/test_rows.hpp"
#include "gdpo/model/causal_lm.hpp"

namespace gdpo::eval {

// Row r's forward runs on rank r % world in left-padded batches of `batch_size` prompts; every rank
// returns all rows. Only [B, vocab] logits exist at once (the last position). The ranks agree after
// every batch but the last whether one got SIGTERM/SIGUSR1 (train::stop_agreed, under the command's
// StopSignalGuard) and then all throw train::StopRequested: nothing is kept to resume from.
// -> [R, Kmax] float64, Kmax = the largest K (at least 1), 0 beyond each row's K.
torch::Tensor belief_probabilities(model::CausalLM& model, const std::vector<TestRow>& rows,
                                   int64_t batch_size, dist::Communicator& comm);

}  // namespace gdpo::eval
