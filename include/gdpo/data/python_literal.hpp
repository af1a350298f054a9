// A small parser for the Python literals found in Global Opinion QA's columns: numbers, strings
// (single/double quoted, escapes, adjacent literals), lists, tuples, dicts, True/False/None, nan/inf
// and `defaultdict(<class 'list'>, {...})` (read as its dict). Errors name the file, line and column.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace gdpo::data {

// Parses `text`, which starts at line `line`, column `column` of `file` (for messages). Dicts keep
// their key order; keys must be strings or numbers (numbers become their text). Throws InputError
// "file:line:column: ..." on a syntax error.
nlohmann::ordered_json parse_python_literal(std::string_view text, const std::string& file,
                                            int64_t line = 1, int64_t column = 1);

}  // namespace gdpo::data
