#include "gdpo/data/opinion_builder.hpp"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "gdpo/core/error.hpp"
#include "gdpo/data/csv.hpp"
#include "gdpo/data/python_literal.hpp"
#include "gdpo/data/random.hpp"
#include "gdpo/data/text.hpp"

namespace gdpo::data {

using json = nlohmann::ordered_json;

const char* const kAnswerStyles[3] = {"formal", "casual", "first-person"};

std::string template_answer(const std::string& style, const std::string& option) {
  if (style == "formal") return "My answer is: " + option + ".";
  if (style == "casual") return "Honestly? " + option + ", for sure.";
  if (style == "first-person") return "I would say " + option + ".";
  GDPO_THROW(UsageError, "unknown answer style '" << style << "' (formal|casual|first-person)");
}

namespace {

struct BadRow {
  std::string reason, message;
};

// One input row: the three columns with where each starts.
struct RawRow {
  int64_t line = 0;
  std::string question;
  json selections, options;
};

// A column of a JSON line: a Python literal in a string (parsed; its errors name the column and the
// position in the literal), or the value itself.
json literal_column(const json& v, const char* name) {
  if (!v.is_string()) return v;
  try {
    return parse_python_literal(v.get_ref<const std::string&>(), std::string("'") + name + "'", 1, 1);
  } catch (const InputError& e) {
    throw BadRow{"malformed rows", e.what()};
  }
}

// One JSON line, parsed: BadRow when it is not valid UTF-8, nests too deep, or does not parse
// (including numbers past double's range, which nlohmann reports as out_of_range).
json parse_json_line(const std::string& line) {
  if (find_invalid_utf8(line) != std::string::npos) throw BadRow{"invalid UTF-8", "invalid UTF-8"};
  if (json_nesting_depth(line) > kMaxJsonDepth)
    throw BadRow{"malformed JSON",
                 "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  try {
    return json::parse(line);
  } catch (const json::exception& e) {
    throw BadRow{"malformed JSON", std::string("malformed JSON: ") + e.what()};
  }
}

std::vector<RawRow> read_rows(const std::string& path, bool skip_invalid, SkipCounts& skipped) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open for reading");
  std::vector<RawRow> rows;
  const int first = first_non_blank(in);  // leaves `in` after a byte-order mark
  auto handle = [&](int64_t line, auto&& fn) {
    try {
      fn();
    } catch (const InputError& e) {
      if (!skip_invalid) throw;
      skipped.add("malformed rows");
    } catch (const BadRow& b) {
      skipped.skip_or_throw(skip_invalid, b.reason, path + ":" + std::to_string(line), b.message);
    } catch (const json::exception& e) {
      skipped.skip_or_throw(skip_invalid, "malformed rows", path + ":" + std::to_string(line),
                            std::string("unexpected JSON value: ") + e.what());
    }
  };
  if (first == '{') {  // JSON lines
    std::string line;
    int64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (trim(line).empty()) continue;
      handle(n, [&] {
        const json j = parse_json_line(line);
        for (const char* key : {"question", "selections", "options"})
          if (!j.is_object() || !j.contains(key))
            throw BadRow{"missing field", std::string("missing field '") + key + "'"};
        if (!j["question"].is_string()) throw BadRow{"wrong field type", "'question' is not a string"};
        RawRow r;
        r.line = n;
        r.question = j["question"].get<std::string>();
        r.selections = literal_column(j["selections"], "selections");
        r.options = literal_column(j["options"], "options");
        rows.push_back(std::move(r));
      });
    }
    return rows;
  }
  CsvReader csv(in, path);
  CsvRecord rec;
  std::map<std::string, size_t> col;
  bool header = true;
  while (csv.next(rec)) {
    if (header) {
      for (size_t i = 0; i < rec.fields.size(); ++i) {
        const std::string name(trim(rec.fields[i].text));
        if (!col.emplace(name, i).second)
          GDPO_THROW(InputError, path << ":" << rec.line << ": the CSV header names column '" << name
                                      << "' twice");
      }
      for (const char* key : {"question", "selections", "options"})
        if (!col.count(key))
          GDPO_THROW(InputError, path << ":" << rec.line << ": the CSV header has no column '" << key
                                      << "'");
      header = false;
      continue;
    }
    if (rec.fields.size() == 1 && trim(rec.fields[0].text).empty()) continue;  // blank line
    handle(rec.line, [&] {
      if (rec.fields.size() != col.size())
        throw BadRow{"malformed rows", "the row has " + std::to_string(rec.fields.size()) +
                                           " fields, the header " + std::to_string(col.size())};
      for (const auto& f : rec.fields) {
        const size_t bad = find_invalid_utf8(f.text);
        if (bad != std::string::npos) throw BadRow{"invalid UTF-8", "invalid UTF-8 in a field"};
      }
      const auto& sel = rec.fields[col["selections"]];
      const auto& opt = rec.fields[col["options"]];
      RawRow r;
      r.line = rec.line;
      r.question = rec.fields[col["question"]].text;
      r.selections = parse_python_literal(sel.text, path, sel.line, sel.column);
      r.options = parse_python_literal(opt.text, path, opt.line, opt.column);
      rows.push_back(std::move(r));
    });
  }
  return rows;
}

