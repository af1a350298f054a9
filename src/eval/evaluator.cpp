#include "gdpo/eval/evaluator.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/eval/belief_probabilities.hpp"
#include "gdpo/eval/generation_parse.hpp"
#include "gdpo/eval/rouge_l.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/loss/js_distance.hpp"

namespace gdpo::eval {

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = {
      "prob_js",         "sampling_js",   "majority_bias",
      "prob_majority_bias", "class_belief_consistency", "belief_preference_consistency",
      "rouge_l"};
  return names;
}

namespace {

const double kNaN = std::nan("");

double js(const std::vector<double>& p, const std::vector<double>& q) {
  const auto n = static_cast<int64_t>(p.size());
  auto P = torch::tensor(p, torch::kFloat64).view({1, n});
  auto Q = torch::tensor(q, torch::kFloat64).view({1, n});
  return loss::js_distance(P, Q).item<double>();
}

double nanmean(const std::vector<double>& v, const std::vector<bool>* keep = nullptr) {
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isnan(v[i]) && (!keep || (*keep)[i])) {
      sum += v[i];
      ++n;
    }
  return n > 0 ? sum / static_cast<double>(n) : kNaN;
}

// The belief index whose id is the authors' `op` digit, or -1.
int64_t belief_of_op(const TestRow& row, int64_t op) {
  const std::string id = std::to_string(op);
  for (size_t k = 0; k < row.belief_ids.size(); ++k)
    if (row.belief_ids[k] == id) return static_cast<int64_t>(k);
  return -1;
}

}  // namespace

