// The paper's evaluation of one model on the test rows, computed as the authors' evaluate.py does
// (docs/fidelity.md lists where gdpo differs): per row and aggregated, with the majority/minority
// breakdown and the reference rows that calibrate the scale. Written to eval.h5 (layout below) and
// printed as a table.
//
// Per test row r with p* over K beliefs (means skip NaN, as the authors' nanmean of the JS):
//   prob_js        JS distance(softmax of the K belief tokens' logits after the prompt, p*)
//   prob_majority_bias  that distribution's mass on argmax p* / max p*
//   sampling_js    JS distance(histogram of the n samples' belief ids / n, p*); an unparsable or
//                  out-of-range id counts as belief 0 (eval/belief_metrics: sampled_distribution)
//   majority_bias  the histogram's mass on argmax p* / max p*
//   class_belief_consistency  share of the samples whose <belief text> maps to their belief id
//                  (NaN on review data, whose responses have no belief text)
//   rouge_l        ROUGE-L F of sample `rouge_sample`'s response against the reference answer of the
//                  belief it generated (NaN = left out, as theirs, when its id is beyond the beliefs)
//   belief_preference_consistency  share of the judged samples (sample `judge_sample`, or all) whose
//                  response the judge classifies as the belief the sample generated (NaN without a
//                  judge; an id with no belief never agrees)
//
// eval.h5:
//   / attrs     format = "gdpo-eval", version = 1, label, dataset, model, split = "test", n_samples,
//               seed, judge_accuracy (NaN without a judge), generations (the file read, or "")
//   summary, summary_majority, summary_minority   attrs: one float per metric above, and rows
//               (_majority / _minority: rows whose reference answer holds p*'s majority belief or not)
//   summary_dataset/<name>   the same per test file (country, dataset), when there are several
//   reference   attrs uniform, majority, reversed, noise_0.05, noise_0.1: mean JS distance to p*
//   rows/question int64 [R], rows/k int64 [R], rows/reference_belief int64 [R]
//   rows/pstar, rows/model_probs, rows/sampled_probs   float64 [R, Kmax] (0 beyond k)
//   rows/<metric> float64 [R] for each metric above
//   rows/prompt   str [R];  rows/options  str [R] (each a JSON array of the option texts)
//   rows/dataset  str [R]   the test file each row came from (its name without extension)
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gdpo/data/record.hpp"
#include "gdpo/dist/communicator.hpp"
#include "gdpo/eval/belief_judge.hpp"
#include "gdpo/eval/belief_metrics.hpp"
#include "gdpo/eval/generation_store.hpp"
#include "gdpo/eval/test_rows.hpp"
#include "gdpo/model/causal_lm.hpp"

namespace gdpo::eval {

// The metric names, in table order.
const std::vector<std::string>& metric_names();

struct EvaluateConfig {
  std::string label;            // the method's name in tables ("" -> "model")
  std::string dataset;          // the data's name in tables
  std::string model;            // the model's description
  int64_t batch_size = 8;       // prompts per forward pass for the belief distribution
  int64_t rouge_sample = 0;     // the sample ROUGE-L scores (the authors: their first file)
  int64_t judge_sample = 4;     // the sample the judge scores (the authors: predict_4); -1: all
  std::string device = "auto";  // auto | cpu | cuda: where the model and the judge run (the app
                                // resolves it with dist::select_device and moves them there)
};

struct EvalReport {
  std::vector<int64_t> question, k, reference_belief;         // [R]
  std::vector<std::vector<double>> pstar, model_probs, sampled_probs;  // [R][K]
  std::map<std::string, std::vector<double>> rows;            // metric -> [R]
  std::map<std::string, double> summary, summary_majority, summary_minority;  // metric -> mean
  std::map<std::string, double> reference;                    // reference row -> mean JS to p*
  std::vector<std::string> prompt, options_json, dataset;     // [R]
  std::map<std::string, std::map<std::string, double>> summary_by_dataset;  // >1 dataset only
  int64_t n_samples = 0;
  int64_t seed = -1;
  double judge_accuracy = 0.0 / 0.0;
  std::string generations;
};

// The belief index a judge reads in each response (see belief_judge.hpp); called once, on every rank.
using Judge = std::function<std::vector<int64_t>(const std::vector<JudgeQuery>& queries)>;

// Evaluates `model` on `rows` (every rank calls it; the forward passes are split over the ranks).
// `generations` (may be null: then the sampling metrics are NaN) must hold these rows in order.
// `option_map` null: each question's own options and ids. `judge` empty: no judge.
EvalReport evaluate(model::CausalLM& model, const std::vector<TestRow>& rows,
                    const Generations* generations, data::DatasetKind kind,
                    const OptionMap* option_map, const Judge& judge, const EvaluateConfig& config,
                    dist::Communicator& comm);

// Writes eval.h5 atomically (layout above).
void write_eval(const std::string& path, const EvalReport& report, const EvaluateConfig& config);

// The summary as a fixed-width table: the model's row, its majority/minority rows and the
// reference rows (probability JS only).
std::string format_eval_table(const EvalReport& report, const EvaluateConfig& config);

}  // namespace gdpo::eval
