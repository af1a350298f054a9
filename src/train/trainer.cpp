#include "gdpo/train/trainer.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/core/progress.hpp"
#include "gdpo/data/random.hpp"
#include "gdpo/data/sampler.hpp"
#include "gdpo/io/atomic_file.hpp"
#include "gdpo/io/metric_log.hpp"
#include "gdpo/loss/objective.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/fault_injection.hpp"
#include "gdpo/train/metric_accumulator.hpp"
#include "gdpo/train/reference_cache.hpp"
#include "gdpo/train/stop_signal.hpp"
#include "gdpo/train/train_step.hpp"

namespace gdpo::train {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Whether a counter moving from `before` to `after` crossed a multiple of `every` (> 0).
bool crossed(int64_t before, int64_t after, int64_t every) {
  return every > 0 && after / every > before / every;
}

std::string format_metrics(const std::map<std::string, double>& m,
                           std::initializer_list<const char*> keys) {
  std::ostringstream os;
  for (const char* k : keys) {
    auto it = m.find(k);
    if (it != m.end()) os << " " << k << " " << std::setprecision(4) << it->second;
  }
  return os.str();
}

// The number of questions `data`'s pairs refer to.
int64_t question_count(const data::TokenizedPairs& data) {
  int64_t n = data.questions();
  for (int64_t q : data.pair_question) n = std::max(n, q + 1);
  return n;
}

// Salt of the eval subset's shuffle: its own stream, apart from the epochs' (Rng::mix(seed, epoch))
// and the split's.
constexpr uint64_t kEvalSubsetSalt = 0xe7a15e7ULL;

}  // namespace

std::vector<int64_t> eval_subset(const data::TokenizedPairs& data, int64_t n_examples,
                                 int64_t seed) {
  GDPO_CHECK(n_examples >= 0, "eval_subset: n_examples " << n_examples);
  const int64_t questions = question_count(data);
  std::vector<std::vector<int64_t>> pairs_of(questions);
  for (int64_t i = 0; i < data.pairs(); ++i) {
    const int64_t q = data.pair_question[i];
    GDPO_CHECK(q >= 0, "pair " << i << " has question " << q);
    pairs_of[q].push_back(i);
  }
  std::vector<int64_t> order(questions);
  std::iota(order.begin(), order.end(), 0);
  data::Rng rng(data::Rng::mix(static_cast<uint64_t>(seed), kEvalSubsetSalt));
  rng.shuffle(order);
  const int64_t n = n_examples > 0 ? std::min(n_examples, data.pairs()) : data.pairs();
  std::vector<int64_t> subset;
  subset.reserve(n);
  for (int64_t q : order)
    for (int64_t i : pairs_of[q]) {
      if (static_cast<int64_t>(subset.size()) == n) return subset;
      subset.push_back(i);
    }
  return subset;
}

struct Trainer::Impl {
  TrainerInputs in;
  dist::Communicator& comm;
  torch::Device device;
  int64_t micro = 0;        // pairs per micro-batch on this rank
  int64_t total_steps = 0;  // optimizer steps of the whole run
  std::unique_ptr<TrainStep> step;
  std::unique_ptr<data::PairLoader> loader;
  ReferenceTable train_ref, eval_ref;
  model::CausalLMPtr online_ref;
  std::string reference_fp;
  std::unique_ptr<io::MetricLog> metrics;
  CheckpointDirectory checkpoints;
  TrainerState state;
  int64_t last_saved_step = -1;
  int64_t last_eval_step = -1;
  // The eval subset (setup): its size over all ranks, this rank's pairs, and each eval question's
  // slot among the subset's questions (-1: not in the subset) for the per-question averages.
  int64_t eval_pairs = 0;
  std::vector<int64_t> eval_mine;
  std::vector<int64_t> eval_question_slot;
  int64_t eval_questions = 0;

  explicit Impl(TrainerInputs inputs)
      : in(std::move(inputs)),
        comm(*in.comm),
        device(in.policy->output_weight().device()),
        checkpoints(in.train.run_dir) {}