std::map<std::string, int64_t> read_option_map(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the option map");
  skip_utf8_bom(in);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {  // syntax, and numbers past double's range
    throw InputError(path + ": malformed JSON: " + e.what());
  }
  if (!j.is_object()) throw InputError(path + ": the option map is not a JSON object");
  std::map<std::string, int64_t> m;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_number_integer() ||
        (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)))
      throw InputError(path + ": option '" + k + "' maps to " +
                       (v.is_primitive() ? v.dump() : std::string("a JSON ") + v.type_name()) +
                       ", not an integer");
    m[k] = v.get<int64_t>();
  }
  return m;
}

// (question, option text or belief id) -> answer texts.
using Answers = std::unordered_map<std::string, std::vector<std::string>>;
std::string answer_key(const std::string& question, const std::string& option) {
  return question + '\x1f' + option;
}

Answers read_answers(const std::string& path, bool skip_invalid, SkipCounts& skipped) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the answers file");
  skip_utf8_bom(in);
  Answers answers;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (trim(line).empty()) continue;
    try {
      const json j = parse_json_line(line);
      if (!j.is_object() || !j.contains("question") || !j["question"].is_string())
        throw BadRow{"bad answers", "missing field 'question'"};
      std::string option;
      if (j.contains("option") && j["option"].is_string()) option = j["option"].get<std::string>();
      else if (j.contains("belief") && j["belief"].is_number_integer()) option = std::to_string(j["belief"].get<int64_t>());
      else if (j.contains("belief") && j["belief"].is_string()) option = j["belief"].get<std::string>();
      else throw BadRow{"bad answers", "missing field 'option' (or 'belief')"};
      std::vector<std::string> texts;
      if (j.contains("text") && j["text"].is_string()) texts.push_back(j["text"].get<std::string>());
      if (j.contains("texts") && j["texts"].is_array())
        for (const auto& t : j["texts"]) {
          if (!t.is_string()) throw BadRow{"bad answers", "'texts' holds a non-string"};
          texts.push_back(t.get<std::string>());
        }
      if (texts.empty()) throw BadRow{"bad answers", "missing field 'text' (or 'texts')"};
      auto& dst = answers[answer_key(j["question"].get<std::string>(), option)];
      dst.insert(dst.end(), texts.begin(), texts.end());
    } catch (const BadRow& b) {
      skipped.skip_or_throw(skip_invalid, b.reason == "bad answers" ? b.reason : "bad answers (" + b.reason + ")",
                            path + ":" + std::to_string(n), b.message);
    } catch (const json::exception& e) {
      skipped.skip_or_throw(skip_invalid, "bad answers", path + ":" + std::to_string(n),
                            std::string("unexpected JSON value: ") + e.what());
    }
  }
  return answers;
}

}  // namespace

