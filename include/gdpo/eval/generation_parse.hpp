// Reading one sampled response the way the authors' evaluate.py (commit 4d6a59e) does: the belief
// id (its first character), the belief text (the first <...>) and the response text that ROUGE-L
// scores. Pure string work; no tokenizer or model.
#pragma once
#include <cstdint>
#include <string>

namespace gdpo::eval {

// How a response was rendered in training: opinion QA `{id}<{option}>{text}` or reviews
// `{rating}{text}` (no brackets; review text may contain HTML such as "<br />").
enum class ResponseFormat { kOpinion, kReview };

// What parse_generation reads from one response.
struct ParsedGeneration {
  // The first character of the stripped text read as Python's int(pred[0]) reads it: a decimal
  // digit, ASCII '0'-'9' or any other Unicode Nd digit (U+FF15 '５' is 5, as int() says), gives
  // its value 0-9 (parsed = true); anything else (empty text, a letter, '-', '<') gives -1. The
  // authors' `op` is this value, or 0 when parsed is false (see authors_op).
  int64_t belief_id = -1;
  bool parsed = false;
  // kOpinion: the first match of the regex `<.*?>` (non-greedy, '.' not matching '\n'), brackets
  // stripped, not trimmed; has_text = false and belief_text = "" when nothing matches. So
  // "2<a <b> c>" gives "a <b", "1<x> <y>" gives "x", "3<>" gives "" with has_text = true.
  // kReview: never any (has_text = false).
  std::string belief_text;
  bool has_text = false;
  // kOpinion, the authors' get_rouge (lines 164-167):
  //     try: resp = pred.split(">")[1].strip()
  //     except: resp = pred[1:]
  //   i.e. with a '>': the text between the first '>' and the next '>' (or the end), stripped of
  //   Python whitespace; without any '>': everything after the first code point, NOT stripped (their
  //   `pred` is the predict_*.txt line, which still ends in "\n" there; pass that "\n" too to get
  //   their string exactly — it can change ROUGE-L, e.g. when the text ends in '.').
  // kReview: the stripped text after the leading rating digit; the whole stripped text when there is
  //   no leading digit. (The authors did not evaluate reviews; this is our rule.)
  std::string response;
};

// Parses one response: the text generated after the prompt, as the authors store it
// (`output.strip().replace("\n", " ")`, inference.py) — a trailing "\n" from reading their files
// back is allowed. The belief id is read after stripping leading Python whitespace (their
// get_predictions strips first; their get_rouge does not, but the stored lines start stripped).
ParsedGeneration parse_generation(const std::string& text, ResponseFormat format);

// The authors' `op`: the digit, or 0 when the first character is not one (evaluate.py 70-74:
// `try: op = int(pred[0]) except: op = 0`). This is what their consistency check compares and what
// get_rouge looks up (it skips op > 5; so an unparsable response is scored against the
// "DK/Refused" answer).
int64_t authors_op(const ParsedGeneration& parsed);

// The histogram bin of a raw belief id over k bins (evaluate.py get_js_distance 203-206, k = 6
// there): belief_id when 0 <= belief_id < k, else 0 — so unparsable (-1) and out-of-range ids land
// in bin 0 as theirs do. Requires k >= 1.
int64_t histogram_bin(int64_t belief_id, int64_t k);

}  // namespace gdpo::eval

namespace gdpo::eval {

// The line the authors store for a decoded generation (inference.py):
// `output.strip().replace("\n", " ")`, Python's whitespace for strip(). parse_generation reads this.
std::string stored_line(const std::string& decoded);

}  // namespace gdpo::eval
