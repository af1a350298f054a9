#include "gdpo/data/data_config.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/data/split.hpp"

namespace gdpo::data {

void validate(const ReadOptions& r) {
  parse_kind(r.kind == "auto" ? "opinion" : r.kind, "--data.kind");
  if (!(r.tolerance >= 0)) GDPO_THROW(UsageError, "--data.tolerance: must be >= 0");
  if (r.belief_ids != "auto" && r.belief_ids != "index0" && r.belief_ids != "index1" &&
      r.belief_ids != "letters")
    GDPO_THROW(UsageError, "--data.belief-ids: unknown scheme '"
                               << r.belief_ids << "' (auto|index0|index1|letters)");
}

void validate(const DataConfig& c) {
  validate(c.read);
  const auto& t = c.tokenize;
  if (t.truncation != "keep_start" && t.truncation != "keep_end")
    GDPO_THROW(UsageError,
               "--data.truncation: unknown mode '" << t.truncation << "' (keep_start|keep_end)");
  if (t.max_length < 2) GDPO_THROW(UsageError, "--data.max-length: must be >= 2");
  if (t.max_prompt_length < 1 || t.max_prompt_length >= t.max_length)
    GDPO_THROW(UsageError, "--data.max-prompt-length: must be in [1, --data.max-length)");
  if (c.seed < 0) GDPO_THROW(UsageError, "--data.seed: must be >= 0");
}

LoadedData load_data(const DataConfig& o, const tokenizer::Tokenizer& tok, std::ostream* log) {
  if (o.train_files.empty()) GDPO_THROW(UsageError, "--data.train: no training data given");
  LoadedData out;
  for (const auto& f : o.train_files)
    append_pairs(out.train, load_pairs(f, tok, o.tokenize, o.read, o.cache_dir, log));
  for (const auto& f : o.eval_files)
    append_pairs(out.eval, load_pairs(f, tok, o.tokenize, o.read, o.cache_dir, log));
  if (o.eval_files.empty()) {
    if (o.split[kEval] > 0) {
      const auto split = assign_splits(out.train.questions(), o.split, static_cast<uint64_t>(o.seed),
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
  if (o.one_pair_per_question) {
    out.train = last_pair_per_question(out.train);
    if (!out.eval.question_offset.empty()) out.eval = last_pair_per_question(out.eval);
    if (log)
      *log << "data: one pair per question (SFT): " << out.train.pairs() << " train / "
           << out.eval.pairs() << " eval pairs\n";
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
