#include "gdpo/train/reference_cache.hpp"

#include <filesystem>

#include "gdpo/core/error.hpp"
#include "gdpo/core/fault_injection.hpp"
#include "gdpo/core/hash.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/data/sampler.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/train/stop_signal.hpp"

namespace gdpo::train {

loss::ReferenceLogprobs ReferenceTable::lookup(const std::vector<int64_t>& pairs) const {
  GDPO_CHECK(values_.defined(), "the reference table is empty");
  auto index = torch::tensor(pairs, torch::kInt64);
  GDPO_CHECK(index.numel() == 0 || index.max().item<int64_t>() < values_.size(0),
             "pair index outside the reference table of " << values_.size(0) << " pairs");
  auto rows = values_.index_select(0, index);  // [B, kColumns]
  loss::ReferenceLogprobs ref;
  ref.after_belief = torch::cat({rows.select(1, 0), rows.select(1, 2)});
  ref.response = torch::cat({rows.select(1, 1), rows.select(1, 3)});
  return ref;
}

std::string weights_fingerprint(const model::CausalLM& model) {
  Fnv1a f;
  for (const auto& [name, tensor] : model.hf_state_dict()) {
    f.add(name);
    f.add(std::string(c10::toString(tensor.scalar_type())));
    for (auto d : tensor.sizes()) f.add(static_cast<uint64_t>(d));
    auto t = tensor.detach().contiguous().cpu();
    f.add_bytes(t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size());
  }
  return f.hex();
}

std::string pairs_fingerprint(const data::TokenizedPairs& p) {
  Fnv1a f;
  f.add(p.tokens);
  f.add(p.row_offset);
  f.add(p.row_prompt);
  f.add(p.row_belief);
  f.add(p.row_pref);
  f.add(p.row_length);
  f.add(p.pair_chosen);
  f.add(p.pair_rejected);
  f.add(p.question_offset);
  f.add(p.belief_token);
  f.add(p.belief_prob);
  f.add(static_cast<uint64_t>(p.pad_id));
  return f.hex();
}

ReferenceTable compute_reference_table(model::CausalLM& reference,
                                       const data::TokenizedPairs& pairs,
                                       dist::Communicator& comm, int64_t batch_pairs,
                                       int64_t chunk_rows) {
  torch::NoGradGuard no_grad;
  const int64_t n = pairs.pairs();
  const int world = comm.world_size();
  const int64_t per_rank = (n + world - 1) / world;
  // Rank r takes pairs r, r + world, r + 2 world, ...; rows past the end stay zero.
  auto local = torch::zeros({per_rank, ReferenceTable::kColumns}, torch::kFloat64);
  std::vector<int64_t> mine;
  for (int64_t i = comm.rank(); i < n; i += world) mine.push_back(i);
  const auto device = reference.output_weight().device();
  const int64_t batches = (per_rank + batch_pairs - 1) / batch_pairs;  // the same on every rank
  for (int64_t k = 0; k < batches; ++k) {
    const size_t begin = static_cast<size_t>(k * batch_pairs);
    const size_t end = std::min(mine.size(), begin + static_cast<size_t>(batch_pairs));
    if (begin < end) {
      std::vector<int64_t> idx(mine.begin() + begin, mine.begin() + end);
      auto batch = data::make_batch(pairs, idx).to(device);
      auto hidden = reference.hidden_states(batch.input_ids, batch.attention_mask);
      auto sums = loss::reference_logprobs(hidden, reference.output_weight(), batch, chunk_rows);
      const int64_t b = static_cast<int64_t>(idx.size());
      auto cols = torch::stack({sums.after_belief.narrow(0, 0, b), sums.response.narrow(0, 0, b),
                                sums.after_belief.narrow(0, b, b), sums.response.narrow(0, b, b)},
                               1)
                      .to(torch::kCPU, torch::kFloat64);
      local.narrow(0, static_cast<int64_t>(begin), b).copy_(cols);
    }
    fault::on_reference_batch();
    if (stop_agreed(comm)) throw StopRequested("the reference log-prob pass");
  }
  auto gathered = comm.all_gather(local);  // [world, per_rank, kColumns]
  // Pair i lives at gathered[i % world][i / world].
  auto table = gathered.transpose(0, 1)
                   .reshape({per_rank * world, ReferenceTable::kColumns})
                   .narrow(0, 0, n)
                   .clone();
  return ReferenceTable(table);
}

ReferenceTable load_or_compute_reference(const std::string& cache_path,
                                         const std::string& fingerprint,
                                         model::CausalLM& reference,
                                         const data::TokenizedPairs& pairs,
                                         dist::Communicator& comm, int64_t batch_pairs,
                                         int64_t chunk_rows) {
  std::string why = "no cache yet";
  if (std::filesystem::exists(cache_path)) {
    try {
      auto f = io::H5File::open_read(cache_path);
      const std::string stored = f.string_attr("/", "fingerprint");
      if (stored == fingerprint) {
        auto values =
            f.read_tensor("logps", torch::kFloat64, {pairs.pairs(), ReferenceTable::kColumns});
        log::info("reference log-probs: using the cache ", cache_path);
        return ReferenceTable(values);
      }
      why = "the cache was made for other weights, data or settings";
    } catch (const std::exception& e) {
      why = std::string("the cache is unreadable (") + e.what() + ")";
    }
  }
  log::info("reference log-probs: computing for ", pairs.pairs(), " pairs (", why, ")");
  auto table = compute_reference_table(reference, pairs, comm, batch_pairs, chunk_rows);
  if (comm.is_root()) {
    io::write_h5_atomic(cache_path, [&](io::H5File& f) {
      f.set_attr("/", "fingerprint", fingerprint);
      f.set_attr("/", "columns",
                 "chosen_after_belief,chosen_response,rejected_after_belief,rejected_response");
      f.write_tensor("logps", table.values());
    });
  }
  comm.barrier();
  return table;
}

}  // namespace gdpo::train