  bool needs_reference() const {
    return loss::needs_reference(in.loss) && in.train.reference != ReferenceMode::kNone;
  }

  void setup();
  void prepare_reference();
  void resume_if_asked();
  std::map<std::string, double> train_step();
  std::map<std::string, double> evaluate();
  void after_evaluation(const std::map<std::string, double>& m);
  void save(bool is_best);
  void finish();
  loss::ReferenceLogprobs reference_for(const data::PairBatch& batch, bool eval);
};

void Trainer::Impl::setup() {
  const auto& t = in.train;
  GDPO_CHECK(in.train_data && in.train_data->pairs() > 0, "no training pairs");
  micro = t.micro_batch(comm.world_size());
  const int64_t per_epoch = in.train_data->pairs() / t.batch_size;
  if (per_epoch == 0)
    throw UsageError("--train.batch-size " + std::to_string(t.batch_size) + " exceeds the " +
                     std::to_string(in.train_data->pairs()) + " training pairs");
  total_steps = t.n_examples > 0 ? (t.n_examples + t.batch_size - 1) / t.batch_size
                                 : t.n_epochs * per_epoch;
  if (t.max_steps > 0) total_steps = std::min(total_steps, t.max_steps);

  step = std::make_unique<TrainStep>(*in.policy, t, in.loss, in.comm);
  loader = std::make_unique<data::PairLoader>(*in.train_data, t.batch_size, comm.rank(),
                                              comm.world_size(), static_cast<uint64_t>(t.seed));
  state.dataset_size = in.train_data->pairs();
  state.world_size = comm.world_size();

  if (in.eval_data && in.eval_data->pairs() > 0) {
    const auto subset = eval_subset(*in.eval_data, in.eval.n_examples, t.seed);
    eval_pairs = static_cast<int64_t>(subset.size());
    for (int64_t i = comm.rank(); i < eval_pairs; i += comm.world_size())
      eval_mine.push_back(subset[i]);
    eval_question_slot.assign(question_count(*in.eval_data), -1);
    for (int64_t i : subset) {
      auto& slot = eval_question_slot[in.eval_data->pair_question[i]];
      if (slot < 0) slot = eval_questions++;
    }
  }

  if (comm.is_root()) {
    fs::create_directories(t.run_dir);
    io::write_file_atomic((fs::path(t.run_dir) / "config.ini").string(), in.config_ini);
  }
  comm.barrier();
  checkpoints.remove_stale_temporaries();
}

void Trainer::Impl::resume_if_asked() {
  const auto& r = in.train.resume;
  std::optional<std::string> path;
  if (r == "auto") {
    path = checkpoints.find_latest();
  } else if (r == "none") {
    if (!checkpoints.list().empty())
      throw UsageError("run directory '" + in.train.run_dir +
                       "' already has checkpoints: resume with --train.resume auto, or choose "
                       "another --train.run-dir");
  } else {
    if (!fs::exists(r)) throw UsageError("--train.resume: no checkpoint '" + r + "'");
    path = r;
  }
  if (!path) return;
  auto content = load_checkpoint(*path, in.policy.get(), &step->optimizer());
  if (content.state.dataset_size != in.train_data->pairs())
    throw InputError("checkpoint '" + *path + "' was trained on " +
                     std::to_string(content.state.dataset_size) + " pairs but the data has " +
                     std::to_string(in.train_data->pairs()) + " (--data.train changed?)");
  if (content.config_ini != in.config_ini)
    log::warn("the configuration differs from the one checkpoint '", *path,
              "' was written with; continuing with the new one");
  state = content.state;
  state.world_size = comm.world_size();
  reference_fp = content.reference_fingerprint;
  loader->sampler().restore(state.cursor);
  last_saved_step = state.step;
  log::info("resumed from ", *path, " at step ", state.step, " (", state.examples, " pairs)");
}

