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
#include "gdpo/core/fault_injection.hpp"
#include "gdpo/core/log.hpp"
#include "gdpo/core/progress.hpp"
#include "gdpo/data/random.hpp"
#include "gdpo/data/sampler.hpp"
#include "gdpo/dist/device.hpp"
#include "gdpo/io/atomic_file.hpp"
#include "gdpo/io/metric_log.hpp"
#include "gdpo/loss/objective.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/metric_accumulator.hpp"
#include "gdpo/train/reference_cache.hpp"
#include "gdpo/train/run_directory.hpp"
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
  std::unique_ptr<io::MetricLog> metrics;  // rank 0
  RunDirectory run_dir;
  CheckpointDirectory checkpoints;
  TrainerState state;
  int64_t last_saved_step = -1;
  // The eval subset (setup): its size over all ranks, this rank's pairs, and each eval question's
  // slot among the subset's questions (-1: not in the subset) for the per-question averages.
  int64_t eval_pairs = 0;
  std::vector<int64_t> eval_mine;
  std::vector<int64_t> eval_question_slot;
  int64_t eval_questions = 0;

  explicit Impl(TrainerInputs inputs)
      : in(std::move(inputs)),
        comm(*in.comm),
        device(in.device),
        run_dir(in.train.run_dir),
        checkpoints(in.train.run_dir) {}

  bool needs_reference() const {
    return loss::needs_reference(in.loss) && in.train.reference != ReferenceMode::kNone;
  }

  void setup();
  model::CausalLMPtr make_reference();
  void shard_reference(model::CausalLM& ref);
  void open_run();
  void prepare_reference();
  void resume_if_asked();
  int run();
  std::map<std::string, double> train_step();
  std::map<std::string, double> evaluate();
  bool after_evaluation(const std::map<std::string, double>& m);
  void evaluate_and_save(bool save_due);
  void save(bool is_best);
  void finish();
  loss::ReferenceLogprobs reference_for(const data::PairBatch& batch, bool eval);
};

void Trainer::Impl::setup() {
  const auto& t = in.train;
  GDPO_CHECK(in.train_data && in.train_data->pairs() > 0, "no training pairs");
  GDPO_CHECK(in.policy, "no policy model");
  // On the device before TrainStep makes the optimizer, whose state is created like the parameters.
  dist::move_to_device(*in.policy, device);
  if (t.activation_checkpointing) in.policy->set_activation_checkpointing(true);
  if (in.eval_data && in.eval_data->pairs() > 0) validate(in.eval, in.loss);
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

}

void Trainer::Impl::open_run() {
  // Rank 0 takes the run first: metrics.h5's lock makes a second process on the same run fail
  // here, before the clean-up could remove the temporaries it is writing.
  if (comm.is_root()) {
    fs::create_directories(run_dir.root());
    metrics = std::make_unique<io::MetricLog>(run_dir.metrics());
    for (const auto& path : run_dir.remove_stale_temporaries())
      log::warn("removed '", path, "', left by an interrupted write");
  }
  comm.barrier();
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
  // Sharded steps read their own slices, whatever layout wrote the checkpoint.
  ZeroState* zero = step->zero();
  auto content = zero ? load_checkpoint(*path, nullptr, nullptr)
                      : load_checkpoint(*path, in.policy.get(), &step->optimizer());
  if (zero) zero->load(CheckpointTensors(*path));
  if (content.state.dataset_size != in.train_data->pairs())
    throw InputError("checkpoint '" + *path + "' was trained on " +
                     std::to_string(content.state.dataset_size) + " pairs but the data has " +
                     std::to_string(in.train_data->pairs()) + " (--data.train changed?)");
  if (content.config_ini != in.config_ini)
    log::warn("the configuration differs from the one checkpoint '", *path,
              "' was written with; continuing with the new one");
  // Bit-for-bit continuation needs the same ranks and threads (they fix every summation order);
  // otherwise the run continues correctly (the data cursor is global: each example once per epoch).
  const int64_t threads = torch::get_num_threads();
  if (content.state.world_size != comm.world_size() ||
      (content.state.threads > 0 && content.state.threads != threads))
    log::warn("checkpoint '", *path, "' was written by ", content.state.world_size, " rank(s) x ",
              content.state.threads > 0 ? std::to_string(content.state.threads) : "?",
              " thread(s); this run has ", comm.world_size(), " x ", threads,
              ": training continues with the same data order, but not bit for bit as an "
              "uninterrupted run (float sums in another order)");
  state = content.state;
  state.world_size = comm.world_size();
  state.threads = threads;
  reference_fp = content.reference_fingerprint;
  loader->sampler().restore(state.cursor);
  last_saved_step = state.step;
  log::info("resumed from ", *path, " at step ", state.step, " (", state.examples, " pairs)");
}

