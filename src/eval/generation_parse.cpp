#include "gdpo/eval/generation_parse.hpp"

#include <algorithm>
#include <string_view>

#include "gdpo/core/error.hpp"
#include "python_text.hpp"

namespace gdpo::eval {
namespace {

// re.search(r"<.*?>", s): the leftmost '<' from which a '>' is reached without crossing '\n', up to
// that first '>'. Returns the text between the brackets.
bool first_bracketed(std::string_view s, std::string* inner) {
  for (size_t open = s.find('<'); open != std::string_view::npos; open = s.find('<', open + 1)) {
    for (size_t pos = open + 1; pos < s.size(); ++pos) {
      if (s[pos] == '\n') break;
      if (s[pos] == '>') {
        *inner = std::string(s.substr(open + 1, pos - open - 1));
        return true;
      }
    }
  }
  return false;
}

}  // namespace

ParsedGeneration parse_generation(const std::string& text, ResponseFormat format) {
  ParsedGeneration out;
  const std::string_view all(text);
  const std::string_view stripped = detail::python_strip(all);
  size_t first_len = 0;  // bytes of the first code point of `stripped`
  if (!stripped.empty()) {
    char32_t c = 0;
    first_len = detail::code_point_at(stripped, 0, &c);
    const int value = detail::python_decimal_value(c);
    if (value >= 0) {
      out.belief_id = value;
      out.parsed = true;
    }
  }
  if (format == ResponseFormat::kReview) {
    out.response =
        std::string(detail::python_strip(out.parsed ? stripped.substr(first_len) : stripped));
    return out;
  }
  out.has_text = first_bracketed(all, &out.belief_text);
  const size_t gt = all.find('>');
  if (gt != std::string_view::npos) {
    const size_t next = all.find('>', gt + 1);
    const std::string_view piece =
        all.substr(gt + 1, next == std::string_view::npos ? std::string_view::npos : next - gt - 1);
    out.response = std::string(detail::python_strip(piece));
  } else if (!all.empty()) {
    char32_t c = 0;
    out.response = std::string(all.substr(detail::code_point_at(all, 0, &c)));
  }
  return out;
}

int64_t authors_op(const ParsedGeneration& parsed) { return parsed.parsed ? parsed.belief_id : 0; }

int64_t histogram_bin(int64_t belief_id, int64_t k) {
  GDPO_CHECK(k >= 1, "histogram_bin needs k >= 1, got " << k);
  return belief_id >= 0 && belief_id < k ? belief_id : 0;
}

}  // namespace gdpo::eval

namespace gdpo::eval {

std::string stored_line(const std::string& decoded) {
  std::string line(detail::python_strip(decoded));
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}

}  // namespace gdpo::eval
