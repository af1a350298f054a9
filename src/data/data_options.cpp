#include "gdpo/data/data_options.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/data/split.hpp"

namespace gdpo::data {

void DataOptions::add_to(cli::OptionSet& set) {
  set.group("data", "Preference data [data]")
      .add("train", &train_files, "training data, JSON lines in the published schema (repeatable)")
      .add("eval", &eval_files, "evaluation data (repeatable); none: split --data.train by question")
      .add("kind", &kind, "opinion | review | auto (reviews have no choice text)")
      .add("mode", &mode, "gdpo (rejected carries the chosen belief) | dpo (its own belief)")
      .add("max-length", &max_length, "max tokens of prompt + response")
      .add("max-prompt-length", &max_prompt_length, "prompt length after truncation")
      .add("truncation", &truncation, "keep_start | keep_end: which part of a long prompt to keep")
      .flag("skip-invalid", &skip_invalid, "skip bad examples (counted per reason) instead of failing")
      .flag("renormalize", &renormalize, "rescale p* that does not sum to 1 instead of failing")
      .add("tolerance", &tolerance, "allowed |sum p* - 1|")
      .add("belief-ids", &belief_ids, "auto | index0 | index1 | letters: option ids in the records")
      .add("cache-dir", &cache_dir, "directory of the tokenized-data cache (empty: no cache)")
      .add("seed", &seed, "seed of splits and shuffling")
      .add("split", &split, "train,eval[,test] ratios by question (used without --data.eval)");
  set.validate([this] {
    parse_kind(kind == "auto" ? "opinion" : kind, "--data.kind");
    parse_mode(mode, "--data.mode");
    parse_split_ratios(split, "--data.split");
    if (!(tolerance >= 0)) GDPO_THROW(UsageError, "--data.tolerance: must be >= 0");
    if (truncation != "keep_start" && truncation != "keep_end")
      GDPO_THROW(UsageError, "--data.truncation: unknown mode '" << truncation << "' (keep_start|keep_end)");
    if (max_length < 2) GDPO_THROW(UsageError, "--data.max-length: must be >= 2");
    if (max_prompt_length < 1 || max_prompt_length >= max_length)
      GDPO_THROW(UsageError, "--data.max-prompt-length: must be in [1, --data.max-length)");
  });
}

ReadOptions DataOptions::read_options() const {
  ReadOptions r;
  r.kind = kind;
  r.belief_ids = belief_ids;
  r.skip_invalid = skip_invalid;
  r.renormalize = renormalize;
  r.tolerance = tolerance;
  return r;
}

TokenizeOptions DataOptions::tokenize_options() const {
  TokenizeOptions t;
  t.mode = parse_mode(mode, "--data.mode");
  t.max_length = max_length;
  t.max_prompt_length = max_prompt_length;
  t.truncation = truncation;
  t.skip_invalid = skip_invalid;
  return t;
}

LoadedData load_data(const DataOptions& o, const tokenizer::Tokenizer& tok, std::ostream* log) {
  if (o.train_files.empty()) GDPO_THROW(UsageError, "--data.train: no training data given");
  LoadedData out;
  for (const auto& f : o.train_files)
    append_pairs(out.train, load_pairs(f, tok, o.tokenize_options(), o.read_options(), o.cache_dir, log));
  for (const auto& f : o.eval_files)
    append_pairs(out.eval, load_pairs(f, tok, o.tokenize_options(), o.read_options(), o.cache_dir, log));
  if (o.eval_files.empty()) {
    const auto ratios = parse_split_ratios(o.split, "--data.split");
    if (ratios[kEval] > 0) {
      const auto split = assign_splits(out.train.questions(), ratios, static_cast<uint64_t>(o.seed),
                                       o.train_files.front());
      std::array<std::vector<int64_t>, 3> members;
      for (size_t q = 0; q < split.size(); ++q) members[split[q]].push_back(static_cast<int64_t>(q));
      TokenizedPairs all = std::move(out.train);
      out.train = select_questions(all, members[kTrain]);
      out.eval = select_questions(all, members[kEval]);
      out.eval.skipped = SkipCounts();
      if (log)
        *log << "data: split by question (seed " << o.seed << "): " << members[kTrain].size()
             << " train / " << members[kEval].size() << " eval / " << members[kTest].size()
             << " test questions\n";
    }
  }
  for (const auto* part : {&out.train, &out.eval})
    if (!part->question_offset.empty() && part->pairs() == 0)
      GDPO_THROW(InputError, (part == &out.train ? o.train_files.front() : o.eval_files.empty()
                                  ? o.train_files.front() : o.eval_files.front())
                                 << ": the " << (part == &out.train ? "train" : "eval")
                                 << " data has no pairs");
  return out;
}

}  // namespace gdpo::data
