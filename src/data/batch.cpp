#include "gdpo/data/batch.hpp"

#include "gdpo/core/error.hpp"

namespace gdpo::data {

PairBatch PairBatch::slice(int64_t begin, int64_t end) const {
  const int64_t b = pairs();
  GDPO_CHECK(0 <= begin && begin < end && end <= b,
             "PairBatch::slice(" << begin << ", " << end << ") of " << b << " pairs");
  auto rows = [&](const torch::Tensor& t) {  // chosen rows [begin, end) then rejected ones
    return torch::cat({t.slice(0, begin, end), t.slice(0, b + begin, b + end)});
  };
  PairBatch out;
  out.input_ids = rows(input_ids);
  out.attention_mask = rows(attention_mask);
  out.prompt_len = rows(prompt_len);
  out.belief_len = rows(belief_len);
  out.pref_begin = pref_begin.defined() ? rows(pref_begin) : pref_begin;
  out.seq_len = rows(seq_len);
  // Trim the padding no remaining row needs.
  const int64_t t = std::max<int64_t>(1, out.seq_len.max().item<int64_t>());
  out.input_ids = out.input_ids.slice(1, 0, t).contiguous();
  out.attention_mask = out.attention_mask.slice(1, 0, t).contiguous();
  out.belief_token_ids = belief_token_ids.slice(0, begin, end);
  out.belief_valid = belief_valid.slice(0, begin, end);
  out.target_probs = target_probs.slice(0, begin, end);
  out.chosen_is_majority = chosen_is_majority.slice(0, begin, end);
  out.example_index.assign(example_index.begin() + begin, example_index.begin() + end);
  return out;
}

PairBatch PairBatch::to(const torch::Device& device) const {
  auto mv = [&](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  PairBatch out = *this;
  for (auto* f : {&out.input_ids, &out.attention_mask, &out.prompt_len, &out.belief_len,
                  &out.pref_begin, &out.seq_len, &out.belief_token_ids, &out.belief_valid,
                  &out.target_probs, &out.chosen_is_majority})
    *f = mv(*f);
  return out;
}

}  // namespace gdpo::data