model::CausalLMPtr Trainer::Impl::make_reference() {
  GDPO_CHECK(in.make_reference, "the objective needs a reference model but none can be made");
  auto ref = in.make_reference();
  dist::move_to_device(*ref, device);  // in its own dtype (--train.reference-dtype)
  ref->eval();
  return ref;
}

void Trainer::Impl::shard_reference(model::CausalLM& ref) {
  // Stage 3 shards an online reference's blocks too (the model then owns its ZeroState).
  if (in.train.zero_stage == 3)
    std::make_shared<ZeroState>(ref, 3, in.comm, /*optimizer=*/nullptr)->attach();
}

void Trainer::Impl::prepare_reference() {
  if (!needs_reference()) return;
  const auto& t = in.train;
  if (t.reference == ReferenceMode::kOnline) {
    online_ref = make_reference();
    shard_reference(*online_ref);
    return;
  }
  // The fingerprint covers the reference weights, so the reference model is always built once.
  auto ref = make_reference();
  const std::string weights = weights_fingerprint(*ref);
  if (!reference_fp.empty() && reference_fp != weights)
    log::warn("the reference weights differ from those the checkpoint was trained against");
  reference_fp = weights;
  const int64_t batch = std::max<int64_t>(1, in.eval.batch_size / comm.world_size());
  auto key = [&](const data::TokenizedPairs& d) {
    return weights + "-" + pairs_fingerprint(d) + "-" + precision_name(t.reference_dtype);
  };
  train_ref = load_or_compute_reference(run_dir.reference("train"), key(*in.train_data), *ref,
                                        *in.train_data, comm, batch, in.loss.logprob_chunk);
  if (in.eval_data && in.eval_data->pairs() > 0)
    eval_ref = load_or_compute_reference(run_dir.reference("eval"), key(*in.eval_data), *ref,
                                         *in.eval_data, comm, batch, in.loss.logprob_chunk);
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
  // Stage 3: the embeddings and head for the evaluation; the blocks are gathered as they run.
  ZeroState::Whole rest(step->zero(), /*blocks=*/false);
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

bool Trainer::Impl::after_evaluation(const std::map<std::string, double>& m) {
  const auto& e = in.eval;
  state.evaluations += 1;
  state.last_eval_step = state.step;
  if (comm.is_root()) metrics->append("eval", state.step, m);
  auto it = m.find(e.metric);
  if (it == m.end()) {
    std::string names;
    for (const auto& [k, v] : m) names += " " + k;
    throw UsageError("--eval.metric '" + e.metric + "' is not an eval metric; they are:" + names);
  }
  const double v = it->second;
  // A non-finite value is never the best (and counts as no improvement).
  const bool better =
      std::isfinite(v) &&
      (std::isnan(state.best_metric) ||
       (e.goal == MetricGoal::kMin ? v < state.best_metric : v > state.best_metric));
  if (!std::isfinite(v))
    log::warn("eval at step ", state.step, ": ", e.metric, " is ", v, "; not a candidate for best");
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
  return better;
}

void Trainer::Impl::evaluate_and_save(bool save_due) {
  const bool best = after_evaluation(evaluate());
  // The best evaluation always has its checkpoint; --train.save-every-examples 0 saves at each.
  if (best || save_due || in.train.save_every_examples == 0) save(best);
}

void Trainer::Impl::save(bool is_best) {
  if (state.step == last_saved_step && !is_best) return;
  CheckpointContent c;
  state.threads = torch::get_num_threads();
  c.state = state;
  c.config_ini = in.config_ini;
  c.model_config_json = model::hf_config_json(in.policy->config());
  c.reference_fingerprint = reference_fp;
  if (ZeroState* zero = step->zero()) {
    // Every rank writes the slices it owns; rank 0 then checks them and writes the manifest.
    save_checkpoint_shard(checkpoints.path_for_step(state.step), comm.rank(), comm.world_size(),
                          zero->checkpoint_pieces());
    comm.barrier();
    if (comm.is_root()) {
      auto path = checkpoints.commit_sharded(comm.world_size(), zero->optimizer_kind(),
                                             zero->optimizer_steps(), c, is_best,
                                             in.train.keep_last);
      log::info("checkpoint ", path, " (", comm.world_size(), " shards)", is_best ? " (best)" : "");
    }
  } else if (comm.is_root()) {
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
    if (ZeroState* zero = step->zero())
      zero->load(CheckpointTensors(*best), /*optimizer=*/false);
    else
      load_checkpoint(*best, in.policy.get(), nullptr);
    log::info("final model: the best checkpoint ", *best, " (step ", state.best_step, ")");
  }
  std::map<std::string, double> final_metrics;
  if (in.eval_data && in.eval_data->pairs() > 0) final_metrics = evaluate();
  ZeroState::Whole whole(step->zero());  // stage 3: every rank gathers the weights to export
  if (comm.is_root()) {
    // The folder is swapped in whole, then the summary written: its step marks the run complete.
    const auto out = run_dir.model();
    io::AtomicDirectory folder(out);
    model::save_hf_model(*in.policy, folder.temp_path(), in.tokenizer_source);
    folder.commit();
    nlohmann::json eval = nlohmann::json::object();
    for (const auto& [k, v] : final_metrics) eval[k] = std::isfinite(v) ? nlohmann::json(v) : nullptr;
    const nlohmann::json summary = {{"step", state.step},
                                    {"examples", state.examples},
                                    {"best_step", state.best_step},
                                    {"exported", export_choice_name(in.train.export_model)},
                                    {"stopped_early", state.stopped_early},
                                    {"loss_type", loss::loss_type_name(in.loss.type)},
                                    {"eval", eval}};
    io::write_file_atomic(run_dir.summary(), summary.dump(2) + "\n");
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
  // Nested under the command's guard (installed before any work), or the first one here.
  StopSignalGuard signals;
  try {
    return impl_->run();
  } catch (const StopRequested& stopped) {
    log::info(stopped.what(), "; no step was taken since the last checkpoint, so nothing to save: ",
              "resubmit (--train.resume auto) to continue");
    return kExitPreempted;
  }
}

int Trainer::Impl::run() {
  const auto& t = in.train;
  const bool has_eval = in.eval_data && in.eval_data->pairs() > 0;
  open_run();
  resume_if_asked();
  const bool trained = state.step >= total_steps || state.stopped_early;
  if (trained && run_dir.is_complete(state.step)) {
    log::info("the run in ", run_dir.root(), " is complete (step ", state.step,
              ", summary.json and model/ written); nothing to do");
    return kExitOk;
  }
  if (comm.is_root()) io::write_file_atomic(run_dir.config_ini(), in.config_ini);
  if (stop_agreed(comm)) throw StopRequested("set-up");
  prepare_reference();
  // Rows after the resumed checkpoint (all rows when none was resumed) belong to lost steps.
  if (comm.is_root()) metrics->truncate_after(last_saved_step);
  log::info("training ", loss::loss_type_name(in.loss.type), ": ", in.train_data->pairs(),
            " pairs, ", total_steps, " steps of ", t.batch_size, " pairs (", comm.world_size(),
            " rank(s) x ", t.grad_accum, " x ", micro, ")");

  if (has_eval && in.eval.first_eval && state.step == 0 && state.evaluations == 0)
    evaluate_and_save(false);

  ProgressOptions popt;
  popt.label = "train";
  popt.unit = "step";
  popt.initial = state.step;
  popt.interval_s = t.progress_seconds;
  Progress progress(total_steps, popt);
  while (state.step < total_steps && !state.stopped_early) {
    const int64_t before = state.examples;
    auto m = train_step();
    if (comm.is_root()) metrics->append("train", state.step, m);
    progress.update(state.step, {{"loss", m["loss"]}, {"grad_norm", m["grad_norm"]}});
    fault::on_step_end(state.step);

    const bool save_due = crossed(before, state.examples, t.save_every_examples);
    if (has_eval && crossed(before, state.examples, in.eval.every_examples))
      evaluate_and_save(save_due);
    else if (save_due)
      save(false);

    // Every rank stops together: the signal may have reached only some of them.
    if (stop_agreed(comm)) {
      save(false);
      progress.finish();
      log::info("stopped by signal after step ", state.step,
                "; checkpoint written, resume with --train.resume auto");
      return kExitPreempted;
    }
  }
  progress.finish();
  // The last step is always evaluated, so that the best checkpoint is chosen among all of them
  // (a resumed run whose checkpoint already holds that evaluation does not repeat it).
  if (has_eval && state.last_eval_step != state.step) evaluate_and_save(false);
  save(false);
  finish();
  return kExitOk;
}

}  // namespace gdpo::train
