#include "gdpo/data/record.hpp"

#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "gdpo/core/error.hpp"
#include "gdpo/data/majority.hpp"
#include "gdpo/data/text.hpp"
#include "gdpo/io/atomic_file.hpp"

namespace gdpo::data {

using json = nlohmann::ordered_json;

DatasetKind parse_kind(const std::string& text, const std::string& option) {
  if (text == "opinion") return DatasetKind::kOpinion;
  if (text == "review") return DatasetKind::kReview;
  GDPO_THROW(UsageError, option << ": unknown dataset kind '" << text << "' (opinion|review)");
}

const char* kind_name(DatasetKind kind) {
  return kind == DatasetKind::kOpinion ? "opinion" : "review";
}
const char* mode_name(PairMode mode) { return mode == PairMode::kGdpo ? "gdpo" : "dpo"; }

int64_t Question::majority() const {
  return majority_belief(probabilities.begin(), probabilities.end());
}

Dataset Dataset::subset(const std::vector<int64_t>& question_indices) const {
  Dataset out;
  out.kind = kind;
  out.source = source;
  std::vector<int64_t> remap(questions.size(), -1);
  for (int64_t q : question_indices) {
    GDPO_CHECK(q >= 0 && q < static_cast<int64_t>(questions.size()), "question index " << q);
    remap[q] = static_cast<int64_t>(out.questions.size());
    out.questions.push_back(questions[q]);
  }
  std::vector<std::vector<const Pair*>> by_question(questions.size());
  for (const auto& p : pairs) by_question[p.question].push_back(&p);
  for (int64_t q : question_indices)
    for (const Pair* p : by_question[q]) {
      out.pairs.push_back(*p);
      out.pairs.back().question = remap[q];
    }
  return out;
}

namespace {

// A bad line: the reason (counted when skipping) and the full message.
struct BadLine {
  std::string reason;
  std::string message;
};

[[noreturn]] void bad(const std::string& reason, const std::string& message) {
  throw BadLine{reason, message};
}

const json& field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) bad("missing field", std::string("missing field '") + name + "'");
  return *it;
}

std::string string_field(const json& j, const char* name) {
  const json& v = field(j, name);
  if (!v.is_string()) bad("wrong field type", std::string("field '") + name + "' is not a string");
  return v.get<std::string>();
}

std::string optional_string(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return "";
  if (!it->is_string()) bad("wrong field type", std::string("field '") + name + "' is not a string");
  return it->get<std::string>();
}

// A belief id as text: integers (7, 7.0) or strings ("A").
std::string id_text(const json& v, const char* name) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15)
      return std::to_string(static_cast<int64_t>(d));
  }
  if (v.is_string() && !v.get<std::string>().empty()) return v.get<std::string>();
  bad("bad choice id", std::string("field '") + name + "' is not an integer or a non-empty string");
}

