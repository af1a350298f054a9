#include "gdpo/eval/test_rows.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/data/majority.hpp"

namespace gdpo::eval {

int64_t TestRow::majority() const { return data::majority_belief(pstar.begin(), pstar.end()); }

std::vector<TestRow> make_test_rows(const data::Dataset& test, const tokenizer::Tokenizer& tok,
                                    int64_t max_prompt_tokens) {
  const size_t n_questions = test.questions.size();
  std::vector<int64_t> last_pair(n_questions, -1);
  for (size_t i = 0; i < test.pairs.size(); ++i)
    last_pair[test.pairs[i].question] = static_cast<int64_t>(i);

  std::vector<TestRow> rows;
  for (size_t qi = 0; qi < n_questions; ++qi) {
    if (last_pair[qi] < 0) continue;
    const data::Question& q = test.questions[qi];
    const std::string where = test.source + (q.line > 0 ? ":" + std::to_string(q.line) : "");
    TestRow row;
    row.question = static_cast<int64_t>(qi);
    row.prompt = data::render_prompt(q);
    row.prompt_ids = tok.encode(row.prompt);
    if (max_prompt_tokens > 0 && static_cast<int64_t>(row.prompt_ids.size()) > max_prompt_tokens)
      GDPO_THROW(InputError, where << ": the prompt has " << row.prompt_ids.size()
                                   << " tokens, more than the " << max_prompt_tokens
                                   << " the model's positions leave for it");
    if (row.prompt_ids.empty()) GDPO_THROW(InputError, where << ": the prompt is empty");
    const size_t k_count = q.belief_ids.size();
    for (size_t k = 0; k < k_count; ++k) {
      const auto ids = tok.encode(q.belief_ids[k]);
      if (ids.size() != 1)
        GDPO_THROW(InputError, where << ": belief id '" << q.belief_ids[k] << "' encodes to "
                                     << ids.size() << " tokens with tokenizer " << tok.name()
                                     << "; every belief id must be a single token");
      row.belief_tokens.push_back(ids[0]);
    }
    row.belief_ids = q.belief_ids;
    row.options = q.options;
    row.pstar = q.probabilities;
    row.reference_belief = test.pairs[last_pair[qi]].chosen;
    row.source = q;
    row.reference_answers.assign(k_count, "");
    rows.push_back(std::move(row));
  }
  // Reference answers: a record's `answers` (one per option) first, else chosen responses.
  std::vector<int64_t> row_of(n_questions, -1);
  for (size_t r = 0; r < rows.size(); ++r) row_of[rows[r].question] = static_cast<int64_t>(r);
  std::vector<std::vector<bool>> from_answers(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) from_answers[r].assign(rows[r].options.size(), false);
  for (const data::Pair& p : test.pairs) {
    TestRow& row = rows[row_of[p.question]];
    auto& fixed = from_answers[row_of[p.question]];
    const auto it = p.extra.find("answers");
    if (it != p.extra.end() && it->is_array() && it->size() == row.options.size()) {
      for (size_t k = 0; k < row.options.size(); ++k)
        if (!fixed[k] && (*it)[k].is_string() && !(*it)[k].get<std::string>().empty()) {
          row.reference_answers[k] = (*it)[k].get<std::string>();
          fixed[k] = true;
        }
    }
    if (!fixed[p.chosen] && row.reference_answers[p.chosen].empty())
      row.reference_answers[p.chosen] = p.chosen_response;
  }
  return rows;
}

}  // namespace gdpo::eval
