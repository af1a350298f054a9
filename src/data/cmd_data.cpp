// `gdpo data <build-opinion|build-reviews|synthetic|split|stats|show|tokenize>`: build preference
// data from the raw public sources or synthetically, split it by question, print Table 1 statistics,
// show rendered pairs, and tokenize into the cache.
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "gdpo/cli/options.hpp"
#include "gdpo/cli/subcommand.hpp"
#include "gdpo/core/error.hpp"
#include "gdpo/data/data_options.hpp"
#include "gdpo/data/opinion_builder.hpp"
#include "gdpo/data/record.hpp"
#include "gdpo/data/review_builder.hpp"
#include "gdpo/data/split.hpp"
#include "gdpo/data/stats.hpp"
#include "gdpo/data/synthetic.hpp"
#include "gdpo/data/tokenized.hpp"
#include "gdpo/tokenizer/tokenizer.hpp"

namespace gdpo::data {
namespace {

namespace fs = std::filesystem;

// Options every writing subcommand shares.
struct OutputOptions {
  std::string output;
  bool split_output = false;
  std::string split = "0.8,0.1,0.1";
  int64_t seed = 0;
  void add_to(cli::OptionSet& set) {
    set.group("data")
        .required("output", &output, "output JSONL file")
        .flag("split-output", &split_output,
              "write OUTPUT's stem + _train/_eval/_test instead, split by question")
        .add("split", &split, "train,eval[,test] ratios by question")
        .add("seed", &seed, "seed of the builder and the split");
    set.validate([this] { parse_split_ratios(split, "--data.split"); });
  }
};

std::string with_split(const std::string& path, int split) {
  fs::path p(path);
  const std::string ext = p.has_extension() ? p.extension().string() : ".jsonl";
  return (p.parent_path() / (p.stem().string() + "_" + split_name(split) + ext)).string();
}

void report(const Dataset& d, std::ostream& out) {
  if (d.skipped.total()) out << "  " << d.skipped.summary() << "\n";
  if (d.notes.total()) out << "  " << d.notes.summary("noted") << "\n";
}

void write_output(const Dataset& d, const OutputOptions& o) {
  if (d.pairs.empty()) GDPO_THROW(InputError, d.source << ": no pairs were built" << (d.skipped.total() ? "; " + d.skipped.summary() : ""));
  if (!o.split_output) {
    write_records(o.output, d);
    std::cout << "wrote " << d.pairs.size() << " pairs of " << d.questions.size() << " questions to "
              << o.output << "\n";
  } else {
    const auto parts = split_dataset(d, parse_split_ratios(o.split, "--data.split"),
                                     static_cast<uint64_t>(o.seed));
    for (int s = 0; s < 3; ++s) {
      if (parts[s].questions.empty()) continue;
      write_records(with_split(o.output, s), parts[s]);
      std::cout << "wrote " << parts[s].pairs.size() << " pairs of " << parts[s].questions.size()
                << " questions to " << with_split(o.output, s) << "\n";
    }
  }
  report(d, std::cout);
}

int build_opinion_cmd(const std::vector<std::string>& args) {
  cli::OptionSet set("gdpo data build-opinion",
                     "preference pairs from Global Opinion QA (CSV or JSON lines)");
  std::string input;
  OpinionBuildConfig c;
  OutputOptions out;
  bool skip_invalid = false;
  set.group("data")
      .required("input", &input, "Global Opinion QA file (CSV or JSON lines)")
      .add("country", &c.country, "the group whose answer distribution is p*")
      .add("option-map", &c.option_map, "JSON {option: 0-5 belief}; empty maps options by position")
      .add("belief-ids", &c.belief_ids, "positional ids: index0 | letters")
      .add("answers", &c.answers, "JSONL answer texts {question, option|belief, text|texts}; "
                                  "empty: built-in templates")
      .add("pairs-per-question", &c.pairs_per_question, "pairs built per question")
      .flag("skip-invalid", &skip_invalid, "skip bad rows (counted) instead of failing");
  set.positional("data.input", 1);
  out.add_to(set);
  if (!set.parse(args)) return 0;
  c.seed = static_cast<uint64_t>(out.seed);
  c.skip_invalid = skip_invalid;
  write_output(build_opinion(input, c), out);
  return 0;
}

int build_reviews_cmd(const std::vector<std::string>& args) {
  cli::OptionSet set("gdpo data build-reviews",
                     "preference pairs from Amazon movie reviews (SNAP movies.txt or JSON lines)");
  std::vector<std::string> inputs;
  ReviewBuildConfig c;
  OutputOptions out;
  bool skip_invalid = false;
  set.group("data")
      .add("input", &inputs, "review files (repeatable)")
      .add("min-reviews", &c.min_reviews, "skip movies with fewer reviews")
      .add("pairs-per-question", &c.pairs_per_question, "max pairs per movie (0: one per review)")
      .flag("skip-invalid", &skip_invalid, "skip bad records (counted) instead of failing");
  set.positional("data.input", -1);
  out.add_to(set);
  if (!set.parse(args)) return 0;
  if (inputs.empty()) GDPO_THROW(UsageError, "gdpo data build-reviews: give review files");
  c.seed = static_cast<uint64_t>(out.seed);
  c.skip_invalid = skip_invalid;
  write_output(build_reviews(inputs, c), out);
  return 0;
}

int synthetic_cmd(const std::vector<std::string>& args) {
  cli::OptionSet set("gdpo data synthetic", "synthetic controllable-opinion pairs with known p*");
  SyntheticConfig c;
  OutputOptions out;
  std::string probs;
  set.group("data")
      .add("questions", &c.questions, "number of questions")
      .add("beliefs", &c.beliefs, "K beliefs per question (2..10)")
      .add("pairs-per-question", &c.pairs_per_question, "pairs per question")
      .add("alpha", &c.alpha, "Dirichlet concentration of p*")
      .add("probabilities", &probs, "fixed p* for every question, e.g. 0.6,0.3,0.1 (empty: Dirichlet)");
  out.add_to(set);
  if (!set.parse(args)) return 0;
  std::stringstream ss(probs);
  for (std::string item; std::getline(ss, item, ',');) {
    char* end = nullptr;
    c.probabilities.push_back(std::strtod(item.c_str(), &end));
    if (item.empty() || *end != '\0')
      GDPO_THROW(UsageError, "--data.probabilities: '" << item << "' is not a number");
  }
  c.seed = static_cast<uint64_t>(out.seed);
  write_output(make_synthetic(c), out);
  return 0;
}

int split_cmd(const std::vector<std::string>& args) {
  cli::OptionSet set("gdpo data split", "split a JSONL file into train/eval/test by question");
  std::string input;
  DataOptions d;
  OutputOptions out;
  set.group("data").required("input", &input, "JSONL file in the published schema");
  set.group("data")
      .add("kind", &d.kind, "opinion | review | auto")
      .flag("skip-invalid", &d.skip_invalid, "skip bad lines (counted) instead of failing")
      .flag("renormalize", &d.renormalize, "rescale p* that does not sum to 1");
  set.positional("data.input", 1);
  out.add_to(set);
  if (!set.parse(args)) return 0;
  out.split_output = true;
  write_output(read_records(input, d.read_options()), out);
  return 0;
}

int stats_cmd(const std::vector<std::string>& args) {
  cli::OptionSet set("gdpo data stats",
                     "Table 1 statistics of JSONL files (split from the file names: *_train, "
                     "*_eval, *_test; a file without one is split with --data.split)");
  std::vector<std::string> files;
  DataOptions d;
  d.split = "0.8,0.1,0.1";
  set.group("data")
      .add("files", &files, "JSONL files")
      .add("kind", &d.kind, "opinion | review | auto")
      .add("split", &d.split, "ratios for files without a split in their name")
      .add("seed", &d.seed, "seed of that split")
      .flag("skip-invalid", &d.skip_invalid, "skip bad lines (counted) instead of failing")
      .flag("renormalize", &d.renormalize, "rescale p* that does not sum to 1");
  set.positional("data.files", -1);
  if (!set.parse(args)) return 0;
  if (files.empty()) GDPO_THROW(UsageError, "gdpo data stats: give JSONL files");
  std::vector<DatasetStats> rows;
  std::map<std::string, size_t> row_of;
  for (const auto& f : files) {
    const auto [name, split] = dataset_name_and_split(f);
    auto it = row_of.emplace(name, rows.size()).first;
    if (it->second == rows.size()) rows.push_back(DatasetStats{name});
    const Dataset data = read_records(f, d.read_options());
    if (data.skipped.total()) std::cerr << f << ": " << data.skipped.summary() << "\n";
    if (split >= 0) {
      accumulate_stats(rows[it->second], data, split);
    } else {
      const auto parts = split_dataset(data, parse_split_ratios(d.split, "--data.split"),
                                       static_cast<uint64_t>(d.seed));
      for (int s = 0; s < 3; ++s) accumulate_stats(rows[it->second], parts[s], s);
    }
  }
  std::cout << format_stats_table(rows);
  return 0;
}

int show_cmd(const std::vector<std::string>& args) {
  cli::OptionSet set("gdpo data show", "print the rendered texts of the first pairs of a file");
  std::string input;
  DataOptions d;
  int64_t count = 3;
  set.group("data")
      .required("input", &input, "JSONL file")
      .add("kind", &d.kind, "opinion | review | auto")
      .add("mode", &d.mode, "gdpo | dpo")
      .add("count", &count, "pairs to show");
  set.positional("data.input", 1);
  if (!set.parse(args)) return 0;
  const Dataset data = read_records(input, d.read_options());
  const PairMode mode = parse_mode(d.mode, "--data.mode");
  std::cout << input << ": " << kind_name(data.kind) << " data, " << data.questions.size()
            << " questions, " << data.pairs.size() << " pairs (" << mode_name(mode) << ")\n";
  for (int64_t i = 0; i < count && i < static_cast<int64_t>(data.pairs.size()); ++i) {
    const auto r = render_pair(data, data.pairs[i], mode);
    std::cout << "--- pair " << i << " (line " << data.pairs[i].line << ")\nprompt:   " << r.prompt
              << "\nchosen:   " << r.chosen() << "\nrejected: " << r.rejected() << "\n";
  }
  return 0;
}

int tokenize_cmd(const std::vector<std::string>& args) {
  cli::OptionSet set("gdpo data tokenize", "tokenize data files into the token cache");
  DataOptions d;
  std::string tokenizer_path = "bytes";
  d.add_to(set);
  set.group("tokenizer").add("path", &tokenizer_path, "tokenizer directory/file, or 'bytes'");
  set.positional("data.train", -1);
  if (!set.parse(args)) return 0;
  const auto tok = tokenizer::load_tokenizer(tokenizer_path);
  const LoadedData data = load_data(d, *tok, &std::cout);
  for (const auto* part : {&data.train, &data.eval}) {
    if (part->pairs() == 0) continue;
    int64_t longest = 0, total = 0;
    for (int32_t n : part->row_length) longest = std::max<int64_t>(longest, n), total += n;
    std::cout << (part == &data.train ? "train" : "eval") << ": " << part->pairs() << " pairs, "
              << part->questions() << " questions, " << total << " tokens, longest row " << longest
              << "\n";
  }
  return 0;
}

const std::map<std::string, std::pair<int (*)(const std::vector<std::string>&), const char*>>&
actions() {
  static const std::map<std::string, std::pair<int (*)(const std::vector<std::string>&), const char*>> a = {
      {"build-opinion", {build_opinion_cmd, "pairs from Global Opinion QA"}},
      {"build-reviews", {build_reviews_cmd, "pairs from Amazon movie reviews"}},
      {"synthetic", {synthetic_cmd, "synthetic pairs with known p*"}},
      {"split", {split_cmd, "split a file by question into train/eval/test"}},
      {"stats", {stats_cmd, "Table 1 statistics"}},
      {"show", {show_cmd, "print rendered pairs"}},
      {"tokenize", {tokenize_cmd, "tokenize into the cache"}},
  };
  return a;
}

int run_data(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::ostream& out = args.empty() ? std::cerr : std::cout;
    out << "gdpo data: build, split, inspect and tokenize preference data\n\nusage: gdpo data "
           "<action> [options]    gdpo data <action> --help\n\nactions:\n";
    for (const auto& [name, a] : actions())
      out << "  " << name << std::string(16 - name.size(), ' ') << a.second << "\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  auto it = actions().find(args[0]);
  if (it == actions().end())
    GDPO_THROW(UsageError, "unknown action '" << args[0] << "' (see 'gdpo data --help')");
  return it->second.first(std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace
}  // namespace gdpo::data

GDPO_SUBCOMMAND("data", "Build, split, inspect and tokenize preference data", gdpo::data::run_data);