bool is_integer_text(const std::string& s) {
  if (s.empty() || s.size() > 15) return false;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool is_letter_id(const std::string& s) { return s.size() == 1 && s[0] >= 'A' && s[0] <= 'Z'; }

// The belief ids of a new question, from `options_map` or from the scheme (see ReadOptions).
std::vector<std::string> belief_ids_of(const json& rec, const std::vector<std::string>& options,
                                       DatasetKind kind, const std::string& scheme,
                                       const std::string& accept_id, const std::string& accept_choice,
                                       bool* explicit_ids) {
  const int64_t k = static_cast<int64_t>(options.size());
  std::vector<std::string> ids(k);
  auto map_it = rec.find("options_map");
  if (map_it != rec.end() && map_it->is_object()) {
    for (int64_t i = 0; i < k; ++i) {
      auto it = map_it->find(options[i]);
      if (it == map_it->end())
        bad("bad options_map", "option '" + options[i] + "' is missing from 'options_map'");
      ids[i] = id_text(*it, "options_map");
    }
    *explicit_ids = true;
    return ids;
  }
  std::string s = scheme;
  int64_t offset = 0;
  if (s == "auto") {
    bool options_are_ids = std::find(options.begin(), options.end(), accept_id) != options.end();
    for (const auto& o : options) options_are_ids = options_are_ids && (is_integer_text(o) || is_letter_id(o));
    if (options_are_ids) return options;  // e.g. ratings ["1", ..., "5"]
    if (is_letter_id(accept_id)) {
      s = "letters";
    } else if (is_integer_text(accept_id)) {
      s = "offset";
      offset = kind == DatasetKind::kReview ? 1 : 0;
      auto it = std::find(options.begin(), options.end(), accept_choice);
      if (!accept_choice.empty() && it != options.end())
        offset = std::stoll(accept_id) - (it - options.begin());
    } else {
      bad("bad choice id", "choice id '" + accept_id + "' is neither an integer nor a letter A-Z");
    }
  } else if (s == "index0" || s == "index1") {
    offset = s == "index1" ? 1 : 0;
    s = "offset";
  }
  if (s == "letters" && k > 26) bad("too many options", "more than 26 options for letter ids");
  for (int64_t i = 0; i < k; ++i)
    ids[i] = s == "letters" ? std::string(1, static_cast<char>('A' + i)) : std::to_string(i + offset);
  return ids;
}

// The first text of `v` that an earlier one repeats, as (earlier index, index); (0, 0) when none.
// Linear: a hostile line may list many options.
std::pair<size_t, size_t> first_repeat(const std::vector<std::string>& v) {
  std::unordered_map<std::string_view, size_t> seen;
  for (size_t i = 0; i < v.size(); ++i)
    if (auto [it, fresh] = seen.emplace(v[i], i); !fresh) return {it->second, i};
  return {0, 0};
}

int64_t belief_index(const Question& q, const std::string& id, const std::string& choice,
                     const char* id_field, const char* choice_field) {
  auto it = std::find(q.belief_ids.begin(), q.belief_ids.end(), id);
  if (it == q.belief_ids.end()) {
    std::string all;
    for (const auto& b : q.belief_ids) all += (all.empty() ? "" : ",") + b;
    bad("choice id outside the options", std::string(id_field) + " '" + id +
                                             "' is not one of the question's belief ids [" + all + "]");
  }
  const int64_t idx = it - q.belief_ids.begin();
  if (!choice.empty() && choice != q.options[idx])
    bad("choice text does not match its id",
        std::string(choice_field) + " '" + choice + "' is not option " + id + " ('" +
            q.options[idx] + "')");
  return idx;
}

}  // namespace

