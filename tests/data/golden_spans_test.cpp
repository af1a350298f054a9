// gdpo's rendering, tokenization and spans against the authors' procedure: tests/golden/golden.json
// holds, for a committed GPT-2-style BPE (tests/golden/tokenizer, where `>"` is one token, id 404),
// the prompt and response ids and the spans the authors' code produces (see tests/golden/README.md).
// The pairs go through gdpo's own reader: records in the published schema, then render + tokenize.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gdpo/data/record.hpp"
#include "gdpo/data/sampler.hpp"
#include "gdpo/data/tokenized.hpp"
#include "support/test_support.hpp"

namespace gdpo::data {
namespace {

using json = nlohmann::json;

const std::string kGolden = "/tests/golden";

json golden() {
  std::ifstream in(test::source_dir() + kGolden + "/golden.json");
  EXPECT_TRUE(in) << "cannot open golden.json";
  return json::parse(in);
}

// A golden pair as a record of the published schema. Opinion: the options the question uses, with
// their ids in `options_map` (p* of the unused ids is 0 in golden.json and is left out); review: the
// six ratings "0".."5" as options (their own ids).
json record_of(const json& pair, bool opinion) {
  json r;
  r["prompt"] = pair["question"];
  const auto& p = pair["p_star"];
  if (opinion) {
    if (!pair["context"].get<std::string>().empty()) r["context"] = pair["context"];
    json options = json::array(), probs = json::array(), map = json::object();
    for (const auto& [id, text] : pair["options"].items()) {
      options.push_back(text);
      probs.push_back(p[std::stoi(id)]);
      map[text.get<std::string>()] = std::stoi(id);
    }
    r["options"] = options;
    r["probabilities"] = probs;
    r["options_map"] = map;
    r["accept_choice"] = pair["chosen"]["option"];
    r["reject_choice"] = pair["rejected"]["option"];
  } else {
    r["options"] = json::array();
    for (int k = 0; k < static_cast<int>(p.size()); ++k) r["options"].push_back(std::to_string(k));
    r["probabilities"] = p;
  }
  r["accept_choice_id"] = pair["chosen"]["id"];
  r["accept_response"] = pair["chosen"]["text"];
  r["reject_choice_id"] = pair["rejected"]["id"];
  r["reject_response"] = pair["rejected"]["text"];
  return r;
}

std::vector<int64_t> slice(const TokenizedPairs& t, int64_t r, int64_t begin, int64_t end) {
  const auto* base = t.tokens.data() + t.row_offset[r];
  return std::vector<int64_t>(base + begin, base + end);
}

// "1" where [begin, end) of a response of `n` tokens, as golden.json writes its masks.
std::string mask(int64_t n, int64_t begin, int64_t end) {
  std::string m(n, '0');
  for (int64_t i = begin; i < end; ++i) m[i] = '1';
  return m;
}

class TokenizedGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    g_ = golden();
    tok_ = tokenizer::load_tokenizer(test::source_dir() + kGolden + "/tokenizer");
  }
  json g_;
  tokenizer::TokenizerPtr tok_;
};

TEST_F(TokenizedGolden, TheTokenizerIsTheGoldenOne) {
  const auto& t = g_["tokenizer"];
  EXPECT_EQ(tok_->vocab_size(), t["vocab_size"].get<int64_t>());
  EXPECT_EQ(tok_->eos_id(), t["eos_id"].get<int64_t>());
  EXPECT_EQ(gt_token_id(*tok_), t["gt_token_id"].get<int64_t>());  // ">" = 29
  EXPECT_EQ(tok_->encode(">\""), (std::vector<int64_t>{t["gt_quote_token_id"].get<int64_t>()}));
}

