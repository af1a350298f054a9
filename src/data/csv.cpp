#include "gdpo/data/csv.hpp"

#include "gdpo/core/error.hpp"
#include "gdpo/data/text.hpp"

namespace gdpo::data {

int CsvReader::get() {
  const int c = in_.get();
  if (c == '\n') ++line_, column_ = 1;
  else if (c != EOF) ++column_;
  return c;
}

bool CsvReader::next(CsvRecord& record) {
  record.fields.clear();
  if (!started_) {
    started_ = true;
    skip_utf8_bom(in_);
  }
  if (in_.peek() == EOF) return false;
  record.line = line_;
  for (;;) {  // one field per iteration
    CsvField f;
    f.line = line_;
    f.column = column_;
    int c = get();
    if (c == '"') {
      f.line = line_;
      f.column = column_;
      const int64_t open_line = line_;
      for (;;) {
        c = get();
        if (c == EOF)
          GDPO_THROW(InputError, name_ << ":" << open_line << ": unterminated quoted CSV field");
        if (c == '"') {
          if (in_.peek() == '"') {
            get();
            f.text += '"';
            continue;
          }
          c = get();
          break;
        }
        f.text += static_cast<char>(c);
      }
      if (c == '\r' && in_.peek() == '\n') c = get();
      if (c != ',' && c != '\n' && c != EOF)
        GDPO_THROW(InputError, name_ << ":" << line_ << ":" << column_ - 1
                                     << ": text after a closing quote in a CSV field");
    } else {
      while (c != ',' && c != '\n' && c != EOF) {
        f.text += static_cast<char>(c);
        c = get();
      }
      if (!f.text.empty() && f.text.back() == '\r' && c != ',') f.text.pop_back();
    }
    record.fields.push_back(std::move(f));
    if (c != ',') return true;
  }
}

}  // namespace gdpo::data
