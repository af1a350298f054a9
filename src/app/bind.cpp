#include "bind.hpp"

#include <sstream>

#include "gdpo/data/split.hpp"
#include "gdpo/model/model_factory.hpp"
#include "output_paths.hpp"

namespace gdpo::app {

namespace {

// The choices of an enum option: each value under its name.
template <class E, size_t N>
std::vector<std::pair<std::string, E>> named(const E (&values)[N], const char* (*name)(E)) {
  std::vector<std::pair<std::string, E>> out;
  for (E v : values) out.emplace_back(name(v), v);
  return out;
}

std::string ratios_text(const std::array<double, 3>& r) {
  std::ostringstream os;
  os << r[0] << "," << r[1];
  if (r[2] != 0) os << "," << r[2];
  return os.str();
}

}  // namespace

void bind_model(OptionSet& set, model::ModelSource& s) {
  set.group("model", "[model] the policy model")
      .add("path", &s.path, "Hugging Face model folder (config.json + model.safetensors)")
      .add("config", &s.config,
           "model config for random init: a name in configs/models/ (gpt2, pythia-160m, "
           "tiny-gpt2, ...) or an INI file")
      .add("seed", &s.seed, "random init seed (with --model.config)")
      .parsed<torch::ScalarType>("dtype", &s.dtype, model::parse_dtype, model::dtype_name,
                                 "parameter dtype: float32 (fp32) | bfloat16 (bf16)");
  set.validate([&s, &set] {
    // A preset config (a command's default) yields to a path given explicitly.
    if (!s.path.empty() && !s.config.empty() && !set.given("model.config")) s.config.clear();
    model::validate(s);
  });
}

void bind_tokenizer(OptionSet& set, std::string& path) {
  set.group("tokenizer", "Tokenizer [tokenizer]")
      .add("path", &path,
           "tokenizer folder (tokenizer.json, or vocab.json + merges.txt), a tokenizer.json, or "
           "'bytes'");
}

void bind_loss(OptionSet& set, loss::LossConfig& c) {
  set.group("loss", "Objective [loss]")
      .choice("type", &c.type, named(loss::kLossTypes, loss::loss_type_name),
              "objective, under the GDPO authors' names: sft; dpo (whole responses, the rejected "
              "one with its own belief); cdpo (DPO after the belief, both responses on the chosen "
              "belief); ipo; gdpo")
      .add("beta", &c.beta, "DPO temperature beta (dpo, cdpo, ipo, GDPO's preference term)")
      .add("label-smoothing", &c.label_smoothing,
           "label smoothing eps in [0, 0.5) of the sigmoid losses (conservative DPO): the "
           "assumed rate of flipped preferences")
      .choice("preference-loss", &c.gdpo_preference,
              named(loss::kDpoVariants, loss::dpo_variant_name),
              "GDPO's preference term on the response after the belief")
      .add("calibration-weight", &c.calibration_weight,
           "GDPO weight of KL(p* || p_theta) over the belief tokens (0: preference-only ablation)")
      .add("belief-weight", &c.belief_weight,
           "GDPO weight of the chosen belief's negative log-likelihood")
      .add("preference-weight", &c.preference_weight,
           "GDPO weight of the belief-conditioned DPO term (0: calibration-only ablation)")
      .flag("reference-free", &c.reference_free,
            "DPO-family losses against no reference model (reference log-probs taken as 0)")
      .add("logprob-chunk", &c.logprob_chunk,
           "positions whose full-vocabulary logits are computed at once (memory vs speed)");
  set.validate([&c] { loss::validate(c); });
}

void bind_train(OptionSet& set, train::TrainConfig& o) {
  using namespace train;
  set.group("train", "Training [train]")
      .add("run-dir", &o.run_dir, "run directory: checkpoints/, metrics.h5, config.ini")
      .add("resume", &o.resume,
           "auto (newest complete checkpoint in the run directory, if any) | none | PATH")
      .choice("optimizer", &o.optimizer.kind,
              named({OptimizerKind::kRmsprop, OptimizerKind::kAdamw}, optimizer_kind_name),
              "the paper's rmsprop, or adamw")
      .add("lr", &o.lr, "peak learning rate")
      .add("warmup-steps", &o.warmup_steps, "linear warmup steps")
      .add("weight-decay", &o.optimizer.weight_decay, "weight decay")
      .add("max-grad-norm", &o.max_grad_norm, "clip the global gradient norm (0: off)")
      .add("batch-size", &o.batch_size, "preference pairs per optimizer step, over all ranks")
      .add("grad-accum", &o.grad_accum, "micro-batches accumulated per step on each rank")
      .add("n-epochs", &o.n_epochs, "epochs over the training split")
      .add("n-examples", &o.n_examples, "train on this many pairs instead (0: use n-epochs)")
      .add("max-steps", &o.max_steps, "stop after this many optimizer steps (0: no limit)")
      .choice("precision", &o.precision,
              named({Precision::kFp32, Precision::kBf16}, precision_name),
              "bf16: autocast, fp32 master weights")
      .choice("reference", &o.reference,
              named({ReferenceMode::kCache, ReferenceMode::kOnline, ReferenceMode::kNone},
                    reference_mode_name),
              "reference log-probs: once in HDF5, every step, or none")
      .choice("reference-dtype", &o.reference_dtype,
              named({Precision::kFp32, Precision::kBf16}, precision_name),
              "the reference model's weights")
      .add("seed", &o.seed, "seed of data order and initialisation")
      .add("keep-last", &o.keep_last, "checkpoints kept besides the best")
      .add("save-every-examples", &o.save_every_examples,
           "checkpoint every this many pairs (0: at every evaluation)")
      .add("progress-seconds", &o.progress_seconds,
           "progress line period when stdout is not a terminal")
      .choice("export", &o.export_model,
              named({ExportChoice::kBest, ExportChoice::kLast}, export_choice_name),
              "the weights written to <run-dir>/model: the best evaluation's checkpoint, or the last")
      .add("device", &o.device,
           "auto (each rank's GPU when GPUs are visible, else cpu) | cpu | cuda (rank r of a node "
           "takes its GPU r)")
      .flag("activation-checkpointing", &o.activation_checkpointing,
            "recompute each block's activations in the backward pass (less memory, more time)");
  set.group("dist", "Parallel runs [dist]")
      .add("zero-stage", &o.zero_stage,
           "ZeRO sharding over the ranks: 0 replicates, 1 shards the optimizer state, 2 also the "
           "gradients, 3 also the parameters (gathered block by block)");
  set.validate([&o] { validate(o); });
}

void bind_eval(OptionSet& set, train::EvalConfig& o) {
  using namespace train;
  set.group("eval", "Evaluation during training [eval]")
      .add("every-examples", &o.every_examples,
           "evaluate after every this many training pairs (0: only at the end)")
      .add("n-examples", &o.n_examples,
           "size of the fixed eval subset: the pairs of the eval questions in an order shuffled "
           "by --train.seed, as the authors (0: the whole split)")
      .add("batch-size", &o.batch_size, "pairs per eval batch, over all ranks")
      .add("patience", &o.patience,
           "early stopping after this many evaluations without improvement (0: off)")
      .add("metric", &o.metric, "eval metric for early stopping and the best checkpoint")
      .choice("mode", &o.goal,
              named({MetricGoal::kMin, MetricGoal::kMax}, metric_goal_name),
              "whether a lower or higher metric is better")
      .flag("first-eval", &o.first_eval, "evaluate before the first step");
  set.validate([&o] { validate(o); });
}

namespace {
void bind_read_options(OptionSet& set, data::ReadOptions& r) {
  set.group("data", "Preference data [data]")
      .add("kind", &r.kind, "opinion | review | auto (reviews have no choice text)")
      .flag("skip-invalid", &r.skip_invalid, "skip bad lines (counted) instead of failing")
      .flag("renormalize", &r.renormalize,
            "rescale a p* whose sum is off by more than --data.tolerance instead of failing")
      .add("tolerance", &r.tolerance, "allowed |sum p* - 1| (p* within it is used as given)")
      .add("belief-ids", &r.belief_ids, "auto | index0 | index1 | letters: option ids in the records");
}
}  // namespace

void bind_read(OptionSet& set, data::ReadOptions& r) {
  bind_read_options(set, r);
  set.validate([&r] { data::validate(r); });
}

void bind_split(OptionSet& set, std::array<double, 3>& split, const std::string& help) {
  set.group("data").parsed<std::array<double, 3>>("split", &split, data::parse_split_ratios,
                                                  ratios_text, help);
}

void bind_data(OptionSet& set, data::DataConfig& c, const loss::LossConfig* loss) {
  // "auto" is kept apart from the pair mode until the loss type is known.
  enum class Mode { kAuto, kGdpo, kDpo };
  enum class SftExamples { kPerPrompt, kPerPair };
  auto mode = std::make_shared<Mode>(Mode::kAuto);
  auto sft = std::make_shared<SftExamples>(SftExamples::kPerPrompt);
  bind_read_options(set, c.read);
  set.group("data")
      .add("train", &c.train_files, "training data, JSON lines in the published schema (repeatable)")
      .add("eval", &c.eval_files, "evaluation data (repeatable); none: split --data.train by question")
      .add("test", &c.test_files,
           "test data for generate/evaluate (repeatable); none: the test share of --data.split")
      .choice("mode", mode.get(), {{"auto", Mode::kAuto}, {"gdpo", Mode::kGdpo}, {"dpo", Mode::kDpo}},
              "the rejected response's belief: gdpo (the chosen one), dpo (its own); auto: dpo "
              "for --loss.type dpo, gdpo for every other loss (as the authors' dpo_mode)")
      .choice("sft-examples", sft.get(),
              {{"per-prompt", SftExamples::kPerPrompt}, {"per-pair", SftExamples::kPerPair}},
              "SFT trains on one example per distinct prompt (the last record's chosen response, "
              "as the authors) or on every pair's chosen response")
      .add("max-length", &c.tokenize.max_length, "max tokens of prompt + response")
      .add("max-prompt-length", &c.tokenize.max_prompt_length, "prompt length after truncation")
      .add("truncation", &c.tokenize.truncation,
           "keep_start | keep_end: which part of a long prompt to keep")
      .add("cache-dir", &c.cache_dir, "directory of the tokenized-data cache (empty: no cache)")
      .add("seed", &c.seed, "seed of the split");
  bind_split(set, c.split, "train,eval[,test] ratios by question (used without --data.eval)");
  set.validate([&c, mode, sft, loss] {
    const bool own = loss && loss::rejected_has_own_belief(loss->type);
    c.tokenize.mode = *mode == Mode::kDpo || (*mode == Mode::kAuto && own) ? data::PairMode::kDpo
                                                                           : data::PairMode::kGdpo;
    c.one_pair_per_question =
        loss && loss->type == loss::LossType::kSft && *sft == SftExamples::kPerPrompt;
    c.tokenize.skip_invalid = c.read.skip_invalid;
    data::validate(c);
    if (!c.cache_dir.empty()) require_output_folder(c.cache_dir, "--data.cache-dir");
  });
}

void bind_test_data(OptionSet& set, data::DataConfig& c) {
  bind_read_options(set, c.read);
  set.group("data")
      .add("test", &c.test_files, "test data (repeatable); none: the test share of --data.split")
      .add("train", &c.train_files,
           "the training run's --data.train, to take the test share of its split")
      .add("eval", &c.eval_files, "the training run's --data.eval (then there is no test share)")
      .add("seed", &c.seed, "the training run's --data.seed (the split's seed)");
  bind_split(set, c.split, "the training run's --data.split (its third ratio is the test share)");
  set.validate([&c] { data::validate(c.read); });
}

void bind_generate(OptionSet& set, eval::GenerateConfig& c) {
  auto& g = c.generation;
  set.group("generate", "Generation [generate]")
      .add("n-samples", &c.samples_per_row, "samples per test row (the authors: 8)")
      .flag("greedy", &g.sampling.greedy, "greedy decoding instead of sampling")
      .add("temperature", &g.sampling.temperature, "sampling temperature (the authors: 1)")
      .add("top-k", &g.sampling.top_k, "keep the k most likely tokens (0: off, the authors')")
      .add("top-p", &g.sampling.top_p, "nucleus sampling mass (1: off)")
      .add("max-length", &g.max_length,
           "max tokens of prompt + generation (the authors' max_length 1024; capped by the model)")
      .add("max-new-tokens", &g.max_new_tokens, "max new tokens per sample (0: up to max-length)")
      .add("seed", &g.seed, "seed of the samples (each depends on seed, row and sample index only)")
      .add("batch-size", &c.batch_size, "sequences per forward pass on each rank")
      .add("chunk-rows", &c.chunk_rows, "test rows per resumable unit of work")
      .add("max-rows", &c.max_rows, "only the first N test rows (0: all; the authors: 1843)")
      .add("output", &c.output, "the generations file (HDF5); a killed run resumes from it")
      .add("jsonl", &c.jsonl, "also write the samples as JSON lines here")
      .add("device", &c.device,
           "auto (each rank's GPU when GPUs are visible, else cpu) | cpu | cuda (rank r of a node "
           "takes its GPU r)");
  set.validate([&c] { eval::validate(c); });
}

}  // namespace gdpo::app