TEST_F(TokenizedGolden, IdsAndSpansOfEveryPairMatchTheAuthors) {
  for (const char* name : {"opinion", "review"}) {
    SCOPED_TRACE(name);
    const bool opinion = std::string(name) == "opinion";
    const json& batch = g_["batches"][name];
    const json& pairs = batch["pairs"];
    std::string jsonl;
    for (const auto& p : pairs) jsonl += record_of(p, opinion).dump() + "\n";
    std::istringstream in(jsonl);
    const Dataset data = parse_records(in, std::string("golden-") + name + ".jsonl");
    ASSERT_EQ(data.kind, opinion ? DatasetKind::kOpinion : DatasetKind::kReview);
    ASSERT_EQ(data.pairs.size(), pairs.size());

    TokenizeOptions o;
    o.max_length = g_["max_length"].get<int64_t>();
    o.max_prompt_length = g_["max_prompt_length"].get<int64_t>();
    o.mode = PairMode::kGdpo;  // rejected conditioned on the chosen belief: sft, cdpo, ipo, gdpo
    const TokenizedPairs gd = tokenize_pairs(data, *tok_, o);
    o.mode = PairMode::kDpo;   // rejected with its own belief: dpo
    const TokenizedPairs dp = tokenize_pairs(data, *tok_, o);
    ASSERT_EQ(gd.pairs(), static_cast<int64_t>(pairs.size()));
    ASSERT_EQ(dp.pairs(), static_cast<int64_t>(pairs.size()));

    for (size_t i = 0; i < pairs.size(); ++i) {
      SCOPED_TRACE("pair " + std::to_string(i));
      const json& p = pairs[i];
      const json& rows = p["rows"];
      const Pair& pair = data.pairs[i];
      // Rendering.
      EXPECT_EQ(render_prompt(data.questions[pair.question]), p["prompt"].get<std::string>());
      EXPECT_EQ(render_pair(data, pair, PairMode::kGdpo).chosen(), rows["chosen"]["response"]);
      EXPECT_EQ(render_pair(data, pair, PairMode::kGdpo).rejected(),
                rows["rejected_chosen_belief"]["response"]);
      EXPECT_EQ(render_pair(data, pair, PairMode::kDpo).rejected(),
                rows["rejected_own_belief"]["response"]);
      // p* as given: the float32 of each decimal (pairs 1 and 2 sum to 0.9999999, not rescaled).
      const int64_t off = gd.question_offset[gd.pair_question[i]];
      const Question& q = data.questions[pair.question];
      for (size_t k = 0; k < q.belief_ids.size(); ++k)
        EXPECT_EQ(gd.belief_prob[off + k],
                  static_cast<float>(p["p_star"][std::stoi(q.belief_ids[k])].get<double>()))
            << "belief " << q.belief_ids[k];

      const int64_t plen = p["prompt_len"].get<int64_t>();
      const std::vector<int64_t> prompt_ids = p["prompt_ids"].get<std::vector<int64_t>>();
      struct Row {
        const TokenizedPairs* t;
        int64_t r;
        const char* golden;
      };
      for (const Row& row : {Row{&gd, int64_t(2 * i), "chosen"},
                             Row{&gd, int64_t(2 * i + 1), "rejected_chosen_belief"},
                             Row{&dp, int64_t(2 * i), "chosen"},
                             Row{&dp, int64_t(2 * i + 1), "rejected_own_belief"}}) {
        SCOPED_TRACE(std::string(row.golden) + (row.t == &gd ? " (gdpo mode)" : " (dpo mode)"));
        const TokenizedPairs& t = *row.t;
        const json& g = rows[row.golden];
        const int64_t r = row.r, n = g["response_len"].get<int64_t>();
        ASSERT_EQ(t.row_prompt[r], plen);
        EXPECT_EQ(slice(t, r, 0, plen), prompt_ids);
        ASSERT_EQ(t.row_length[r], plen + n);
        EXPECT_EQ(slice(t, r, plen, plen + n), g["response_ids"].get<std::vector<int64_t>>());
        EXPECT_EQ(t.row_belief[r], g["belief_len"].get<int64_t>());
        EXPECT_EQ(mask(n, 0, t.row_belief[r]), g["belief_mask"].get<std::string>());
        // dpo_start counts from the response's first token: row_pref = prompt_len + dpo_start.
        if (g.contains("dpo_start")) {
          EXPECT_EQ(t.row_pref[r], plen + g["dpo_start"].get<int64_t>());
          EXPECT_EQ(mask(n, t.row_pref[r] - plen, n), g["dpo_mask"].get<std::string>());
        } else {  // dpo's rejected row: the chosen row's offset (dpo itself sums whole responses)
          EXPECT_EQ(t.row_pref[r], t.row_pref[r - 1]);
        }
      }
    }

    // The batch carries the same spans: pref_begin = prompt_len + dpo_start.
    std::vector<int64_t> all(pairs.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    const PairBatch b = make_batch(gd, all);
    const int64_t n = static_cast<int64_t>(pairs.size());
    for (int64_t i = 0; i < n; ++i) {
      const json& p = pairs[i];
      const int64_t plen = p["prompt_len"].get<int64_t>();
      EXPECT_EQ(b.pref_begin[i].item<int64_t>(),
                plen + p["rows"]["chosen"]["dpo_start"].get<int64_t>());
      EXPECT_EQ(b.pref_begin[n + i].item<int64_t>(),
                plen + p["rows"]["rejected_chosen_belief"]["dpo_start"].get<int64_t>());
      EXPECT_EQ(b.belief_len[i].item<int64_t>(), p["rows"]["chosen"]["belief_len"].get<int64_t>());
    }

    // SFT: one pair per distinct prompt, the last one's chosen row, in first-appearance order.
    const auto sft_pairs = batch["sft_pairs"].get<std::vector<int64_t>>();
    const TokenizedPairs sft = last_pair_per_question(gd);
    ASSERT_EQ(sft.pairs(), static_cast<int64_t>(sft_pairs.size()));
    for (size_t k = 0; k < sft_pairs.size(); ++k) {
      const int64_t src = 2 * sft_pairs[k];
      EXPECT_EQ(slice(sft, 2 * k, 0, sft.row_length[2 * k]), slice(gd, src, 0, gd.row_length[src]))
          << "SFT row " << k << " should be pair " << sft_pairs[k] << "'s chosen row";
      EXPECT_EQ(sft.row_belief[2 * k], gd.row_belief[src]);
    }
  }
}

}  // namespace
}  // namespace gdpo::data