void Trainer::Impl::prepare_reference() {
  if (!needs_reference()) return;
  const auto& t = in.train;
  if (t.reference == ReferenceMode::kOnline) {
    online_ref = in.make_reference();
    online_ref->eval();
    return;
  }
  // The fingerprint covers the reference weights, so the reference model is always built once.
  auto ref = in.make_reference();
  ref->eval();
  const std::string weights = weights_fingerprint(*ref);
  if (!reference_fp.empty() && reference_fp != weights)
    log::warn("the reference weights differ from those the checkpoint was trained against");
  reference_fp = weights;
  const int64_t batch = std::max<int64_t>(1, in.eval.batch_size / comm.world_size());
  auto key = [&](const data::TokenizedPairs& d) {
    return weights + "-" + pairs_fingerprint(d) + "-" + precision_name(t.reference_dtype);
  };
  const fs::path dir = t.run_dir;
  train_ref = load_or_compute_reference((dir / "reference_train.h5").string(), key(*in.train_data),
                                        *ref, *in.train_data, comm, batch, in.loss.logprob_chunk);
  if (in.eval_data && in.eval_data->pairs() > 0)
    eval_ref = load_or_compute_reference((dir / "reference_eval.h5").string(), key(*in.eval_data),
                                         *ref, *in.eval_data, comm, batch, in.loss.logprob_chunk);
}

loss::ReferenceLogprobs Trainer::Impl::reference_for(const data::PairBatch& batch, bool eval) {
  if (!needs_reference()) return {};
  if (online_ref) {
    torch::NoGradGuard no_grad;
    auto hidden = online_ref->hidden_states(batch.input_ids, batch.attention_mask);
    return loss::reference_logprobs(hidden, online_ref->output_weight(), batch,
                                    in.loss.logprob_chunk);
  }
  auto ref = (eval ? eval_ref : train_ref).lookup(batch.example_index);
  ref.after_belief = ref.after_belief.to(device);
  ref.response = ref.response.to(device);
  return ref;
}

std::map<std::string, double> Trainer::Impl::train_step() {
  const auto& t = in.train;
  const auto start = std::chrono::steady_clock::now();
  auto result = step->run(loader->next(), state.step,
                          [this](const data::PairBatch& mb) { return reference_for(mb, false); });
  auto& m = result.metrics;
  const double seconds = seconds_since(start);
  m["epoch"] = static_cast<double>(loader->sampler().cursor().epoch);
  m["examples_per_second"] = static_cast<double>(t.batch_size) / seconds;
  m["tokens_per_second"] = static_cast<double>(result.tokens) / seconds;

  state.step += 1;
  state.examples += t.batch_size;
  state.cursor = loader->sampler().cursor();
  return m;
}

