// A shorthand shared by the evaluation tests: parsing a generated opinion response.
#pragma once
#include <string>

#include "gdpo/eval/generation_parse.hpp"

namespace gdpo::eval::fixture {

// parse_generation(text) of an opinion response, "{belief_id}<{belief_text}>{text}".
inline ParsedGeneration opinion(const std::string& text) {
  return parse_generation(text, ResponseFormat::kOpinion);
}

}  // namespace gdpo::eval::fixture
