// A small INI reader for gdpo's own config files (configs/models/*.ini): `[section]` headers and
// `key = value` lines kept in file order, each with its line, so that a caller names file:line of a
// bad value. No Boost; the command-line parser (gdpo/cli/options.hpp) reads --config files itself.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gdpo::io {

// One `key = value` line; key and value are trimmed (the value may be empty).
struct IniEntry {
  std::string section;  // "" before the first header
  std::string key;
  std::string value;
  int64_t line = 0;
  // "section.key", or "key" outside any section.
  std::string name() const { return section.empty() ? key : section + "." + key; }
};

// A section and its entries in file order. Entries before the first header form a section named ""
// (line 0); a header given twice continues the first section.
struct IniSection {
  std::string name;
  int64_t line = 0;  // of the `[name]` header
  std::vector<IniEntry> entries;
  // The entry with this key, or nullptr.
  const IniEntry* find(std::string_view key) const;
};

// Format: `[name]` headers, `key = value` lines, blank lines and comment lines starting with `#`
// or `;` (after leading whitespace); whitespace around names, keys and values is trimmed. Every
// error is a gdpo::InputError starting with "file:line: ".
class IniFile {
 public:
  // Reads `path`; InputError when it cannot be read, for a line that is neither a header, a
  // `key = value` line, blank nor a comment, and for a key given twice in one section.
  static IniFile read(const std::string& path);
  // The same from text; `path` names it in errors.
  static IniFile parse(std::string_view text, const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<IniSection>& sections() const { return sections_; }
  // The section with this name, or nullptr.
  const IniSection* section(std::string_view name) const;

  // "file:line".
  std::string where(int64_t line) const;
  // Typed values; InputError "file:line: section.key: 'text' is not an integer" (etc.) otherwise.
  int64_t integer(const IniEntry& e) const;  // decimal, optional sign, in range
  double number(const IniEntry& e) const;    // anything strtod reads in full, finite or not
  bool boolean(const IniEntry& e) const;     // true/false, yes/no, on/off, 1/0 (any case)

 private:
  std::string path_;
  std::vector<IniSection> sections_;
};

}  // namespace gdpo::io
