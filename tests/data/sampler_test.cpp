// The sampler (per-epoch shuffle, rank sharding, exact cursor restore), batch assembly with every
// PairBatch field, and PairBatch::slice.
#include "gdpo/data/sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <sstream>

#include "data/test_tokenizer.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/synthetic.hpp"

namespace gdpo::data {
namespace {

TEST(Sampler, RanksSeeDisjointHalvesWhoseUnionIsTheEpoch) {
  const int64_t n = 10, b = 4;
  PairSampler r0(n, b, 0, 2, 7), r1(n, b, 1, 2, 7);
  EXPECT_EQ(r0.batches_per_epoch(), 2);
  const auto order = r0.epoch_order(0);
  std::vector<int64_t> seen;
  for (int step = 0; step < 2; ++step) {
    const auto a = r0.next(), c = r1.next();
    ASSERT_EQ(a.size(), 2u);
    ASSERT_EQ(c.size(), 2u);
    // Rank 0 gets the first half of the global batch, rank 1 the second.
    EXPECT_EQ(a, (std::vector<int64_t>{order[4 * step], order[4 * step + 1]}));
    EXPECT_EQ(c, (std::vector<int64_t>{order[4 * step + 2], order[4 * step + 3]}));
    seen.insert(seen.end(), a.begin(), a.end());
    seen.insert(seen.end(), c.begin(), c.end());
  }
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 8u);  // disjoint
  EXPECT_EQ(seen.size(), 8u);  // the epoch minus the dropped incomplete batch
  EXPECT_EQ(std::vector<int64_t>(order.begin(), order.begin() + 8),
            [&] {
              std::vector<int64_t> s;
              for (int step = 0; step < 2; ++step)
                for (int k = 0; k < 4; ++k) s.push_back(seen[4 * step + k]);
              return s;
            }());
  // Next epoch: a new permutation of the same indices.
  r0.next();
  EXPECT_EQ(r0.cursor().epoch, 1);
  auto e1 = r0.epoch_order(1);
  EXPECT_NE(e1, order);
  std::sort(e1.begin(), e1.end());
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(e1[i], i);
  EXPECT_EQ(PairSampler(n, b, 0, 2, 7).epoch_order(1), r0.epoch_order(1));  // from (seed, epoch)
  EXPECT_NE(PairSampler(n, b, 0, 2, 8).epoch_order(0), order);
  EXPECT_EQ(PairSampler(n, b, 0, 1, 7, /*shuffle=*/false).next(), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(Sampler, BadShapesAreUsageErrors) {
  EXPECT_THROW(PairSampler(10, 3, 0, 2, 0), UsageError);  // 3 % 2 != 0
  EXPECT_THROW(PairSampler(10, 4, 2, 2, 0), UsageError);
  EXPECT_THROW(PairSampler(3, 4, 0, 1, 0), UsageError);
}

TEST(Sampler, CursorRestoreGivesTheIdenticalContinuation) {
  PairSampler a(13, 4, 1, 2, 5);
  for (int i = 0; i < 7; ++i) a.next();  // crosses epoch boundaries (3 batches per epoch)
  const auto saved = a.cursor().serialize(13);
  std::vector<std::vector<int64_t>> expected;
  for (int i = 0; i < 5; ++i) expected.push_back(a.next());
  PairSampler b(13, 4, 1, 2, 5);
  b.restore(SamplerCursor::deserialize(saved, 13));
  EXPECT_EQ(b.cursor().epoch, 2);
  EXPECT_EQ(b.cursor().position, 4);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.next(), expected[i]);
  EXPECT_THROW(SamplerCursor::deserialize(saved, 14), InputError);
  EXPECT_THROW(SamplerCursor::deserialize({9, 0, 0, 13}, 13), InputError);
}

// A run checkpointed on 2 ranks and resumed on 1 or 4 (or the other way round): the cursor counts
// global examples, so the epoch goes on where it stopped and every example of it is seen once.
TEST(Sampler, AWorldSizeChangeAtACursorStillSeesEachExampleOncePerEpoch) {
  const int64_t n = 24, batch = 4;  // 6 global batches per epoch
  for (auto [before, after] : {std::pair{2, 1}, std::pair{1, 2}, std::pair{2, 4}, std::pair{4, 2}}) {
    std::vector<int64_t> seen;
    SamplerCursor cursor;
    {
      std::vector<PairSampler> ranks;
      for (int r = 0; r < before; ++r) ranks.emplace_back(n, batch, r, before, 11);
      for (int step = 0; step < 8; ++step)  // one epoch and 2 batches of the next
        for (auto& s : ranks) {
          auto got = s.next();
          if (step >= 6) seen.insert(seen.end(), got.begin(), got.end());
        }
      cursor = ranks[0].cursor();
    }
    EXPECT_EQ(cursor.epoch, 1);
    EXPECT_EQ(cursor.position, 8);
    std::vector<PairSampler> ranks;
    for (int r = 0; r < after; ++r) {
      ranks.emplace_back(n, batch, r, after, 11);
      ranks.back().restore(cursor);
    }
    for (int step = 0; step < 4; ++step)  // the rest of epoch 1
      for (auto& s : ranks) {
        auto got = s.next();
        seen.insert(seen.end(), got.begin(), got.end());
      }
    std::sort(seen.begin(), seen.end());
    std::vector<int64_t> all(n);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(seen, all) << before << " -> " << after << " ranks";
    EXPECT_EQ(ranks[0].cursor(), (SamplerCursor{1, n}));  // epoch 1 handed out whole
  }
}

TEST(Batch, EveryFieldRightPadded) {
  // Two questions: K = 2 ("Hi?") and K = 3 ("Yo"), so belief fields are padded to 3.
  const std::string text =
      R"({"prompt":"Hi?","options":["a","b"],"probabilities":[0.25,0.75],"accept_choice_id":0,)"
      R"("accept_choice":"a","accept_response":"x","reject_choice_id":1,"reject_choice":"b","reject_response":"yz"})"
      "\n"
      R"({"prompt":"Yo","options":["p","q","r"],"probabilities":[0.5,0.2,0.3],"accept_choice_id":0,)"
      R"("accept_choice":"p","accept_response":"","reject_choice_id":2,"reject_choice":"r","reject_response":"w"})"
      "\n";
  std::istringstream in(text);
  test::CharTokenizer tok;
  const TokenizedPairs t = tokenize_pairs(parse_records(in, "b.jsonl"), tok, {});
  const PairBatch b = make_batch(t, {1, 0});
  ASSERT_EQ(b.pairs(), 2);
  // Rows: [pair 1 chosen, pair 0 chosen, pair 1 rejected, pair 0 rejected]. Pair 1 chosen
  // "<Q>Yo<A>" 8 + "0<p>" 4 + EOT = 13, rejected 8 + "0<p>w" 5 + EOT = 14; pair 0: 15 and 16 (see
  // tokenized_test). T = 16. Belief spans "0<p" / "0<a" (3); the preference spans start at their ">":
  // 8 + 3 = 11 (pair 1), 9 + 3 = 12 (pair 0).
  EXPECT_EQ(b.input_ids.sizes(), (std::vector<int64_t>{4, 16}));
  EXPECT_EQ(std::vector<int64_t>(b.seq_len.data_ptr<int64_t>(), b.seq_len.data_ptr<int64_t>() + 4),
            (std::vector<int64_t>{13, 15, 14, 16}));
  EXPECT_EQ(b.prompt_len[0].item<int64_t>(), 8);
  EXPECT_EQ(b.prompt_len[1].item<int64_t>(), 9);
  EXPECT_EQ(b.belief_len[2].item<int64_t>(), 3);
  EXPECT_EQ(std::vector<int64_t>(b.pref_begin.data_ptr<int64_t>(),
                                 b.pref_begin.data_ptr<int64_t>() + 4),
            (std::vector<int64_t>{11, 12, 11, 12}));
  for (int64_t r = 0; r < 4; ++r) {
    const int64_t p = b.pref_begin[r].item<int64_t>();
    EXPECT_EQ(b.input_ids[r][p].item<int64_t>(), '>');  // the span's first token
    EXPECT_EQ(p, b.prompt_len[r].item<int64_t>() + b.belief_len[r].item<int64_t>());
  }
  EXPECT_EQ(b.input_ids[0][12].item<int64_t>(), 1000);  // EOT
  EXPECT_EQ(b.input_ids[0][13].item<int64_t>(), 1000);  // padding = pad id
  EXPECT_EQ(b.attention_mask[0].sum().item<int64_t>(), 13);
  EXPECT_EQ(b.attention_mask[0][13].item<int64_t>(), 0);
  EXPECT_EQ(b.input_ids[0][8].item<int64_t>(), '0');  // first belief token at prompt_len
  EXPECT_EQ(b.tokens(), 13 + 15 + 14 + 16);
  EXPECT_EQ(b.belief_token_ids.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b.belief_token_ids[1][2].item<int64_t>(), 0);  // K = 2 padded
  EXPECT_FALSE(b.belief_valid[1][2].item<bool>());
  EXPECT_TRUE(b.belief_valid[0][2].item<bool>());
  EXPECT_FLOAT_EQ(b.target_probs[0][2].item<float>(), 0.3f);
  EXPECT_FLOAT_EQ(b.target_probs[1][2].item<float>(), 0.0f);
  EXPECT_TRUE(b.chosen_is_majority[0].item<bool>());    // p = 0.5 is the majority
  EXPECT_FALSE(b.chosen_is_majority[1].item<bool>());   // 0.25 < 0.75
  EXPECT_EQ(b.example_index, (std::vector<int64_t>{1, 0}));

  const PairBatch s = b.slice(0, 1);
  EXPECT_EQ(s.pairs(), 1);
  EXPECT_EQ(s.input_ids.sizes(), (std::vector<int64_t>{2, 14}));  // padding trimmed
  EXPECT_TRUE(s.input_ids[1].equal(b.input_ids[2].slice(0, 0, 14)));
  EXPECT_EQ(s.seq_len[1].item<int64_t>(), 14);
  EXPECT_EQ(s.pref_begin[0].item<int64_t>(), 11);
  EXPECT_EQ(s.pref_begin[1].item<int64_t>(), 11);
  EXPECT_EQ(s.belief_len[1].item<int64_t>(), 3);
  EXPECT_EQ(s.example_index, (std::vector<int64_t>{1}));
  EXPECT_EQ(s.belief_token_ids.size(0), 1);
  const PairBatch moved = b.to(torch::kCPU);
  EXPECT_TRUE(moved.input_ids.equal(b.input_ids));
  EXPECT_TRUE(moved.pref_begin.equal(b.pref_begin));
}

TEST(Batch, LoaderCoversTheEpochOnTwoRanks) {
  SyntheticConfig c;
  c.questions = 5;
  c.pairs_per_question = 4;
  test::CharTokenizer tok;
  const TokenizedPairs t = tokenize_pairs(make_synthetic(c), tok, {});
  PairLoader l0(t, 4, 0, 2, 1), l1(t, 4, 1, 2, 1);
  std::set<int64_t> seen;
  for (int i = 0; i < 5; ++i)
    for (auto* l : {&l0, &l1})
      for (int64_t e : l->next().example_index) EXPECT_TRUE(seen.insert(e).second);
  EXPECT_EQ(seen.size(), 20u);
}

}  // namespace
}  // namespace gdpo::data