std::map<std::string, double> Trainer::Impl::evaluate() {
  torch::NoGradGuard no_grad;
  in.policy->eval();
  MetricAccumulator acc;
  const auto& data = *in.eval_data;
  const int64_t n = eval_pairs;
  const auto& mine = eval_mine;
  // Per question of the subset (by slot): the sum of its pairs' JS distances, and their number.
  auto per_question = torch::zeros({2, eval_questions}, torch::kFloat64);
  auto pq = per_question.accessor<double, 2>();
  const int64_t per_batch = std::max<int64_t>(1, in.eval.batch_size / comm.world_size());
  // Every rank runs the same number of batches (some may be empty) so collectives stay matched.
  const int64_t batches = (n / comm.world_size() + per_batch) / per_batch;
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t begin = b * per_batch;
    const int64_t end = std::min<int64_t>(static_cast<int64_t>(mine.size()), begin + per_batch);
    if (begin >= end) continue;
    std::vector<int64_t> idx(mine.begin() + begin, mine.begin() + end);
    auto batch = data::make_batch(data, idx).to(device);
    auto hidden = in.policy->hidden_states(batch.input_ids, batch.attention_mask);
    // Belief calibration for every objective (the paper's headline metric) comes with the loss.
    auto out = loss::compute_objective(in.loss, hidden, in.policy->output_weight(), batch,
                                       reference_for(batch, true), /*belief_metrics=*/true);
    const int64_t pairs = static_cast<int64_t>(idx.size());
    acc.add(out.metrics, pairs);
    acc.add("count.pairs", static_cast<double>(pairs), 1.0);
    if (out.js_distance.defined()) {
      auto js = out.js_distance.to(torch::kCPU, torch::kFloat64).contiguous();
      GDPO_CHECK(js.numel() == pairs, "js_distance has " << js.numel() << " values for " << pairs
                                                         << " pairs");
      const double* v = js.data_ptr<double>();
      for (int64_t i = 0; i < pairs; ++i) {
        if (!std::isfinite(v[i])) continue;  // as MetricAccumulator drops non-finite means
        const int64_t slot = eval_question_slot[data.pair_question[idx[i]]];
        pq[0][slot] += v[i];
        pq[1][slot] += 1;
      }
    }
  }
  acc.all_reduce(comm);
  auto m = acc.result();
  // Every rank reduces the same [2, questions] sums, so 1 rank and many get the same per-question
  // totals (up to the order of float64 additions).
  if (eval_questions > 0) comm.all_reduce(per_question, dist::ReduceOp::Sum);
  auto totals = per_question.accessor<double, 2>();
  double sum_of_means = 0;
  int64_t questions = 0;
  for (int64_t q = 0; q < eval_questions; ++q)
    if (totals[1][q] > 0) {
      sum_of_means += totals[0][q] / totals[1][q];
      questions += 1;
    }
  // NaN when no pair had a finite distance (as a metric with no weight; the column stays).
  m["belief.js_distance_per_question"] = questions > 0 ? sum_of_means / questions : std::nan("");
  return m;
}

void Trainer::Impl::after_evaluation(const std::map<std::string, double>& m) {
  const auto& e = in.eval;
  state.evaluations += 1;
  last_eval_step = state.step;
  if (comm.is_root()) metrics->append("eval", state.step, m);
  auto it = m.find(e.metric);
  if (it == m.end()) {
    std::string names;
    for (const auto& [k, v] : m) names += " " + k;
    throw UsageError("--eval.metric '" + e.metric + "' is not an eval metric; they are:" + names);
  }
  const double v = it->second;
  const bool better = std::isnan(state.best_metric) ||
                      (e.goal == MetricGoal::kMin ? v < state.best_metric : v > state.best_metric);
  if (better) {
    state.best_metric = v;
    state.best_step = state.step;
    state.evals_without_improvement = 0;
  } else {
    state.evals_without_improvement += 1;
  }
  log::info("eval at step ", state.step, ":",
            format_metrics(m, {"loss", "belief.js_distance", "belief.prob_sum", "rewards.accuracy",
                               "rewards.margin"}),
            better ? " (best)" : "");
  if (e.patience > 0 && state.evals_without_improvement >= e.patience) {
    state.stopped_early = true;
    log::info("early stopping: ", e.metric, " has not improved for ", e.patience,
              " evaluations (best ", state.best_metric, " at step ", state.best_step, ")");
  }
  if (in.train.save_every_examples == 0 || better) save(better);
}

void Trainer::Impl::save(bool is_best) {
  if (state.step == last_saved_step && !is_best) return;
  CheckpointContent c;
  c.state = state;
  c.config_ini = in.config_ini;
  c.model_config_json = model::hf_config_json(in.policy->config());
  c.reference_fingerprint = reference_fp;
  if (comm.is_root()) {
    auto path = checkpoints.save(*in.policy, step->optimizer(), c, is_best, in.train.keep_last);
    log::info("checkpoint ", path, is_best ? " (best)" : "");
  }
  comm.barrier();
  last_saved_step = state.step;
}

