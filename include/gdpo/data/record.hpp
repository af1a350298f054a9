// Preference records in the GDPO authors' published schema (JSON lines, one pair per line), grouped
// by question (context + prompt + options), with the exact text rendering the authors use for prompts
// and responses. Readers validate every field and name the file and line of each problem.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "gdpo/data/skip_counts.hpp"

namespace gdpo::data {

// Opinion QA (`{id}<{choice}>{response}`) or movie reviews (`{rating}{response}`).
enum class DatasetKind { kOpinion, kReview };
// DPO: the rejected response carries its own belief; GDPO: it carries the chosen belief.
enum class PairMode { kGdpo, kDpo };

DatasetKind parse_kind(const std::string& text, const std::string& option);  // "opinion"|"review"
const char* kind_name(DatasetKind kind);
const char* mode_name(PairMode mode);

// One question: a prompt with its belief distribution p*.
struct Question {
  std::string prompt;
  std::string context;                  // "" when absent
  std::vector<std::string> options;     // [K] belief texts ("" allowed for reviews)
  std::vector<std::string> belief_ids;  // [K] the id written before each belief ("0", "5", "A")
  std::vector<double> probabilities;    // [K] p*(b|x)
  bool explicit_ids = false;            // ids came from `options_map` (written back as such)
  int64_t line = 0;                     // first line that holds the question (1-based; 0: built)
  int64_t majority() const;             // argmax p* (the first on ties)
  // What makes records one question: the context, the prompt and the option texts (a survey that
  // asks one question with two option sets holds two questions).
  std::string key() const {
    std::string k = context + '\x1f' + prompt;
    for (const auto& o : options) k += '\x1e' + o;
    return k;
  }
};

// One preference pair of a question.
struct Pair {
  int64_t question = 0;  // index into Dataset::questions
  int64_t chosen = 0;    // belief index in [0, K)
  int64_t rejected = 0;  // belief index in [0, K)
  std::string chosen_response;
  std::string rejected_response;
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // question, style, selections, answers
  int64_t line = 0;
};

struct Dataset {
  DatasetKind kind = DatasetKind::kOpinion;
  std::string source;  // the file it came from, for messages
  std::vector<Question> questions;
  std::vector<Pair> pairs;
  SkipCounts skipped;  // examples left out, per reason
  SkipCounts notes;    // informational counts (e.g. answers that came from templates)

  // The questions `question_indices` (in that order) and all their pairs.
  Dataset subset(const std::vector<int64_t>& question_indices) const;
};

struct ReadOptions {
  std::string kind = "auto";       // opinion | review | auto (reviews have no choice text)
  std::string belief_ids = "auto"; // auto | index0 | index1 | letters: how ids map to options
  bool skip_invalid = false;       // skip (and count) bad lines instead of throwing InputError
  // p* summing to 1 within `tolerance` is used exactly as given (never rescaled, as the authors);
  // a sum off by more is an InputError (file:line), or rescaled to 1 when `renormalize` is set.
  bool renormalize = false;        // rescale p* off by more than the tolerance instead of failing
  double tolerance = 1e-3;         // |sum p* - 1| accepted as given
  // Refuse a pair whose rejected belief is its chosen one: set where the rejected response is
  // rendered with its own belief (PairMode::kDpo; load_pairs sets it), whose pair would then compare
  // two responses of one belief. GDPO pairs render the rejected response with the chosen belief, so
  // equal ids are harmless there and are read as they are.
  bool rejected_own_belief = false;
};

// Reads a JSONL file (or stream named `name`; a leading UTF-8 byte-order mark is skipped). Throws
// gdpo::InputError "file:line: ..." on bad input unless options.skip_invalid, which counts the
// skipped lines per reason in Dataset::skipped. A bad line is any line that is not valid UTF-8, not a
// JSON object (malformed, a number out of double's range, nesting deeper than kMaxJsonDepth), or
// breaks the schema: a field missing or of the wrong type, p* negative, not finite or not summing to
// 1 (see ReadOptions), an id that is not one of the question's, opinion option texts that repeat
// within the question, a question whose p* differs from an earlier line's, and with
// rejected_own_belief a pair whose two ids are equal.
Dataset read_records(const std::string& path, const ReadOptions& options = {});
Dataset parse_records(std::istream& in, const std::string& name, const ReadOptions& options = {});

// The record of one pair in the published schema.
nlohmann::ordered_json to_record(const Dataset& data, const Pair& pair);
// Writes every pair as JSON lines, atomically.
void write_records(const std::string& path, const Dataset& data);

// `{context}<Q>{prompt}<A>`.
std::string render_prompt(const Question& q);
// The belief span: `{id}<{option}>` (opinion) or `{id}` (review).
std::string render_belief(DatasetKind kind, const Question& q, int64_t belief);

// The texts of one pair: the prompt and both responses, each response starting with its belief span.
struct RenderedPair {
  std::string prompt;
  std::string chosen_belief, chosen_response;      // response = the text after the belief span
  std::string rejected_belief, rejected_response;  // GDPO: rejected_belief == chosen_belief
  std::string chosen() const { return chosen_belief + chosen_response; }
  std::string rejected() const { return rejected_belief + rejected_response; }
};
RenderedPair render_pair(const Dataset& data, const Pair& pair, PairMode mode);

}  // namespace gdpo::data
