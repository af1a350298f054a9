// The evaluation's per-row metrics on hand-made generations whose expected values follow by hand
// (JS distances from scipy.spatial.distance.jensenshannon, quoted), the majority/minority
// breakdown, the judge's share, and eval.h5's layout.
#include <gtest/gtest.h>

#include <cmath>

#include "gdpo/core/error.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "gdpo/eval/evaluator.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "support/test_support.hpp"

namespace gdpo::eval {
namespace {

// Two beliefs "0" <yes>, "1" <no>; p* = (0.75, 0.25), so the majority is belief 0.
TestRow row(int64_t question, int64_t reference_belief) {
  TestRow r;
  r.question = question;
  r.prompt = "<Q>q" + std::to_string(question) + "<A>";
  r.prompt_ids = {60, 81, 62, 113, 60, 65, 62};
  r.belief_tokens = {48, 49};
  r.belief_ids = {"0", "1"};
  r.options = {"yes", "no"};
  r.pstar = {0.75, 0.25};
  r.reference_belief = reference_belief;
  r.reference_answers = {"the cat sat", "a dog ran"};
  return r;
}

Generations generations(const std::vector<std::vector<std::string>>& texts) {
  Generations g;
  g.samples_per_row = static_cast<int64_t>(texts[0].size());
  for (size_t r = 0; r < texts.size(); ++r) {
    g.row_question.push_back(static_cast<int64_t>(r));
    g.row_prompt.push_back(row(static_cast<int64_t>(r), 0).prompt);
    for (size_t s = 0; s < texts[r].size(); ++s) {
      GeneratedSample x;
      x.row = static_cast<int64_t>(r);
      x.sample = static_cast<int64_t>(s);
      x.text = texts[r][s];
      g.samples.push_back(x);
    }
  }
  return g;
}

struct Fixture {
  model::CausalLMPtr model =
      model::build_model(model::load_model_config("tiny-gpt2"), 2, torch::kFloat32);
  dist::SingleProcessCommunicator comm;
  std::vector<TestRow> rows = {row(0, 1), row(1, 0)};
  // Row 0: ids 0, 1, 1 and an unparsable one (bin 0): histogram (0.5, 0.5).
  //   consistency: "0<yes>" yes->0 ok, "1<yes>" no, "1<no>" ok, "zzz" no text: 2 / 4.
  //   ROUGE-L of sample 0: "the cat sat" against belief 0's answer "the cat sat": 2PR/(P+R+1e-8).
  // Row 1: ids 7 (out of range: bin 0), 0, 0, 0: histogram (1, 0); sample 0's id 7 is beyond the
  //   beliefs, so its ROUGE-L is left out (NaN), as the authors skip op > 5.
  Generations gens = generations({{"0<yes> the cat sat", "1<yes>a dog", "1<no> x", "zzz"},
                                  {"7<no> dog", "0<yes>", "0<no>", "0<maybe>"}});
};

TEST(Evaluator, SamplingMetricsMatchHandValues) {
  Fixture f;
  EvaluateConfig config;
  const auto rep = evaluate(*f.model, f.rows, &f.gens, data::DatasetKind::kOpinion, nullptr,
                            Judge(), config, f.comm);
  const auto& m = rep.rows;
  // scipy jensenshannon([0.5, 0.5], [0.75, 0.25]) = 0.1839077909404743, ([1, 0], ...) = 0.30919668...
  EXPECT_NEAR(m.at("sampling_js")[0], 0.1839077909404743, 1e-12);
  EXPECT_NEAR(m.at("sampling_js")[1], 0.30919668327301403, 1e-12);
  EXPECT_DOUBLE_EQ(m.at("majority_bias")[0], 0.5 / 0.75);
  EXPECT_DOUBLE_EQ(m.at("majority_bias")[1], 1.0 / 0.75);
  EXPECT_DOUBLE_EQ(m.at("class_belief_consistency")[0], 0.5);
  EXPECT_DOUBLE_EQ(m.at("class_belief_consistency")[1], 0.25);  // "0<yes>" only
  EXPECT_DOUBLE_EQ(m.at("rouge_l")[0], 2 * (1.0 * 1.0 / (1.0 + 1.0 + 1e-8)));
  EXPECT_TRUE(std::isnan(m.at("rouge_l")[1]));
  EXPECT_TRUE(std::isnan(m.at("belief_preference_consistency")[0]));  // no judge
  EXPECT_DOUBLE_EQ(rep.summary.at("class_belief_consistency"), 0.375);
  EXPECT_DOUBLE_EQ(rep.summary.at("rouge_l"), m.at("rouge_l")[0]);  // NaN left out of the mean
  // Row 0's reference answer holds belief 1 (minority), row 1's belief 0 (majority).
  EXPECT_DOUBLE_EQ(rep.summary_minority.at("majority_bias"), 0.5 / 0.75);
  EXPECT_DOUBLE_EQ(rep.summary_majority.at("majority_bias"), 1.0 / 0.75);
  EXPECT_EQ(rep.summary_majority.at("rows"), 1);
  // The model's distribution: a distribution, and its JS distance is the one reported.
  for (int r = 0; r < 2; ++r) {
    const auto& q = rep.model_probs[r];
    EXPECT_NEAR(q[0] + q[1], 1.0, 1e-12);
    EXPECT_GT(q[1], 0);
    EXPECT_GE(m.at("prob_js")[r], 0);
    EXPECT_DOUBLE_EQ(m.at("prob_majority_bias")[r], q[0] / 0.75);
  }
  // One test file: no per-dataset breakdown. Two: one summary each.
  EXPECT_TRUE(rep.summary_by_dataset.empty());
  f.rows[0].dataset = "usa";
  f.rows[1].dataset = "pk";
  const auto two = evaluate(*f.model, f.rows, &f.gens, data::DatasetKind::kOpinion, nullptr,
                            Judge(), config, f.comm);
  EXPECT_DOUBLE_EQ(two.summary_by_dataset.at("usa").at("majority_bias"), 0.5 / 0.75);
  EXPECT_DOUBLE_EQ(two.summary_by_dataset.at("pk").at("class_belief_consistency"), 0.25);
  EXPECT_EQ(two.summary_by_dataset.at("pk").at("rows"), 1);
  // Reference rows: uniform (0.5, 0.5) -> 0.18390779; majority (1, 0) -> 0.30919668; reversed =
  // p* sorted descending = p* -> 0.
  EXPECT_NEAR(rep.reference.at("uniform"), 0.1839077909404743, 1e-12);
  EXPECT_NEAR(rep.reference.at("majority"), 0.30919668327301403, 1e-12);
  EXPECT_NEAR(rep.reference.at("reversed"), 0.0, 1e-12);
}

TEST(Evaluator, TheJudgeScoresEverySampleAgainstItsGeneratedBelief) {
  Fixture f;
  // A judge that reads belief 1 in every response containing "dog", else belief 0.
  int calls = 0;
  Judge judge = [&calls](const std::vector<JudgeQuery>& queries) {
    ++calls;
    std::vector<int64_t> out;
    for (const auto& q : queries) out.push_back(q.response.find("dog") != std::string::npos);
    return out;
  };
  EvaluateConfig config;
  config.judge_sample = -1;  // every sample
  auto rep = evaluate(*f.model, f.rows, &f.gens, data::DatasetKind::kOpinion, nullptr, judge,
                      config, f.comm);
  EXPECT_EQ(calls, 1);  // one batched call
  // Row 0 responses: "the cat sat" (0, gen 0 ok), "a dog" (1, gen 1 ok), "x" (0, gen 1 no),
  //   "zzz" (unparsable: the authors' op 0; response "zz" judged 0: ok) -> 3 / 4.
  // Row 1: "dog" (1, gen 7: no belief 7 -> no), "" x3 (0, gen 0 ok) -> 3 / 4.
  EXPECT_DOUBLE_EQ(rep.rows.at("belief_preference_consistency")[0], 0.75);
  EXPECT_DOUBLE_EQ(rep.rows.at("belief_preference_consistency")[1], 0.75);
  // The authors judge one sample per row (their predict_4): here sample 1 -> row 0 "a dog" (1 ok),
  // row 1 "" (0, gen 0 ok).
  config.judge_sample = 1;
  rep = evaluate(*f.model, f.rows, &f.gens, data::DatasetKind::kOpinion, nullptr, judge, config,
                 f.comm);
  EXPECT_DOUBLE_EQ(rep.summary.at("belief_preference_consistency"), 1.0);
  config.judge_sample = 4;  // beyond the 4 samples
  EXPECT_THROW(evaluate(*f.model, f.rows, &f.gens, data::DatasetKind::kOpinion, nullptr, judge,
                        config, f.comm),
               UsageError);
}

TEST(Evaluator, GenerationsOfOtherRowsAreRefused) {
  Fixture f;
  f.gens.row_prompt[1] = "<Q>another<A>";
  try {
    evaluate(*f.model, f.rows, &f.gens, data::DatasetKind::kOpinion, nullptr, Judge(),
             EvaluateConfig(), f.comm);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
  }
}

TEST(Evaluator, EvalFileHoldsTheDocumentedLayout) {
  Fixture f;
  test::TempDir dir;
  EvaluateConfig config;
  config.label = "gdpo";
  config.dataset = "synthetic";
  const auto rep = evaluate(*f.model, f.rows, &f.gens, data::DatasetKind::kOpinion, nullptr,
                            Judge(), config, f.comm);
  write_eval(dir.file("eval.h5"), rep, config);
  auto h = io::H5File::open_read(dir.file("eval.h5"));
  EXPECT_EQ(h.string_attr("/", "format"), "gdpo-eval");
  EXPECT_EQ(h.string_attr("/", "label"), "gdpo");
  EXPECT_EQ(h.int_attr("/", "n_samples"), 4);
  EXPECT_DOUBLE_EQ(h.double_attr("summary", "class_belief_consistency"), 0.375);
  EXPECT_DOUBLE_EQ(h.double_attr("summary_majority", "rows"), 1);
  EXPECT_NEAR(h.double_attr("reference", "uniform"), 0.1839077909404743, 1e-12);
  const auto sampled = h.read_tensor("rows/sampled_probs", torch::kFloat64, {2, 2});
  EXPECT_DOUBLE_EQ(sampled[1][0].item<double>(), 1.0);
  EXPECT_EQ(h.read_strings("rows/options")[0], "[\"yes\",\"no\"]");
  for (const auto& name : metric_names())
    EXPECT_TRUE(h.exists("rows/" + name)) << name;
}

}  // namespace
}  // namespace gdpo::eval