EvalReport evaluate(model::CausalLM& model, const std::vector<TestRow>& rows,
                    const Generations* gens, data::DatasetKind kind, const OptionMap* option_map,
                    const Judge& judge, const EvaluateConfig& config, dist::Communicator& comm) {
  if (config.batch_size < 1) throw UsageError("--evaluate.batch-size must be >= 1");
  const auto R = static_cast<int64_t>(rows.size());
  EvalReport rep;
  if (gens) {
    if (static_cast<int64_t>(gens->row_question.size()) > R)
      throw InputError("the generations file has " + std::to_string(gens->row_question.size()) +
                       " rows, the test data only " + std::to_string(R) +
                       " (another --data.test or split?)");
    for (size_t r = 0; r < gens->row_question.size(); ++r)
      if (gens->row_question[r] != rows[r].question || gens->row_prompt[r] != rows[r].prompt)
        throw InputError("the generations file's row " + std::to_string(r) +
                         " is another question than the test data's (another --data.test, "
                         "--data.split or --data.seed than for generate?)");
    if (config.rouge_sample < 0 || config.rouge_sample >= gens->samples_per_row)
      throw UsageError("--evaluate.rouge-sample must be in [0, " +
                       std::to_string(gens->samples_per_row) + ")");
    if (judge && (config.judge_sample < -1 || config.judge_sample >= gens->samples_per_row))
      throw UsageError("--evaluate.judge-sample must be -1 (all) or in [0, " +
                       std::to_string(gens->samples_per_row) + "): the generations have " +
                       std::to_string(gens->samples_per_row) + " samples per row");
    rep.n_samples = gens->samples_per_row;
    rep.generations = "yes";
  }
  // Only the rows that were generated (a --generate.max-rows run) when there are generations.
  const int64_t n_rows = gens ? static_cast<int64_t>(gens->row_question.size()) : R;
  const std::vector<TestRow> used(rows.begin(), rows.begin() + n_rows);
  const torch::Tensor probs = belief_probabilities(model, used, config.batch_size, comm);

  const ResponseFormat format =
      kind == data::DatasetKind::kReview ? ResponseFormat::kReview : ResponseFormat::kOpinion;
  for (const auto& name : metric_names()) rep.rows[name].assign(n_rows, kNaN);
  std::vector<bool> is_majority(n_rows), is_minority(n_rows);
  std::map<std::string, std::vector<double>> reference_js;
  std::vector<JudgeQuery> queries;      // the judged samples' responses ...
  std::vector<int64_t> query_row, query_belief;  // ... their rows and generated beliefs
  for (int64_t r = 0; r < n_rows; ++r) {
    const TestRow& row = used[r];
    const auto K = static_cast<int64_t>(row.pstar.size());
    const int64_t maj = row.majority();
    rep.question.push_back(row.question);
    rep.k.push_back(K);
    rep.reference_belief.push_back(row.reference_belief);
    is_majority[r] = row.reference_belief == maj;
    is_minority[r] = !is_majority[r];
    rep.pstar.push_back(row.pstar);
    std::vector<double> q(K);
    for (int64_t k = 0; k < K; ++k) q[k] = probs[r][k].item<double>();
    rep.model_probs.push_back(q);
    rep.rows["prob_js"][r] = js(q, row.pstar);
    rep.rows["prob_majority_bias"][r] = majority_bias(q, row.pstar);
    for (const auto& [name, dist] : reference_distributions(row.pstar))
      reference_js[name].push_back(js(dist, row.pstar));
    rep.prompt.push_back(row.prompt);
    rep.dataset.push_back(row.dataset);
    rep.options_json.push_back(nlohmann::json(row.options).dump());
    if (!gens) {
      rep.sampled_probs.emplace_back(K, kNaN);
      continue;
    }
    const int64_t n = gens->samples_per_row;
    const OptionMap own = OptionMap::from_question(row.options, row.belief_ids);
    const OptionMap& map = option_map ? *option_map : own;
    std::vector<int64_t> ids;
    int64_t consistent = 0;
    for (int64_t s = 0; s < n; ++s) {
      const GeneratedSample& g = gens->samples[r * n + s];
      const ParsedGeneration parsed = parse_generation(stored_line(g.text), format);
      ids.push_back(parsed.parsed ? parsed.belief_id : -1);
      consistent += class_belief_consistent(parsed, map) ? 1 : 0;
      if (judge && (config.judge_sample < 0 || s == config.judge_sample)) {
        queries.push_back({&row.source, parsed.response});
        query_row.push_back(r);
        query_belief.push_back(belief_of_op(row, authors_op(parsed)));
      }
      if (s == config.rouge_sample) {
        const int64_t op = authors_op(parsed);
        if (op < K) {  // the authors leave op > 5 out of the mean (K = 6 there)
          const int64_t k = belief_of_op(row, op);
          rep.rows["rouge_l"][r] =
              authors_rouge_l_f(parsed.response, k >= 0 ? row.reference_answers[k] : "");
        }
      }
    }
    const auto sampled = sampled_distribution(ids, K);
    rep.sampled_probs.push_back(sampled);
    rep.rows["sampling_js"][r] = js(sampled, row.pstar);
    rep.rows["majority_bias"][r] = majority_bias(sampled, row.pstar);
    // Review responses have no belief text (`{rating}{text}`): nothing to be consistent with.
    if (format == ResponseFormat::kOpinion)
      rep.rows["class_belief_consistency"][r] = static_cast<double>(consistent) / n;
  }
  if (judge && !queries.empty()) {
    const std::vector<int64_t> judged = judge(queries);
    GDPO_CHECK(judged.size() == queries.size(), "the judge answered " << judged.size() << " of "
                                                                      << queries.size());
    std::vector<double> agree(n_rows, 0), count(n_rows, 0);
    for (size_t i = 0; i < queries.size(); ++i) {
      agree[query_row[i]] += judged[i] == query_belief[i] ? 1 : 0;
      count[query_row[i]] += 1;
    }
    for (int64_t r = 0; r < n_rows; ++r)
      if (count[r] > 0) rep.rows["belief_preference_consistency"][r] = agree[r] / count[r];
  }
  for (const auto& name : metric_names()) {
    rep.summary[name] = nanmean(rep.rows[name]);
    rep.summary_majority[name] = nanmean(rep.rows[name], &is_majority);
    rep.summary_minority[name] = nanmean(rep.rows[name], &is_minority);
  }
  std::map<std::string, std::vector<bool>> in_dataset;
  for (int64_t r = 0; r < n_rows; ++r) {
    auto& member = in_dataset[rep.dataset[r]];
    member.resize(n_rows, false);
    member[r] = true;
  }
  if (in_dataset.size() > 1)
    for (const auto& [name, member] : in_dataset) {
      auto& s = rep.summary_by_dataset[name];
      for (const auto& metric : metric_names()) s[metric] = nanmean(rep.rows[metric], &member);
      s["rows"] = static_cast<double>(std::count(member.begin(), member.end(), true));
    }
  rep.summary["rows"] = static_cast<double>(n_rows);
  rep.summary_majority["rows"] =
      static_cast<double>(std::count(is_majority.begin(), is_majority.end(), true));
  rep.summary_minority["rows"] =
      static_cast<double>(std::count(is_minority.begin(), is_minority.end(), true));
  for (const auto& [name, v] : reference_js) rep.reference[name] = nanmean(v);
  return rep;
}

