// The option groups of the library's config structs: each bind_* registers `[group]` options bound
// to the struct's fields (defaults are the struct's), and a check that validates the struct once
// after parsing. This is the only place where option names meet the library's types.
#pragma once
#include <string>

#include "gdpo/app/options.hpp"
#include "gdpo/data/data_config.hpp"
#include "gdpo/eval/generation_run.hpp"
#include "gdpo/loss/loss_config.hpp"
#include "gdpo/model/model_source.hpp"
#include "gdpo/train/train_config.hpp"

namespace gdpo::app {

// [model]: --model.path | --model.config (+ seed), --model.dtype. A command may preset `config`
// before binding; an explicit --model.path then replaces it.
void bind_model(OptionSet& set, model::ModelSource& source);
// [tokenizer] path: a folder, a tokenizer.json, or "bytes".
void bind_tokenizer(OptionSet& set, std::string& path);
// [loss] every field of LossConfig.
void bind_loss(OptionSet& set, loss::LossConfig& config);
// [train] and [eval].
void bind_train(OptionSet& set, train::TrainConfig& config);
void bind_eval(OptionSet& set, train::EvalConfig& config);

// [data] for training: files, reading, tokenization, cache and split. `--data.mode auto` (the
// default) resolves to gdpo pairs for --loss.type gdpo and dpo pairs otherwise, from `loss` (which
// must be bound to the same set, or be null for commands without a loss: then auto means gdpo).
void bind_data(OptionSet& set, data::DataConfig& config, const loss::LossConfig* loss);
// The [data] options of commands that only read records: --data.kind, --data.skip-invalid,
// --data.renormalize, --data.tolerance, --data.belief-ids (validated after parsing).
void bind_read(OptionSet& set, data::ReadOptions& read);
// [data] for commands that read the test split (generate, evaluate): reading options, --data.test,
// or --data.train with --data.split and --data.seed exactly as the training run had them.
void bind_test_data(OptionSet& set, data::DataConfig& config);
// [generate]: sampling, lengths, samples per row, batch and chunk sizes, seed, output files.
void bind_generate(OptionSet& set, eval::GenerateConfig& config);
// A "0.8,0.1,0.1" ratio list bound to --data.split (parsed and checked after parsing).
void bind_split(OptionSet& set, std::array<double, 3>& split, const std::string& help);

}  // namespace gdpo::app
