// Careless and hostile input to the commands, by class, each fed generated variants: non-finite
// numbers in every number option, config paths that are not files, an --eval.metric typo, output
// paths that cannot be written, a run whose loss becomes non-finite. Each must end with the README's
// exit code and a message naming the option or the step, before any work where the input is wrong.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <regex>

#include "app/train_fixture.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/loss/loss_config.hpp"
#include "gdpo/train/train_config.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

namespace fs = std::filesystem;

// The options of `command` whose default is a number, from its --help.
std::vector<std::string> number_options(const std::string& command) {
  auto r = run_app(command + " --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> names;
  static const std::regex line(R"((--[a-z0-9.-]+) arg \(=(-?[0-9][0-9.e+-]*)\))");
  for (std::sregex_iterator it(r.output.begin(), r.output.end(), line), end; it != end; ++it)
    names.push_back((*it)[1].str());
  return names;
}

// The minimum each command needs to get past its required options to the value checks.
struct Command {
  std::string name;
  std::string base;
};

std::vector<Command> commands(const TempDir& dir) {
  const std::string run = "'" + dir.file("run") + "'", out = "'" + dir.file("out.h5") + "'";
  return {{"train", "--model.config tiny-gpt2 --data.train /nonexistent.jsonl --train.run-dir " + run},
          {"generate", "--model.config tiny-gpt2 --data.test /nonexistent.jsonl --generate.output " + out},
          {"evaluate", "--model.config tiny-gpt2 --data.test /nonexistent.jsonl --evaluate.output " + out},
          {"data synthetic", "--data.output '" + dir.file("d.jsonl") + "'"}};
}

// Every number option of every command refuses NaN, infinities and overflowing values with exit
// code 2 and a message naming the option (integer options too), before doing anything.
TEST(CarelessInput, EveryNumberOptionRefusesNonFiniteValues) {
  TempDir dir;
  int checked = 0;
  for (const auto& [command, base] : commands(dir)) {
    const auto names = number_options(command);
    EXPECT_GE(names.size(), 3u) << command;
    for (const auto& option : names)
      for (const char* value : {"nan", "-nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e999"}) {
        auto r = run_app(command + " " + base + " " + option + " " + value);
        EXPECT_EQ(r.exit_code, 2) << command << " " << option << " " << value << "\n" << r.output;
        EXPECT_NE(r.output.find(option), std::string::npos)
            << command << " " << option << " " << value << "\n" << r.output;
        ++checked;
      }
  }
  EXPECT_GT(checked, 200);
  EXPECT_FALSE(fs::exists(dir.file("run")));
}

// No number option of `gdpo train` means anything when negative: -1 is refused for each.
TEST(CarelessInput, EveryTrainNumberOptionRefusesNegativeValues) {
  TempDir dir;
  const auto base = commands(dir)[0].base;
  for (const auto& option : number_options("train")) {
    auto r = run_app("train " + base + " " + option + " -1");
    EXPECT_EQ(r.exit_code, 2) << option << "\n" << r.output;
    EXPECT_NE(r.output.find(option), std::string::npos) << option << "\n" << r.output;
  }
}

// --config must name a regular file: a folder (read as an empty INI before), a FIFO (open would
// block), a missing path, for every command.
TEST(CarelessInput, ConfigFilesMustBeRegularFiles) {
  TempDir dir;
  fs::create_directory(dir.file("folder"));
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  for (const auto& [command, base] : commands(dir))
    for (const auto& bad : {dir.file("folder"), dir.file("fifo"), dir.file("missing.ini")}) {
      auto r = run_app(command + " " + base + " --config '" + bad + "'");
      EXPECT_EQ(r.exit_code, 2) << command << " " << bad << "\n" << r.output;
      EXPECT_NE(r.output.find("--config '" + bad + "'"), std::string::npos) << r.output;
    }
}

// A misspelt --eval.metric (generated from every real name) is refused with the options: exit 2
// naming the option, and nothing is written (the run directory is not even created).
TEST(CarelessInput, AnEvalMetricTypoIsRefusedBeforeAnyWork) {
  TempDir dir;
  write_synthetic_data(dir.file("pairs.jsonl"));
  for (auto type : {loss::LossType::kGdpo, loss::LossType::kSft}) {
    loss::LossConfig config;
    config.type = type;
    const auto names = train::eval_metric_names(config);
    int checked = 0;
    for (const auto& name : names) {
      std::vector<std::string> typos = {name.substr(0, name.size() - 1), name + "s", "eval." + name,
                                        std::regex_replace(name, std::regex("\\."), "_")};
      std::string upper = name;
      upper[0] = static_cast<char>(std::toupper(upper[0]));
      typos.push_back(upper);
      for (const auto& typo : typos) {
        if (names.count(typo)) continue;
        const std::string run = dir.file("typo");
        auto r = run_app(train_args(dir.file("pairs.jsonl"), run,
                                    "--loss.type " + std::string(loss::loss_type_name(type)) +
                                        " --eval.metric " + typo));
        EXPECT_EQ(r.exit_code, 2) << typo << "\n" << r.output;
        EXPECT_NE(r.output.find("--eval.metric '" + typo + "'"), std::string::npos) << r.output;
        EXPECT_FALSE(fs::exists(run)) << typo;
        ++checked;
      }
    }
    EXPECT_GT(checked, 10);
  }
  // A metric of another objective: SFT has no rewards.
  auto r = run_app(train_args(dir.file("pairs.jsonl"), dir.file("sft"),
                              "--loss.type sft --eval.metric rewards.accuracy"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

// Output paths that cannot be written are usage errors naming the option, before any work: a file
// where a folder must be, a folder where a file must be, a missing folder, a path under a file.
TEST(CarelessInput, UnwritableOutputPathsAreUsageErrorsNamingTheOption) {
  TempDir dir;
  write_file(dir.file("a-file"), "x");
  fs::create_directory(dir.file("a-folder"));
  const std::string file = dir.file("a-file"), folder = dir.file("a-folder");
  struct Case {
    std::string command, option;
    std::vector<std::string> bad;
  };
  const std::vector<Case> cases = {
      {"train --model.config tiny-gpt2 --data.train /nonexistent.jsonl", "--train.run-dir",
       {file, file + "/run", file + "/deeper/run"}},
      {"train --model.config tiny-gpt2 --data.train /nonexistent.jsonl --train.run-dir '" +
           dir.file("r") + "'",
       "--data.cache-dir", {file, file + "/cache"}},
      {"data synthetic", "--data.output",
       {folder, dir.file("missing/d.jsonl"), file + "/d.jsonl"}},
      {"generate --model.config tiny-gpt2 --data.test /nonexistent.jsonl", "--generate.output",
       {folder, dir.file("missing/g.h5"), file + "/g.h5"}},
      {"evaluate --model.config tiny-gpt2 --data.test /nonexistent.jsonl", "--evaluate.output",
       {folder, dir.file("missing/e.h5"), file + "/e.h5"}},
  };
  for (const auto& c : cases)
    for (const auto& bad : c.bad) {
      auto r = run_app(c.command + " " + c.option + " '" + bad + "'");
      EXPECT_EQ(r.exit_code, 2) << c.option << " " << bad << "\n" << r.output;
      EXPECT_NE(r.output.find(c.option + " '" + bad + "'"), std::string::npos) << r.output;
    }
}

// Learning rates that blow the weights up: the first step whose loss or gradient is not finite
// stops the run (exit 1, the step named) before the optimizer applies it; `latest` and `best`
// still name finite checkpoints, no model is exported, no NaN is anyone's best.
TEST(CarelessInput, ANonFiniteStepStopsTheRunAndKeepsTheLastGoodCheckpoint) {
  TempDir dir;
  write_synthetic_data(dir.file("pairs.jsonl"));
  for (const char* lr : {"1e10", "1e20", "1e30"}) {
    const std::string run = dir.file(std::string("lr") + lr);
    auto r = run_app(train_args(dir.file("pairs.jsonl"), run,
                                std::string("--train.max-steps 6 --train.lr ") + lr));
    EXPECT_EQ(r.exit_code, 1) << lr << "\n" << r.output;
    EXPECT_TRUE(std::regex_search(r.output, std::regex("step [0-9]+: the (loss|gradient norm) is "
                                                       "not finite")))
        << r.output;
    EXPECT_FALSE(fs::exists(fs::path(run) / "summary.json"));
    EXPECT_FALSE(fs::exists(fs::path(run) / "model"));
    for (const char* pointer : {"latest", "best"}) {
      std::string name = read_file((fs::path(run) / pointer).string());
      name.pop_back();  // "\n"
      const std::string checkpoint = (fs::path(run) / "checkpoints" / name).string();
      for (const auto& [tensor, values] : read_group(checkpoint, "policy"))
        EXPECT_TRUE(torch::isfinite(values).all().item<bool>()) << checkpoint << " " << tensor;
      EXPECT_TRUE(std::isfinite(io::H5File::open_read(checkpoint).double_attr("/", "best_metric")))
          << checkpoint;
    }
  }
}

// `data stats` reads pairs for either use: with --data.mode dpo a pair whose rejected belief is the
// chosen one is refused (exit 3, file:line) or skipped with --data.skip-invalid, as `train --loss.type
// dpo` refuses it; by default such pairs are counted on stderr and the table is printed.
TEST(CarelessInput, DataStatsRefusesEqualBeliefsForDpoAndCountsThemOtherwise) {
  TempDir dir;
  int n = 0;
  for (size_t k = 2; k <= 4; ++k)
    for (size_t b = 0; b < k; ++b)
      for (size_t line = 1; line <= 3; ++line) {
        std::string text;
        for (size_t i = 1; i <= 3; ++i)
          text += (i == line ? opinion_record(k, b, b) : opinion_record(k, 0, 1)) + "\n";
        const std::string file = dir.file("pairs_train.jsonl");
        write_file(file, text);
        SCOPED_TRACE(text);
        auto dpo = run_app("data stats --data.mode dpo '" + file + "'");
        EXPECT_EQ(dpo.exit_code, 3) << dpo.output;
        EXPECT_NE(dpo.output.find(file + ":" + std::to_string(line) + ": "), std::string::npos)
            << dpo.output;
        auto skip = run_app("data stats --data.mode dpo --data.skip-invalid '" + file + "'");
        EXPECT_EQ(skip.exit_code, 0) << skip.output;
        EXPECT_NE(skip.output.find("rejected belief is the chosen one"), std::string::npos)
            << skip.output;
        auto gdpo = run_app("data stats '" + file + "'");
        EXPECT_EQ(gdpo.exit_code, 0) << gdpo.output;
        EXPECT_NE(gdpo.output.find(file + ": 1 of 3 pairs reject the chosen belief"),
                  std::string::npos)
            << gdpo.output;
        auto train = run_app(train_args(file, dir.file("run"), "--loss.type dpo --train.max-steps 1"));
        EXPECT_EQ(train.exit_code, 3) << train.output;
        EXPECT_NE(train.output.find(file + ":" + std::to_string(line) + ": "), std::string::npos)
            << train.output;
        ++n;
      }
  EXPECT_EQ(n, 3 * (2 + 3 + 4));
}

// A Global Opinion QA row whose k values sum to `sum`.
std::string goqa_csv(size_t k, double sum) {
  std::ostringstream os;
  os << std::setprecision(17)
     << "question,selections,options,source\n\"Q?\",\"defaultdict(<class 'list'>, {'United States': [";
  for (size_t i = 0; i < k; ++i) os << (i ? ", " : "") << sum / static_cast<double>(k);
  os << "]})\",\"[";
  for (size_t i = 0; i < k; ++i) os << (i ? ", " : "") << "'opt" << i << "'";
  os << "]\",GAS\n";
  return os.str();
}

// `data build-opinion --data.tolerance` bounds |sum - 1| of a country's values: within it the row is
// rescaled, beyond it the row is refused naming the CSV line (exit 3); a negative or non-finite
// tolerance is a usage error naming the option.
TEST(CarelessInput, BuildOpinionTakesItsSumToleranceAsAnOption) {
  TempDir dir;
  const std::string csv = dir.file("goqa.csv"), out = dir.file("out.jsonl");
  int n = 0;
  for (size_t k : {2u, 4u, 7u})
    for (double off : {0.01, 0.04, 0.1, 0.3, 0.6})
      for (double sign : {-1.0, 1.0})
        for (double tolerance : {0.0, 0.02, 0.05, 0.2, 0.5}) {
          write_file(csv, goqa_csv(k, 1 + sign * off));
          const std::string args = "data build-opinion '" + csv + "' --data.output '" + out +
                                   "' --data.tolerance " + std::to_string(tolerance);
          SCOPED_TRACE(args + " sum " + std::to_string(1 + sign * off));
          auto r = run_app(args);
          if (off <= tolerance) {
            EXPECT_EQ(r.exit_code, 0) << r.output;
          } else {
            EXPECT_EQ(r.exit_code, 3) << r.output;
            EXPECT_NE(r.output.find(csv + ":2"), std::string::npos) << r.output;
            EXPECT_NE(r.output.find("not 1 within"), std::string::npos) << r.output;
          }
          ++n;
        }
  EXPECT_EQ(n, 3 * 5 * 2 * 5);
  write_file(csv, goqa_csv(3, 1));
  for (const char* bad : {"-0.1", "nan", "inf"}) {
    auto r = run_app("data build-opinion '" + csv + "' --data.output '" + out +
                     "' --data.tolerance " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
    EXPECT_NE(r.output.find("--data.tolerance"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace gdpo::test
