// Command-line and INI options for every command: Boost.Program_options groups with dotted names
// (`--train.lr`, `[train] lr = ...`) bound to the fields of the library's typed config structs.
// Precedence: command line > later --config files > earlier ones > defaults. Every mistake becomes
// a gdpo::UsageError (exit code 2) naming the option and the file. Only the app layer includes this.
#pragma once
#include <boost/program_options.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "gdpo/core/error.hpp"

namespace gdpo::app {

namespace po = boost::program_options;

// The options of one subcommand, organised in named groups. Each option is bound to a variable that
// holds the parsed value after parse(); the bound variable's current value is its default.
class OptionSet {
 public:
  // Options of one group; each key becomes "<group>.<key>".
  class Group {
   public:
    // An option with a default (the variable's current value).
    template <class T>
    Group& add(const std::string& key, T* target, const std::string& help);
    // An option that must be given (no default).
    template <class T>
    Group& required(const std::string& key, T* target, const std::string& help);
    // A boolean option: `--g.key` alone means true; `--g.key=false`, `--g.key false` and
    // `key = false` in INI work too. A token after `--g.key` that is not a boolean word
    // (true/false, on/off, yes/no, 1/0) is not its value: `--g.key FILE` leaves FILE positional.
    Group& flag(const std::string& key, bool* target, const std::string& help);
    // An enum option given by name: `choices` maps each accepted text to its value; anything else
    // is a UsageError listing them. The help and the effective configuration show the name.
    template <class E>
    Group& choice(const std::string& key, E* target, std::vector<std::pair<std::string, E>> choices,
                  const std::string& help);
    // An option written as text and stored as a T: `parse` turns the text into the value (throwing
    // gdpo::UsageError naming "--<group>.<key>", its argument), `print` the value back into text.
    template <class T>
    Group& parsed(const std::string& key, T* target,
                  std::function<T(const std::string& text, const std::string& option)> parse,
                  std::function<std::string(const T&)> print, const std::string& help);

   private:
    friend class OptionSet;
    Group(OptionSet* owner, std::string name) : owner_(owner), name_(std::move(name)) {}
    OptionSet* owner_;
    std::string name_;
  };

  // `program` is e.g. "gdpo train"; `summary` is one line shown by --help.
  OptionSet(std::string program, std::string summary);

  // A group named `name` ("train", "model", ...), created on first use.
  Group group(const std::string& name, const std::string& caption = "");

  // Free (positional) arguments bound to an option, e.g. `gdpo inspect PATH` -> "inspect.path".
  // max_count -1 means any number (bind a std::vector<std::string>).
  void positional(const std::string& full_name, int max_count);

  // A check run after parsing (in the order added, after every choice option has its value);
  // throw gdpo::UsageError naming the option when it fails.
  void validate(std::function<void()> check);

  // Parses argv (after the subcommand name). Returns false when --help was given (help is printed).
  bool parse(const std::vector<std::string>& args);

  // The effective configuration as INI text (every option of every group, with its final value).
  std::string effective_config() const;

  // True when `full_name` ("train.lr") was given on the command line or in a config file.
  bool given(const std::string& full_name) const;

  // --help text: summary, usage and every option with its default.
  std::string help() const;

  const std::vector<std::string>& config_files() const { return config_files_; }
  const std::string& program() const { return program_; }

 private:
  struct Entry {
    std::string group;
    std::string name;                    // full dotted name
    std::function<std::string()> print;  // current value as text
  };
  po::options_description& description(const std::string& group, const std::string& caption);
  void add_entry(const std::string& group, const std::string& name,
                 std::function<std::string()> print);
  // Every number option must be finite: "nan", "inf" and overflowing values ("1e400" reads as inf)
  // are UsageErrors naming the option, before any command-specific check.
  void require_finite(const std::string& name, const double* target);
  void require_finite(const std::string& name, const float* target);

  std::string program_;
  std::string summary_;
  std::vector<std::pair<std::string, std::unique_ptr<po::options_description>>> groups_;
  std::vector<Entry> entries_;
  po::positional_options_description positional_;
  std::vector<std::string> positional_names_;
  std::vector<std::function<void()>> conversions_;  // choice options: text -> enum
  std::vector<std::function<void()>> checks_;
  std::deque<std::string> parsed_texts_;  // the bound text of each parsed option (stable addresses)
  std::vector<std::string> config_files_;
  std::set<std::string> flags_;  // full names of the flag() options
  po::variables_map vm_;
};

// Text form of an option value, as written back to the effective INI configuration.
std::string option_value_text(const std::string& v);
std::string option_value_text(bool v);
std::string option_value_text(double v);
std::string option_value_text(const std::vector<std::string>& v);
template <class T>
std::string option_value_text(const T& v) {
  return std::to_string(v);
}

template <class T>
OptionSet::Group& OptionSet::Group::add(const std::string& key, T* target,
                                        const std::string& help) {
  const std::string name = name_ + "." + key;
  auto* sem = po::value<T>(target);
  if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    sem->default_value(*target, option_value_text(*target))->composing();
  } else {
    sem->default_value(*target, option_value_text(*target));
  }
  owner_->description(name_, "").add_options()(name.c_str(), sem, help.c_str());
  owner_->add_entry(name_, name, [target] { return option_value_text(*target); });
  if constexpr (std::is_floating_point_v<T>) owner_->require_finite(name, target);
  return *this;
}

template <class T>
OptionSet::Group& OptionSet::Group::required(const std::string& key, T* target,
                                             const std::string& help) {
  const std::string name = name_ + "." + key;
  owner_->description(name_, "").add_options()(name.c_str(), po::value<T>(target)->required(),
                                               help.c_str());
  owner_->add_entry(name_, name, [target] { return option_value_text(*target); });
  if constexpr (std::is_floating_point_v<T>) owner_->require_finite(name, target);
  return *this;
}

template <class T>
OptionSet::Group& OptionSet::Group::parsed(
    const std::string& key, T* target,
    std::function<T(const std::string& text, const std::string& option)> parse,
    std::function<std::string(const T&)> print, const std::string& help) {
  const std::string name = name_ + "." + key;
  std::string& text = owner_->parsed_texts_.emplace_back(print(*target));
  owner_->description(name_, "").add_options()(
      name.c_str(), po::value<std::string>(&text)->default_value(text), help.c_str());
  owner_->add_entry(name_, name, [target, print] { return print(*target); });
  owner_->conversions_.push_back(
      [name, target, &text, parse] { *target = parse(text, "--" + name); });
  return *this;
}

template <class E>
OptionSet::Group& OptionSet::Group::choice(const std::string& key, E* target,
                                           std::vector<std::pair<std::string, E>> choices,
                                           const std::string& help) {
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : " | ") + c.first;
  auto parse = [choices, list](const std::string& text, const std::string& option) {
    for (const auto& [t, v] : choices)
      if (t == text) return v;
    throw UsageError(option + " must be one of " + list + "; got '" + text + "'");
  };
  auto print = [choices](const E& value) {
    for (const auto& [t, v] : choices)
      if (v == value) return t;
    return std::string("?");
  };
  return parsed<E>(key, target, parse, print, help + " (" + list + ")");
}

}  // namespace gdpo::app