Dataset build_opinion(const std::string& input_path, const OpinionBuildConfig& c) {
  if (c.pairs_per_question < 1) GDPO_THROW(UsageError, "--data.pairs-per-question: must be >= 1");
  if (c.belief_ids != "index0" && c.belief_ids != "letters")
    GDPO_THROW(UsageError, "--data.belief-ids: '" << c.belief_ids << "' (index0|letters for building)");
  if (!(c.tolerance >= 0)) GDPO_THROW(UsageError, "--data.tolerance: must be >= 0");
  Dataset data;
  data.kind = DatasetKind::kOpinion;
  data.source = input_path;
  const auto option_map = c.option_map.empty() ? std::map<std::string, int64_t>{}
                                               : read_option_map(c.option_map);
  const Answers answers =
      c.answers.empty() ? Answers{} : read_answers(c.answers, c.skip_invalid, data.skipped);
  Rng rng(c.seed);
  std::unordered_map<std::string, int64_t> seen;  // Question::key() -> index in data.questions

  for (const RawRow& row : read_rows(input_path, c.skip_invalid, data.skipped)) {
    try {
      if (!row.selections.is_object())
        throw BadRow{"malformed rows", "'selections' is not a dict of countries"};
      if (!row.options.is_array() || row.options.empty())
        throw BadRow{"malformed rows", "'options' is not a non-empty list"};
      auto it = row.selections.find(c.country);
      if (it == row.selections.end()) {
        data.skipped.add("questions without " + c.country);
        continue;
      }
      if (!it->is_array()) throw BadRow{"malformed rows", "the selections of " + c.country + " are not a list"};
      std::vector<std::string> options;
      std::unordered_map<std::string, size_t> position;  // option text -> 1-based position
      for (const auto& o : row.options) {
        if (!o.is_string()) throw BadRow{"malformed rows", "'options' holds a non-string"};
        options.push_back(o.get<std::string>());
        // An option is named by its text in the records (`{id}<{option}>`, accept_choice): it must
        // be there, and tell the option apart.
        if (options.back().empty()) throw BadRow{"bad options", "'options' holds an empty text"};
        if (auto [at, fresh] = position.emplace(options.back(), options.size()); !fresh)
          throw BadRow{"duplicate options", "option '" + options.back() + "' is listed twice (" +
                                                std::to_string(at->second) + " and " +
                                                std::to_string(options.size()) + ")"};
      }
      if (it->size() != options.size())
        throw BadRow{"probabilities of the wrong length",
                     c.country + " has " + std::to_string(it->size()) + " probabilities for " +
                         std::to_string(options.size()) + " options"};
      std::vector<double> p;
      double sum = 0;
      for (const auto& v : *it) {
        const double x = v.is_number() ? v.get<double>() : NAN;
        if (!std::isfinite(x) || x < 0)
          throw BadRow{"bad probabilities", c.country + " has a probability that is negative, NaN, "
                                                        "infinite or not a number"};
        p.push_back(x);
        sum += x;
      }
      // Rounded survey values sum to about 1; they are rescaled to sum to 1 exactly. A sum far from
      // 1 is not rounding: the row is bad.
      if (!(std::fabs(sum - 1.0) <= c.tolerance)) {
        std::ostringstream os;
        os << c.country << "'s probabilities sum to " << sum << ", not 1 within " << c.tolerance;
        throw BadRow{"probabilities do not sum to 1", os.str()};
      }

      Question q;
      q.prompt = row.question;
      q.line = row.line;
      std::vector<std::vector<std::string>> members;  // original options of each belief
      if (option_map.empty()) {
        for (size_t k = 0; k < options.size(); ++k) {
          q.options.push_back(options[k]);
          q.belief_ids.push_back(c.belief_ids == "letters" ? std::string(1, char('A' + k))
                                                           : std::to_string(k));
          q.probabilities.push_back(p[k] / sum);
          members.push_back({options[k]});
        }
        if (c.belief_ids == "letters" && options.size() > 26)
          throw BadRow{"too many options", "more than 26 options for letter ids"};
      } else {
        std::map<int64_t, size_t> belief_of_value;  // sorted by scale value
        for (size_t k = 0; k < options.size(); ++k) {
          auto m = option_map.find(options[k]);
          if (m == option_map.end())
            throw BadRow{"options missing from the option map",
                         "option '" + options[k] + "' is not in the option map " + c.option_map};
          belief_of_value.emplace(m->second, 0);
        }
        for (auto& [value, idx] : belief_of_value) {
          idx = q.options.size();
          q.options.emplace_back();
          q.belief_ids.push_back(std::to_string(value));
          q.probabilities.push_back(0);
          members.emplace_back();
        }
        for (size_t k = 0; k < options.size(); ++k) {
          const size_t b = belief_of_value[option_map.at(options[k])];
          q.options[b] += (q.options[b].empty() ? "" : " / ") + options[k];
          q.probabilities[b] += p[k] / sum;
          members[b].push_back(options[k]);
        }
        q.explicit_ids = true;
        // Joined texts can collide only when an option's text holds " / " itself.
        std::unordered_map<std::string, size_t> merged;
        for (size_t b = 0; b < q.options.size(); ++b)
          if (!merged.emplace(q.options[b], b).second)
            throw BadRow{"duplicate options", "the beliefs " + q.belief_ids[merged[q.options[b]]] +
                                                  " and " + q.belief_ids[b] + " both read '" +
                                                  q.options[b] + "'"};
      }
      const int64_t K = static_cast<int64_t>(q.options.size());
      if (K < 2) {
        data.skipped.add("questions with fewer than 2 beliefs");
        continue;
      }
      // One question = one text with one option set (as the record reader groups them). The same text
      // with other options is another question; an exact repeat is merged when it agrees.
      if (auto [dup, fresh] = seen.emplace(q.key(), static_cast<int64_t>(data.questions.size()));
          !fresh) {
        const Question& earlier = data.questions[dup->second];
        if (earlier.probabilities != q.probabilities)
          throw BadRow{"repeated questions that disagree",
                       "the question and its options repeat the one at line " +
                           std::to_string(earlier.line) + " with other values for " + c.country};
        data.notes.add("repeated questions merged");
        continue;
      }
      const int64_t qi = static_cast<int64_t>(data.questions.size());
      auto answer = [&](int64_t b, std::string* style) {
        for (const std::string& key : members[b]) {
          auto a = answers.find(answer_key(q.prompt, key));
          if (a != answers.end()) {
            *style = "answers";
            return a->second[rng.below(static_cast<int64_t>(a->second.size()))];
          }
        }
        auto a = answers.find(answer_key(q.prompt, q.belief_ids[b]));
        if (a != answers.end()) {
          *style = "answers";
          return a->second[rng.below(static_cast<int64_t>(a->second.size()))];
        }
        data.notes.add("answers from templates");
        *style = kAnswerStyles[rng.below(3)];
        return template_answer(*style, members[b][rng.below(static_cast<int64_t>(members[b].size()))]);
      };
      for (int64_t n = 0; n < c.pairs_per_question; ++n) {
        Pair pair;
        pair.question = qi;
        pair.line = row.line;
        pair.chosen = rng.categorical(q.probabilities);
        pair.rejected = rng.below(K - 1);
        if (pair.rejected >= pair.chosen) ++pair.rejected;
        std::string style_c, style_r;
        pair.chosen_response = answer(pair.chosen, &style_c);
        pair.rejected_response = answer(pair.rejected, &style_r);
        pair.extra["style"] = style_c;
        data.pairs.push_back(std::move(pair));
      }
      data.questions.push_back(std::move(q));
    } catch (const BadRow& b) {
      data.skipped.skip_or_throw(c.skip_invalid, b.reason,
                                 input_path + ":" + std::to_string(row.line), b.message);
    }
  }
  return data;
}

}  // namespace gdpo::data