void write_eval(const std::string& path, const EvalReport& rep, const EvaluateConfig& config) {
  const auto R = static_cast<int64_t>(rep.question.size());
  int64_t k_max = 1;
  for (int64_t k : rep.k) k_max = std::max(k_max, k);
  auto matrix = [&](const std::vector<std::vector<double>>& m) {
    torch::Tensor t = torch::zeros({R, k_max}, torch::kFloat64);
    for (int64_t r = 0; r < R; ++r)
      for (size_t k = 0; k < m[r].size(); ++k) t[r][k] = m[r][k];
    return t;
  };
  auto i64 = [](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kInt64); };
  io::write_h5_atomic(path, [&](io::H5File& f) {
    f.set_attr("/", "format", "gdpo-eval");
    f.set_attr("/", "version", int64_t{1});
    f.set_attr("/", "label", config.label.empty() ? std::string("model") : config.label);
    f.set_attr("/", "dataset", config.dataset);
    f.set_attr("/", "model", config.model);
    f.set_attr("/", "split", "test");
    f.set_attr("/", "n_samples", rep.n_samples);
    f.set_attr("/", "seed", rep.seed);
    f.set_attr("/", "judge_accuracy", rep.judge_accuracy);
    f.set_attr("/", "generations", rep.generations);
    f.write_tensor("rows/question", i64(rep.question));
    f.write_tensor("rows/k", i64(rep.k));
    f.write_tensor("rows/reference_belief", i64(rep.reference_belief));
    f.write_tensor("rows/pstar", matrix(rep.pstar));
    f.write_tensor("rows/model_probs", matrix(rep.model_probs));
    f.write_tensor("rows/sampled_probs", matrix(rep.sampled_probs));
    for (const auto& [name, v] : rep.rows) f.write_tensor("rows/" + name, torch::tensor(v, torch::kFloat64));
    f.write_strings("rows/prompt", rep.prompt);
    f.write_strings("rows/options", rep.options_json);
    f.write_strings("rows/dataset", rep.dataset);
    for (const auto& [name, values] : rep.summary_by_dataset) {
      const std::string group = "summary_dataset/" + name;
      f.create_group(group);
      for (const auto& [metric, value] : values) f.set_attr(group, metric, value);
    }
    for (const auto& [group, values] :
         {std::pair<const char*, const std::map<std::string, double>*>{"summary", &rep.summary},
          {"summary_majority", &rep.summary_majority},
          {"summary_minority", &rep.summary_minority},
          {"reference", &rep.reference}}) {
      f.create_group(group);
      for (const auto& [name, value] : *values) f.set_attr(group, name, value);
    }
  });
}

std::string format_eval_table(const EvalReport& rep, const EvaluateConfig& config) {
  std::ostringstream os;
  const std::vector<std::pair<std::string, std::string>> columns = {
      {"prob_js", "prob JS"},        {"sampling_js", "sampling JS"},
      {"majority_bias", "maj. bias"}, {"class_belief_consistency", "class-belief"},
      {"belief_preference_consistency", "belief-pref."}, {"rouge_l", "ROUGE-L"}};
  auto cell = [](double v) {
    std::ostringstream c;
    if (std::isnan(v)) c << "-";
    else c << std::fixed << std::setprecision(3) << v;
    return c.str();
  };
  os << std::left << std::setw(22) << "" << std::right;
  for (const auto& c : columns) os << std::setw(14) << c.second;
  os << std::setw(7) << "rows" << "\n";
  const std::string label = config.label.empty() ? "model" : config.label;
  auto line = [&](const std::string& name, const std::map<std::string, double>& s) {
    os << std::left << std::setw(22) << name << std::right;
    for (const auto& c : columns) os << std::setw(14) << cell(s.at(c.first));
    os << std::setw(7) << static_cast<int64_t>(s.at("rows")) << "\n";
  };
  line(label, rep.summary);
  line("  majority chosen", rep.summary_majority);
  line("  minority chosen", rep.summary_minority);
  for (const auto& name : {"uniform", "majority", "reversed", "noise_0.05", "noise_0.1"}) {
    auto it = rep.reference.find(name);
    os << std::left << std::setw(22) << ("reference: " + std::string(name)) << std::right
       << std::setw(14) << cell(it == rep.reference.end() ? kNaN : it->second) << "\n";
  }
  return os.str();
}

}  // namespace gdpo::eval
