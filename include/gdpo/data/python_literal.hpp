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
// their key order; keys must be strings or numbers (numbers become their text). Strings come out as
// UTF-8: a UTF-16 surrogate pair written as two escapes (\ud83d\ude00, or with \U00000000 forms) is
// one character (U+1F600), as JSON reads it; a lone surrogate escape, high or low, cannot be UTF-8
// and is an error at its backslash. Throws InputError "file:line:column: ..." on a syntax error.
nlohmann::ordered_json parse_python_literal(std::string_view text, const std::string& file,
                                            int64_t line = 1, int64_t column = 1);

}  // namespace gdpo::data
