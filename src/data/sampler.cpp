#include "gdpo/data/sampler.hpp"

#include "gdpo/data/majority.hpp"

#include <numeric>

#include "gdpo/core/error.hpp"
#include "gdpo/data/majority.hpp"
#include "gdpo/data/random.hpp"

namespace gdpo::data {

namespace {
constexpr int64_t kCursorVersion = 1;
}

std::array<int64_t, 4> SamplerCursor::serialize(int64_t dataset_size) const {
  return {kCursorVersion, epoch, position, dataset_size};
}

SamplerCursor SamplerCursor::deserialize(const std::array<int64_t, 4>& v, int64_t dataset_size) {
  if (v[0] != kCursorVersion)
    GDPO_THROW(InputError, "data cursor: unknown version " << v[0]);
  if (v[3] != dataset_size)
    GDPO_THROW(InputError, "data cursor: saved for " << v[3] << " pairs, the data has "
                                                     << dataset_size);
  if (v[1] < 0 || v[2] < 0 || v[2] > dataset_size)
    GDPO_THROW(InputError, "data cursor: bad position (epoch " << v[1] << ", position " << v[2] << ")");
  return {v[1], v[2]};
}

PairSampler::PairSampler(int64_t dataset_size, int64_t global_batch, int rank, int world,
                         uint64_t seed, bool shuffle)
    : size_(dataset_size), global_batch_(global_batch), rank_(rank), world_(world), seed_(seed),
      shuffle_(shuffle) {
  if (world < 1 || rank < 0 || rank >= world)
    GDPO_THROW(UsageError, "data sampler: rank " << rank << " outside a world of " << world);
  if (global_batch < 1) GDPO_THROW(UsageError, "batch size must be >= 1 (got " << global_batch << ")");
  if (global_batch % world != 0)
    GDPO_THROW(UsageError, "batch size " << global_batch << " is not divisible by the " << world
                                         << " ranks");
  if (dataset_size < global_batch)
    GDPO_THROW(UsageError, "the data has " << dataset_size << " pairs, fewer than one batch of "
                                           << global_batch);
}

std::vector<int64_t> PairSampler::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(size_);
  std::iota(order.begin(), order.end(), 0);
  if (shuffle_) {
    Rng rng(Rng::mix(seed_, static_cast<uint64_t>(epoch)));
    rng.shuffle(order);
  }
  return order;
}

std::vector<int64_t> PairSampler::next() {
  if (cursor_.position + global_batch_ > size_) {  // drop the incomplete tail
    ++cursor_.epoch;
    cursor_.position = 0;
  }
  if (order_epoch_ != cursor_.epoch) {
    order_ = epoch_order(cursor_.epoch);
    order_epoch_ = cursor_.epoch;
  }
  const int64_t local = local_batch();
  const int64_t begin = cursor_.position + rank_ * local;
  std::vector<int64_t> out(order_.begin() + begin, order_.begin() + begin + local);
  cursor_.position += global_batch_;
  return out;
}

void PairSampler::restore(const SamplerCursor& cursor) {
  if (cursor.epoch < 0 || cursor.position < 0 || cursor.position > size_)
    GDPO_THROW(InputError, "data cursor (epoch " << cursor.epoch << ", position " << cursor.position
                                                 << ") does not fit " << size_ << " pairs");
  cursor_ = cursor;
}

PairBatch make_batch(const TokenizedPairs& d, const std::vector<int64_t>& pairs) {
  const int64_t b = static_cast<int64_t>(pairs.size());
  GDPO_CHECK(b > 0, "make_batch: no pairs");
  int64_t t = 1, k_max = 1;
  for (int64_t i : pairs) {
    GDPO_CHECK(i >= 0 && i < d.pairs(), "make_batch: pair index " << i << " of " << d.pairs());
    t = std::max<int64_t>({t, d.row_length[2 * i], d.row_length[2 * i + 1]});
    k_max = std::max(k_max, d.beliefs(d.pair_question[i]));
  }
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  PairBatch out;
  out.input_ids = torch::full({2 * b, t}, d.pad_id, i64);
  out.attention_mask = torch::zeros({2 * b, t}, i64);
  out.prompt_len = torch::empty({2 * b}, i64);
  out.belief_len = torch::empty({2 * b}, i64);
  out.pref_begin = torch::empty({2 * b}, i64);
  out.seq_len = torch::empty({2 * b}, i64);
  out.belief_token_ids = torch::zeros({b, k_max}, i64);
  out.belief_valid = torch::zeros({b, k_max}, torch::kBool);
  out.target_probs = torch::zeros({b, k_max}, torch::kFloat32);
  out.chosen_is_majority = torch::empty({b}, torch::kBool);
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto mask = out.attention_mask.accessor<int64_t, 2>();
  auto plen = out.prompt_len.accessor<int64_t, 1>();
  auto blen = out.belief_len.accessor<int64_t, 1>();
  auto pref = out.pref_begin.accessor<int64_t, 1>();
  auto slen = out.seq_len.accessor<int64_t, 1>();
  auto btok = out.belief_token_ids.accessor<int64_t, 2>();
  auto bval = out.belief_valid.accessor<bool, 2>();
  auto prob = out.target_probs.accessor<float, 2>();
  auto maj = out.chosen_is_majority.accessor<bool, 1>();
  for (int64_t j = 0; j < b; ++j) {
    const int64_t i = pairs[j];
    for (int side = 0; side < 2; ++side) {
      const int64_t r = 2 * i + side, row = side * b + j;
      const int32_t* src = d.tokens.data() + d.row_offset[r];
      for (int64_t x = 0; x < d.row_length[r]; ++x) {
        ids[row][x] = src[x];
        mask[row][x] = 1;
      }
      plen[row] = d.row_prompt[r];
      blen[row] = d.row_belief[r];
      pref[row] = d.row_pref[r];
      slen[row] = d.row_length[r];
    }
    const int64_t q = d.pair_question[i], off = d.question_offset[q], k = d.beliefs(q);
    for (int64_t x = 0; x < k; ++x) {
      btok[j][x] = d.belief_token[off + x];
      bval[j][x] = true;
      prob[j][x] = d.belief_prob[off + x];
    }
    const auto probs = d.belief_prob.begin() + off;
    maj[j] = d.pair_chosen[i] == majority_belief(probs, probs + k);
    out.example_index.push_back(i);
  }
  return out;
}

}  // namespace gdpo::data
