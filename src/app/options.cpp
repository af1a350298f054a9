#include "gdpo/app/options.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/core/format.hpp"

namespace gdpo::app {

namespace {

// Every group name any gdpo command uses. A shared INI file (configs/paper/*.ini) may hold groups
// that the running command does not have: those are skipped; a group no command has is an error.
const std::set<std::string>& known_groups() {
  static const std::set<std::string> groups = {"model", "tokenizer", "data",  "train", "loss",
                                               "eval",  "dist",      "log",   "bench", "inspect"};
  return groups;
}

std::string group_of(const std::string& name) {
  auto dot = name.find('.');
  return dot == std::string::npos ? std::string() : name.substr(0, dot);
}

}  // namespace

std::string option_value_text(const std::string& v) { return v; }
std::string option_value_text(bool v) { return v ? "true" : "false"; }
std::string option_value_text(double v) { return shortest_text(v); }
std::string option_value_text(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
  return out;
}

OptionSet::OptionSet(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {
  auto& generic = description("", "General");
  generic.add_options()("help,h", "print this help and exit")(
      "config", po::value<std::vector<std::string>>()->composing(),
      "INI file with options (repeatable; later files override earlier ones, the command line "
      "overrides all)");
}

po::options_description& OptionSet::description(const std::string& group,
                                                const std::string& caption) {
  for (auto& [name, desc] : groups_)
    if (name == group) return *desc;
  std::string title = caption.empty() ? (group.empty() ? "General" : "[" + group + "]") : caption;
  groups_.emplace_back(group, std::make_unique<po::options_description>(title, 100, 50));
  return *groups_.back().second;
}

void OptionSet::add_entry(const std::string& group, const std::string& name,
                          std::function<std::string()> print) {
  entries_.push_back({group, name, std::move(print)});
}

OptionSet::Group OptionSet::group(const std::string& name, const std::string& caption) {
  GDPO_CHECK(!name.empty() && name.find('.') == std::string::npos,
             "bad option group name '" << name << "'");
  description(name, caption);
  return Group(this, name);
}

OptionSet::Group& OptionSet::Group::flag(const std::string& key, bool* target,
                                         const std::string& help) {
  const std::string name = name_ + "." + key;
  owner_->description(name_, "").add_options()(
      name.c_str(),
      po::value<bool>(target)->default_value(*target, option_value_text(*target))
          ->implicit_value(true, "true"),
      help.c_str());
  owner_->add_entry(name_, name, [target] { return option_value_text(*target); });
  owner_->flags_.insert(name);
  return *this;
}

void OptionSet::require_finite(const std::string& name, const double* target) {
  conversions_.push_back([name, target] {
    if (!std::isfinite(*target))
      throw UsageError("--" + name + " must be a finite number, got " + shortest_text(*target));
  });
}

void OptionSet::require_finite(const std::string& name, const float* target) {
  conversions_.push_back([name, target] {
    if (!std::isfinite(*target))
      throw UsageError("--" + name + " must be a finite number, got " + shortest_text(*target));
  });
}

void OptionSet::positional(const std::string& full_name, int max_count) {
  positional_.add(full_name.c_str(), max_count);
  positional_names_.push_back(full_name);
}

void OptionSet::validate(std::function<void()> check) { checks_.push_back(std::move(check)); }

bool OptionSet::parse(const std::vector<std::string>& args) {
  po::options_description all;
  for (auto& [name, desc] : groups_) all.add(*desc);
  const std::string hint = " (see '" + program_ + " --help')";

  // Boost gives a flag the next token as its value whatever it is (`--data.skip-invalid FILE`
  // would make FILE the flag's argument): only a boolean word is a flag's separate value.
  static const std::set<std::string> kBoolWords = {"true", "false", "on",  "off",
                                                   "yes",  "no",    "1",   "0"};
  std::vector<std::string> line = args;
  for (size_t i = 0; i + 1 < line.size(); ++i)
    if (line[i].rfind("--", 0) == 0 && flags_.count(line[i].substr(2)) &&
        !kBoolWords.count(line[i + 1]))
      line[i] += "=true";
  try {
    po::store(po::command_line_parser(line).options(all).positional(positional_).run(), vm_);
  } catch (const po::error& e) {
    throw UsageError(program_ + ": " + e.what() + hint);
  }
  if (vm_.count("help")) {
    std::cout << help();
    return false;
  }

  if (vm_.count("config")) config_files_ = vm_["config"].as<std::vector<std::string>>();
  std::set<std::string> own_groups;
  for (auto& [name, desc] : groups_) own_groups.insert(name);
  // Later files win: store them first (po::store never overwrites a value already stored).
  for (auto it = config_files_.rbegin(); it != config_files_.rend(); ++it) {
    const std::string& path = *it;
    // A folder opens as an empty stream and a FIFO blocks: only regular files are config files.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      throw UsageError(program_ + ": --config '" + path + "' is " +
                       (std::filesystem::exists(path, ec) ? "not a regular file" : "missing"));
    std::ifstream in(path);
    if (!in) throw UsageError(program_ + ": cannot read config file '" + path + "'");
    po::parsed_options parsed(&all);
    try {
      parsed = po::parse_config_file(in, all, /*allow_unregistered=*/true);
    } catch (const po::error& e) {
      throw UsageError(program_ + ": config file '" + path + "': " + e.what());
    }
    for (const auto& opt : parsed.options) {
      if (!opt.unregistered) continue;
      const std::string group = group_of(opt.string_key);
      if (own_groups.count(group))
        throw UsageError(program_ + ": config file '" + path + "': unknown option '" +
                         opt.string_key + "'" + hint);
      if (!known_groups().count(group))
        throw UsageError(program_ + ": config file '" + path + "': unknown section '[" + group +
                         "]' (option '" + opt.string_key + "')");
    }
    if (std::find_if(parsed.options.begin(), parsed.options.end(), [](const po::option& o) {
          return o.string_key == "config";
        }) != parsed.options.end())
      throw UsageError(program_ + ": config file '" + path + "': 'config' cannot be nested");
    try {
      po::store(parsed, vm_);
    } catch (const po::error& e) {
      throw UsageError(program_ + ": config file '" + path + "': " + e.what());
    }
  }

  try {
    po::notify(vm_);
  } catch (const po::error& e) {
    throw UsageError(program_ + ": " + e.what() + hint);
  }
  for (auto& convert : conversions_) convert();
  for (auto& check : checks_) check();
  return true;
}

bool OptionSet::given(const std::string& full_name) const {
  auto it = vm_.find(full_name);
  return it != vm_.end() && !it->second.defaulted();
}

std::string OptionSet::effective_config() const {
  std::ostringstream out;
  out << "# effective configuration of '" << program_ << "'\n";
  std::string current = "\x01";
  for (auto& [name, desc] : groups_) {
    if (name.empty()) continue;
    bool header = false;
    for (const auto& e : entries_) {
      if (e.group != name) continue;
      if (!header) {
        out << "\n[" << name << "]\n";
        header = true;
      }
      const std::string key = e.name.substr(name.size() + 1);
      std::string value = e.print();
      // Lists are written one `key = item` line per item, which INI parsing composes back.
      auto bound = vm_.find(e.name);
      bool is_list = bound != vm_.end() && !bound->second.empty() &&
                     bound->second.value().type() == typeid(std::vector<std::string>);
      if (is_list) {
        for (const auto& item : bound->second.as<std::vector<std::string>>())
          out << key << " = " << item << "\n";
      } else {
        out << key << " = " << value << "\n";
      }
    }
  }
  return out.str();
}

std::string OptionSet::help() const {
  std::ostringstream out;
  out << program_ << ": " << summary_ << "\n\nusage: " << program_ << " [options]";
  for (const auto& p : positional_names_) out << " <" << p << ">";
  out << "\n\n";
  for (auto& [name, desc] : groups_) out << *desc << "\n";
  return out.str();
}

}  // namespace gdpo::app
