// A CSV reader (RFC 4180: comma-separated, fields optionally double-quoted with "" escapes and
// newlines inside quotes) that remembers where each record and field starts, for error messages. A
// UTF-8 byte-order mark at the start (as spreadsheet programs write it) is skipped.
#pragma once
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace gdpo::data {

struct CsvField {
  std::string text;
  int64_t line = 0;    // 1-based line where the field's text starts
  int64_t column = 0;  // 1-based column (bytes) where the field's text starts (after the quote)
};

struct CsvRecord {
  int64_t line = 0;  // 1-based first line of the record
  std::vector<CsvField> fields;
};

class CsvReader {
 public:
  CsvReader(std::istream& in, std::string name) : in_(in), name_(std::move(name)) {}
  // The next record; false at the end. Throws InputError "file:line: ..." on an unterminated quote
  // or text after a closing quote. The first call skips a byte-order mark (columns count after it).
  bool next(CsvRecord& record);

 private:
  int get();
  std::istream& in_;
  std::string name_;
  int64_t line_ = 1, column_ = 1;
  bool started_ = false;
};

}  // namespace gdpo::data
