#include "gdpo/io/ini_file.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gdpo/core/error.hpp"

namespace gdpo::io {

namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace

const IniEntry* IniSection::find(std::string_view key) const {
  for (const auto& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

IniFile IniFile::read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) GDPO_THROW(InputError, path << ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) GDPO_THROW(InputError, path << ": read error");
  return parse(text.str(), path);
}

IniFile IniFile::parse(std::string_view text, const std::string& path) {
  IniFile ini;
  ini.path_ = path;
  size_t current = 0;  // index into sections_; the nameless section is created on first use
  bool have_current = false;
  auto open_section = [&](const std::string& name, int64_t line) {
    for (size_t i = 0; i < ini.sections_.size(); ++i)
      if (ini.sections_[i].name == name) {
        current = i;
        have_current = true;
        return;
      }
    ini.sections_.push_back(IniSection{name, line, {}});
    current = ini.sections_.size() - 1;
    have_current = true;
  };

  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      const std::string_view name = line.back() == ']' ? trim(line.substr(1, line.size() - 2))
                                                       : std::string_view();
      if (line.back() != ']' || name.empty() || name.find_first_of("[]") != std::string_view::npos)
        GDPO_THROW(InputError, ini.where(line_no) << ": malformed section header '" << line
                                                  << "' (expected [name])");
      open_section(std::string(name), line_no);
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      GDPO_THROW(InputError, ini.where(line_no) << ": expected '[section]' or 'key = value', got '"
                                                << line << "'");
    IniEntry e;
    e.key = std::string(trim(line.substr(0, eq)));
    e.value = std::string(trim(line.substr(eq + 1)));
    e.line = line_no;
    if (e.key.empty()) GDPO_THROW(InputError, ini.where(line_no) << ": a value without a key");
    if (!have_current) open_section("", 0);
    IniSection& s = ini.sections_[current];
    e.section = s.name;
    if (const IniEntry* first = s.find(e.key))
      GDPO_THROW(InputError, ini.where(line_no) << ": " << e.name()
                                                << " is given twice (first at line " << first->line
                                                << ")");
    s.entries.push_back(std::move(e));
  }
  return ini;
}

const IniSection* IniFile::section(std::string_view name) const {
  for (const auto& s : sections_)
    if (s.name == name) return &s;
  return nullptr;
}

std::string IniFile::where(int64_t line) const { return path_ + ":" + std::to_string(line); }

int64_t IniFile::integer(const IniEntry& e) const {
  const char* begin = e.value.c_str();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(begin, &end, 10);
  const bool out_of_range = errno == ERANGE;
  if (e.value.empty() || end != begin + e.value.size() || out_of_range)
    GDPO_THROW(InputError, where(e.line) << ": " << e.name() << ": '" << e.value
                                         << "' is not an integer"
                                         << (out_of_range ? " in the 64-bit range" : ""));
  return static_cast<int64_t>(v);
}

double IniFile::number(const IniEntry& e) const {
  const char* begin = e.value.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  if (e.value.empty() || end != begin + e.value.size() || (errno == ERANGE && std::isinf(v)))
    GDPO_THROW(InputError, where(e.line) << ": " << e.name() << ": '" << e.value
                                         << "' is not a number");
  return v;
}

bool IniFile::boolean(const IniEntry& e) const {
  const std::string v = lower(e.value);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  GDPO_THROW(InputError, where(e.line) << ": " << e.name() << ": '" << e.value
                                       << "' is not a boolean (true/false, yes/no, on/off, 1/0)");
}

}  // namespace gdpo::io