void Trainer::Impl::finish() {
  // The exported model: the best checkpoint's weights when there is one (--train.export best).
  auto best = checkpoints.find_best();
  if (in.train.export_model == ExportChoice::kBest && best && state.best_step != state.step) {
    load_checkpoint(*best, in.policy.get(), nullptr);
    log::info("final model: the best checkpoint ", *best, " (step ", state.best_step, ")");
  }
  std::map<std::string, double> final_metrics;
  if (in.eval_data && in.eval_data->pairs() > 0) final_metrics = evaluate();
  if (comm.is_root()) {
    const auto out = (fs::path(in.train.run_dir) / "model").string();
    model::save_hf_model(*in.policy, out, in.tokenizer_source);
    nlohmann::json eval = nlohmann::json::object();
    for (const auto& [k, v] : final_metrics) eval[k] = std::isfinite(v) ? nlohmann::json(v) : nullptr;
    const nlohmann::json summary = {{"step", state.step},
                                    {"examples", state.examples},
                                    {"best_step", state.best_step},
                                    {"exported", export_choice_name(in.train.export_model)},
                                    {"stopped_early", state.stopped_early},
                                    {"loss_type", loss::loss_type_name(in.loss.type)},
                                    {"eval", eval}};
    io::write_file_atomic((fs::path(in.train.run_dir) / "summary.json").string(),
                          summary.dump(2) + "\n");
    log::info("model written to ", out, final_metrics.empty() ? "" : "; final eval:",
              format_metrics(final_metrics, {"loss", "belief.js_distance", "rewards.accuracy"}));
  }
  comm.barrier();
}

Trainer::Trainer(TrainerInputs inputs) : impl_(std::make_unique<Impl>(std::move(inputs))) {
  impl_->setup();
}

Trainer::~Trainer() = default;

const TrainerState& Trainer::state() const { return impl_->state; }

std::map<std::string, double> Trainer::evaluate() { return impl_->evaluate(); }

int Trainer::run() {
  auto& s = *impl_;
  const auto& t = s.in.train;
  const bool has_eval = s.in.eval_data && s.in.eval_data->pairs() > 0;
  s.resume_if_asked();
  s.prepare_reference();
  if (s.comm.is_root()) {
    s.metrics = std::make_unique<io::MetricLog>((fs::path(t.run_dir) / "metrics.h5").string());
    s.metrics->truncate_after(s.state.step);  // rows written after the checkpoint we resumed from
  }
  StopSignalGuard signals;
  log::info("training ", loss::loss_type_name(s.in.loss.type), ": ",
            s.in.train_data->pairs(), " pairs, ", s.total_steps, " steps of ", t.batch_size,
            " pairs (", s.comm.world_size(), " rank(s) x ", t.grad_accum, " x ", s.micro, ")");

  if (has_eval && s.in.eval.first_eval && s.state.step == 0 && s.state.evaluations == 0)
    s.after_evaluation(s.evaluate());

  ProgressOptions popt;
  popt.label = "train";
  popt.unit = "step";
  popt.initial = s.state.step;
  popt.interval_s = t.progress_seconds;
  Progress progress(s.total_steps, popt);
  while (s.state.step < s.total_steps && !s.state.stopped_early) {
    const int64_t before = s.state.examples;
    auto m = s.train_step();
    if (s.comm.is_root()) s.metrics->append("train", s.state.step, m);
    progress.update(s.state.step, {{"loss", m["loss"]}, {"grad_norm", m["grad_norm"]}});
    fault::on_step_end(s.state.step);

    bool evaluated = false;
    if (has_eval && crossed(before, s.state.examples, s.in.eval.every_examples)) {
      s.after_evaluation(s.evaluate());
      evaluated = true;
    }
    if (crossed(before, s.state.examples, t.save_every_examples) && !evaluated) s.save(false);

    // Every rank stops together: the signal may have reached only some of them.
    const bool stop = s.comm.all_reduce(static_cast<int64_t>(stop_requested()),
                                        dist::ReduceOp::Max) != 0;
    if (stop) {
      s.save(false);
      progress.finish();
      log::info("stopped by signal after step ", s.state.step,
                "; checkpoint written, resume with --train.resume auto");
      return kExitPreempted;
    }
  }
  progress.finish();
  // The last step is always evaluated, so that the best checkpoint is chosen among all of them.
  if (has_eval && s.last_eval_step != s.state.step) s.after_evaluation(s.evaluate());
  s.save(false);
  s.finish();
  return kExitOk;
}

}  // namespace gdpo::train