Dataset parse_records(std::istream& in, const std::string& name, const ReadOptions& options) {
  Dataset data;
  data.source = name;
  const bool auto_kind = options.kind == "auto";
  if (!auto_kind) data.kind = parse_kind(options.kind, "--data.kind");
  bool kind_known = !auto_kind;
  int64_t kind_line = 0;
  if (options.belief_ids != "auto" && options.belief_ids != "index0" &&
      options.belief_ids != "index1" && options.belief_ids != "letters")
    GDPO_THROW(UsageError, "--data.belief-ids: unknown scheme '" << options.belief_ids
                                                                  << "' (auto|index0|index1|letters)");
  std::unordered_map<std::string, int64_t> question_of;
  std::string line;
  int64_t lineno = 0;
  skip_utf8_bom(in);  // as spreadsheet programs and some editors write it
  while (std::getline(in, line)) {
    ++lineno;
    if (trim(line).empty()) continue;
    try {
      const size_t badbyte = find_invalid_utf8(line);
      if (badbyte != std::string::npos)
        bad("invalid UTF-8", "invalid UTF-8 at byte " + std::to_string(badbyte + 1));
      if (json_nesting_depth(line) > kMaxJsonDepth)
        bad("malformed JSON", "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      json rec;
      try {
        rec = json::parse(line);
      } catch (const json::exception& e) {  // syntax, and numbers past double's range (1e400)
        bad("malformed JSON", std::string("malformed JSON: ") + e.what());
      }
      if (!rec.is_object()) bad("malformed JSON", "the line is not a JSON object");

      Question q;
      q.prompt = string_field(rec, "prompt");
      q.context = optional_string(rec, "context");
      const json& opts = field(rec, "options");
      if (!opts.is_array() || opts.empty()) bad("bad options", "'options' is not a non-empty list");
      for (const auto& o : opts) {
        if (!o.is_string()) bad("bad options", "'options' holds a non-string");
        q.options.push_back(o.get<std::string>());
      }
      const json& probs = field(rec, "probabilities");
      if (!probs.is_array()) bad("bad probabilities", "'probabilities' is not a list");
      if (probs.size() != q.options.size())
        bad("probabilities of the wrong length",
            "'probabilities' has " + std::to_string(probs.size()) + " entries for " +
                std::to_string(q.options.size()) + " options");
      double sum = 0;
      for (const auto& p : probs) {
        if (!p.is_number()) bad("bad probabilities", "'probabilities' holds a non-number");
        const double v = p.get<double>();
        if (!std::isfinite(v) || v < 0)
          bad("bad probabilities", "'probabilities' holds " + std::to_string(v) +
                                       " (must be finite and >= 0)");
        q.probabilities.push_back(v);
        sum += v;
      }
      // p* is used exactly as given when it sums to 1 within the tolerance (the authors never
      // renormalise it); a sum off by more is bad data, rescaled only with --data.renormalize.
      if (!(std::fabs(sum - 1.0) <= options.tolerance)) {
        if (!options.renormalize || !(sum > 0) || !std::isfinite(sum)) {
          std::ostringstream os;
          os << "'probabilities' sum to " << sum << ", not 1 within " << options.tolerance
             << (sum > 0 ? " (use --data.renormalize to rescale)" : "");
          bad("probabilities do not sum to 1", os.str());
        }
        for (auto& v : q.probabilities) v /= sum;
      }

      const std::string accept_id = id_text(field(rec, "accept_choice_id"), "accept_choice_id");
      const std::string reject_id = id_text(field(rec, "reject_choice_id"), "reject_choice_id");
      const std::string accept_choice = optional_string(rec, "accept_choice");
      const std::string reject_choice = optional_string(rec, "reject_choice");
      if (!kind_known) {
        data.kind = accept_choice.empty() ? DatasetKind::kReview : DatasetKind::kOpinion;
        kind_known = true;
        kind_line = lineno;
      }
      if (data.kind == DatasetKind::kOpinion && (accept_choice.empty() || reject_choice.empty()))
        bad("missing field", std::string("missing field '") +
                                 (accept_choice.empty() ? "accept_choice" : "reject_choice") +
                                 "' (opinion data" +
                                 (kind_line ? ", as detected at line " + std::to_string(kind_line)
                                            : std::string()) + ")");

      Pair pair;
      pair.chosen_response = string_field(rec, "accept_response");
      pair.rejected_response = string_field(rec, "reject_response");
      pair.line = lineno;

      auto found = question_of.find(q.key());
      if (found == question_of.end()) {
        // Opinion beliefs are told apart by their texts (`{id}<{option}>`, `options_map`, the choice
        // texts); review options are not rendered and may repeat (e.g. all "").
        if (data.kind == DatasetKind::kOpinion)
          if (const auto [j, i] = first_repeat(q.options); i > 0)
            bad("duplicate options", "option '" + q.options[i] + "' is listed twice in 'options' (" +
                                         std::to_string(j + 1) + " and " + std::to_string(i + 1) + ")");
        q.belief_ids = belief_ids_of(rec, q.options, data.kind, options.belief_ids, accept_id,
                                     accept_choice, &q.explicit_ids);
        if (const auto [j, i] = first_repeat(q.belief_ids); i > 0)
          bad("bad options", "belief id '" + q.belief_ids[i] + "' is given to two options");
        q.line = lineno;
        pair.question = static_cast<int64_t>(data.questions.size());
        pair.chosen = belief_index(q, accept_id, accept_choice, "accept_choice_id", "accept_choice");
        pair.rejected = belief_index(q, reject_id, reject_choice, "reject_choice_id", "reject_choice");
        question_of.emplace(q.key(), pair.question);
        data.questions.push_back(std::move(q));
      } else {
        // The same context, prompt and options: the same question, which must have the same p*.
        const Question& first = data.questions[found->second];
        if (first.probabilities != q.probabilities)
          bad("question disagrees with an earlier line",
              "'probabilities' differ from those of the same question (context, prompt and options) "
              "at line " + std::to_string(first.line));
        pair.question = found->second;
        pair.chosen = belief_index(first, accept_id, accept_choice, "accept_choice_id", "accept_choice");
        pair.rejected =
            belief_index(first, reject_id, reject_choice, "reject_choice_id", "reject_choice");
      }
      if (options.rejected_own_belief && pair.chosen == pair.rejected)
        bad("rejected belief is the chosen one",
            "reject_choice_id '" + reject_id + "' is the accept_choice_id: a DPO pair's rejected "
            "response carries its own belief, which must differ from the chosen one");
      for (const char* key : {"question", "style", "selections", "answers"}) {
        auto it = rec.find(key);
        if (it != rec.end() && !it->is_null()) pair.extra[key] = *it;
      }
      data.pairs.push_back(std::move(pair));
    } catch (const BadLine& b) {
      data.skipped.skip_or_throw(options.skip_invalid, b.reason, name + ":" + std::to_string(lineno),
                                 b.message);
    } catch (const json::exception& e) {  // any other value the checks above let through
      data.skipped.skip_or_throw(options.skip_invalid, "bad JSON value",
                                 name + ":" + std::to_string(lineno),
                                 std::string("unexpected JSON value: ") + e.what());
    }
  }
  if (in.bad()) throw InputError(name + ": read error");
  return data;
}

Dataset read_records(const std::string& path, const ReadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open for reading");
  return parse_records(in, path, options);
}

namespace {
json id_json(const std::string& id) {
  if (is_integer_text(id)) return std::stoll(id);
  return id;
}
}  // namespace

json to_record(const Dataset& data, const Pair& pair) {
  const Question& q = data.questions.at(pair.question);
  json r = json::object();
  if (pair.extra.contains("question")) r["question"] = pair.extra["question"];
  r["prompt"] = q.prompt;
  if (!q.context.empty()) r["context"] = q.context;
  r["options"] = q.options;
  r["probabilities"] = q.probabilities;
  r["accept_choice_id"] = id_json(q.belief_ids[pair.chosen]);
  if (data.kind == DatasetKind::kOpinion) r["accept_choice"] = q.options[pair.chosen];
  r["accept_response"] = pair.chosen_response;
  r["reject_choice_id"] = id_json(q.belief_ids[pair.rejected]);
  if (data.kind == DatasetKind::kOpinion) r["reject_choice"] = q.options[pair.rejected];
  r["reject_response"] = pair.rejected_response;
  if (q.explicit_ids) {
    json m = json::object();
    for (size_t k = 0; k < q.options.size(); ++k) m[q.options[k]] = id_json(q.belief_ids[k]);
    r["options_map"] = m;
  }
  for (const auto& [key, value] : pair.extra.items())
    if (key != "question") r[key] = value;
  return r;
}

void write_records(const std::string& path, const Dataset& data) {
  std::string out;
  for (const auto& p : data.pairs) {
    out += to_record(data, p).dump(-1, ' ', false, json::error_handler_t::strict);
    out += '\n';
  }
  io::write_file_atomic(path, out);
}

std::string render_prompt(const Question& q) { return q.context + "<Q>" + q.prompt + "<A>"; }

std::string render_belief(DatasetKind kind, const Question& q, int64_t belief) {
  if (kind == DatasetKind::kReview) return q.belief_ids.at(belief);
  return q.belief_ids.at(belief) + "<" + q.options.at(belief) + ">";
}

RenderedPair render_pair(const Dataset& data, const Pair& pair, PairMode mode) {
  const Question& q = data.questions.at(pair.question);
  RenderedPair r;
  r.prompt = render_prompt(q);
  r.chosen_belief = render_belief(data.kind, q, pair.chosen);
  r.chosen_response = pair.chosen_response;
  r.rejected_belief =
      mode == PairMode::kGdpo ? r.chosen_belief : render_belief(data.kind, q, pair.rejected);
  r.rejected_response = pair.rejected_response;
  return r;
}

}  // namespace gdpo::data
