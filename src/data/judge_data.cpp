#include "gdpo/data/judge_data.hpp"

#include <set>
#include <tuple>

#include "gdpo/core/error.hpp"

namespace gdpo::data {

Question judge_question(const Question& q, const std::string& response, int64_t belief) {
  GDPO_CHECK(belief >= 0 && belief < static_cast<int64_t>(q.options.size()),
             "judge_question: belief " << belief);
  Question j = q;
  j.prompt = q.prompt;
  for (size_t k = 0; k < q.options.size(); ++k)
    j.prompt += "<O>" + q.belief_ids[k] + "<" + q.options[k] + ">";
  j.prompt += "<R>" + response;
  j.probabilities.assign(q.options.size(), 0.0);
  j.probabilities[belief] = 1.0;
  j.line = q.line;
  return j;
}

Dataset make_judge_data(const Dataset& data) {
  Dataset out;
  out.kind = data.kind;
  out.source = data.source;
  std::set<std::tuple<int64_t, int64_t, std::string>> seen;
  for (const Pair& p : data.pairs) {
    const Question& q = data.questions[p.question];
    const auto k = static_cast<int64_t>(q.options.size());
    for (const auto& [belief, response] :
         {std::pair<int64_t, const std::string&>{p.chosen, p.chosen_response},
          std::pair<int64_t, const std::string&>{p.rejected, p.rejected_response}}) {
      if (response.empty()) {
        out.skipped.add("empty response");
        continue;
      }
      if (!seen.insert({p.question, belief, response}).second) continue;
      Pair j;
      j.question = static_cast<int64_t>(out.questions.size());
      j.chosen = belief;
      j.rejected = (belief + 1) % k;
      j.line = p.line;
      out.questions.push_back(judge_question(q, response, belief));
      out.pairs.push_back(std::move(j));
    }
  }
  return out;
}

}  // namespace gdpo::data
