// Option parsing: INI + command-line precedence, defaults, and every error path (exit code 2).
#include "gdpo/app/options.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"
#include "support/test_support.hpp"

namespace gdpo::app {
namespace {

struct Opts {
  double lr = 5e-7;
  int warmup = 150;
  std::string name = "gpt2";
  bool bf16 = false;
  std::vector<std::string> tags;
};

void bind(OptionSet& set, Opts& o) {
  set.group("train").add("lr", &o.lr, "learning rate").add("warmup-steps", &o.warmup, "warmup")
      .flag("bf16", &o.bf16, "bf16 autocast").add("tags", &o.tags, "tags");
  set.group("model").add("name", &o.name, "model name");
}

TEST(Options, DefaultsWhenNothingIsGiven) {
  OptionSet set("gdpo t", "test");
  Opts o;
  bind(set, o);
  ASSERT_TRUE(set.parse({}));
  EXPECT_DOUBLE_EQ(o.lr, 5e-7);
  EXPECT_EQ(o.warmup, 150);
  EXPECT_EQ(o.name, "gpt2");
  EXPECT_FALSE(o.bf16);
  EXPECT_FALSE(set.given("train.lr"));
}

TEST(Options, CommandLineOverridesLaterFileOverridesEarlierFile) {
  test::TempDir dir;
  test::write_file(dir.file("a.ini"), "[train]\nlr = 1e-3\nwarmup-steps = 7\n[model]\nname = a\n");
  test::write_file(dir.file("b.ini"), "[train]\nlr = 2e-3\n");
  OptionSet set("gdpo t", "test");
  Opts o;
  bind(set, o);
  ASSERT_TRUE(set.parse({"--config", dir.file("a.ini"), "--config", dir.file("b.ini"),
                         "--model.name", "cli", "--train.bf16"}));
  EXPECT_DOUBLE_EQ(o.lr, 2e-3);  // b.ini beats a.ini
  EXPECT_EQ(o.warmup, 7);        // only a.ini sets it
  EXPECT_EQ(o.name, "cli");      // the command line beats both
  EXPECT_TRUE(o.bf16);
  EXPECT_TRUE(set.given("train.lr"));
}

TEST(Options, CommandLineBeatsFileGivenAfterIt) {
  test::TempDir dir;
  test::write_file(dir.file("a.ini"), "[train]\nlr = 1e-3\n");
  OptionSet set("gdpo t", "test");
  Opts o;
  bind(set, o);
  ASSERT_TRUE(set.parse({"--train.lr", "3e-3", "--config", dir.file("a.ini")}));
  EXPECT_DOUBLE_EQ(o.lr, 3e-3);
}

TEST(Options, EffectiveConfigReadsBackToTheSameValues) {
  test::TempDir dir;
  OptionSet set("gdpo t", "test");
  Opts o;
  bind(set, o);
  ASSERT_TRUE(set.parse({"--train.lr", "1.5e-6", "--train.tags", "x", "--train.tags", "y",
                         "--train.bf16"}));
  const std::string ini = set.effective_config();
  EXPECT_NE(ini.find("lr = 1.5e-06"), std::string::npos) << ini;
  test::write_file(dir.file("eff.ini"), ini);
  OptionSet again("gdpo t", "test");
  Opts o2;
  bind(again, o2);
  ASSERT_TRUE(again.parse({"--config", dir.file("eff.ini")}));
  EXPECT_EQ(o2.lr, o.lr);
  EXPECT_EQ(o2.tags, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(o2.bf16);
}

// Each error path: a UsageError whose message names the option (and the file).
std::string usage_error(const std::vector<std::string>& args) {
  OptionSet set("gdpo t", "test");
  Opts o;
  bind(set, o);
  int required_value = 0;
  set.group("data").required("path-count", &required_value, "required");
  set.validate([&] {
    if (o.lr <= 0) throw UsageError("--train.lr must be positive, got " + std::to_string(o.lr));
  });
  try {
    set.parse(args);
  } catch (const UsageError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  return "(no error)";
}

TEST(Options, UnknownOptionIsNamed) {
  EXPECT_NE(usage_error({"--data.path-count", "1", "--train.lrr", "1"}).find("--train.lrr"),
            std::string::npos);
}
TEST(Options, BadValueIsNamed) {
  auto msg = usage_error({"--data.path-count", "1", "--train.lr", "fast"});
  EXPECT_NE(msg.find("train.lr"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fast"), std::string::npos) << msg;
}
TEST(Options, MissingRequiredIsNamed) {
  EXPECT_NE(usage_error({}).find("data.path-count"), std::string::npos);
}
TEST(Options, FailedValidationIsReported) {
  EXPECT_NE(usage_error({"--data.path-count", "1", "--train.lr", "-1"}).find("--train.lr"),
            std::string::npos);
}
TEST(Options, MissingConfigFileIsNamed) {
  EXPECT_NE(usage_error({"--config", "/nonexistent/x.ini"}).find("/nonexistent/x.ini"),
            std::string::npos);
}
TEST(Options, UnknownKeyInConfigFileNamesFileAndKey) {
  test::TempDir dir;
  test::write_file(dir.file("c.ini"), "[train]\nlearning-rate = 1\n");
  auto msg = usage_error({"--data.path-count", "1", "--config", dir.file("c.ini")});
  EXPECT_NE(msg.find("c.ini"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.learning-rate"), std::string::npos) << msg;
}
TEST(Options, BadValueInConfigFileNamesFile) {
  test::TempDir dir;
  test::write_file(dir.file("c.ini"), "[train]\nwarmup-steps = many\n");
  auto msg = usage_error({"--data.path-count", "1", "--config", dir.file("c.ini")});
  EXPECT_NE(msg.find("c.ini"), std::string::npos) << msg;
  EXPECT_NE(msg.find("warmup-steps"), std::string::npos) << msg;
}
TEST(Options, UnknownSectionInConfigFileIsAnError) {
  test::TempDir dir;
  test::write_file(dir.file("c.ini"), "[trian]\nlr = 1\n");
  auto msg = usage_error({"--data.path-count", "1", "--config", dir.file("c.ini")});
  EXPECT_NE(msg.find("[trian]"), std::string::npos) << msg;
}
TEST(Options, SectionsNoCommandReadsAreErrors) {
  test::TempDir dir;
  for (const char* section : {"slurm", "generate", "judge", "run", "ref"}) {
    test::write_file(dir.file("c.ini"), "[" + std::string(section) + "]\nx = 1\n");
    auto msg = usage_error({"--data.path-count", "1", "--config", dir.file("c.ini")});
    EXPECT_NE(msg.find("unknown section '[" + std::string(section) + "]'"), std::string::npos)
        << msg;
  }
}

enum class Colour { kRed, kGreen };

TEST(Options, ChoiceOptionsTakeNamesAndRefuseOthers) {
  OptionSet set("gdpo t", "test");
  Colour c = Colour::kRed;
  set.group("train").choice("colour", &c, {{"red", Colour::kRed}, {"green", Colour::kGreen}},
                            "a colour");
  ASSERT_TRUE(set.parse({"--train.colour", "green"}));
  EXPECT_EQ(c, Colour::kGreen);
  EXPECT_NE(set.effective_config().find("colour = green"), std::string::npos);
  EXPECT_NE(set.help().find("red | green"), std::string::npos) << set.help();
  OptionSet bad("gdpo t", "test");
  bad.group("train").choice("colour", &c, {{"red", Colour::kRed}, {"green", Colour::kGreen}}, "");
  try {
    bad.parse({"--train.colour", "blue"});
    ADD_FAILURE() << "blue was accepted";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "--train.colour must be one of red | green; got 'blue'");
  }
}

TEST(Options, SectionsOfOtherCommandsAreSkipped) {
  test::TempDir dir;
  test::write_file(dir.file("c.ini"), "[eval]\nevery-examples = 10000\n[train]\nlr = 2\n");
  OptionSet set("gdpo t", "test");
  Opts o;
  bind(set, o);
  ASSERT_TRUE(set.parse({"--config", dir.file("c.ini")}));
  EXPECT_DOUBLE_EQ(o.lr, 2);
}

TEST(Options, HelpListsEveryOptionWithItsDefault) {
  OptionSet set("gdpo t", "test");
  Opts o;
  bind(set, o);
  const std::string help = set.help();
  EXPECT_NE(help.find("--train.lr"), std::string::npos);
  EXPECT_NE(help.find("5e-07"), std::string::npos) << help;
  EXPECT_NE(help.find("--model.name"), std::string::npos);
  EXPECT_NE(help.find("gpt2"), std::string::npos);
}

// A flag takes a separate value only when it is a boolean word; anything else after it (a file
// name, another option) is left alone, so `--train.bf16 FILE` keeps FILE positional.
TEST(Options, AFlagTakesOnlyABooleanWordAsItsSeparateValue) {
  struct Case {
    std::vector<std::string> args;
    bool bf16;
    std::vector<std::string> files;
  };
  const std::vector<Case> cases = {
      {{"--train.bf16"}, true, {}},
      {{"--train.bf16", "a.jsonl"}, true, {"a.jsonl"}},
      {{"--train.bf16", "a.jsonl", "b.jsonl"}, true, {"a.jsonl", "b.jsonl"}},
      {{"a.jsonl", "--train.bf16", "b.jsonl"}, true, {"a.jsonl", "b.jsonl"}},
      {{"--train.bf16", "false", "a.jsonl"}, false, {"a.jsonl"}},
      {{"--train.bf16", "off"}, false, {}},
      {{"--train.bf16", "no", "a.jsonl"}, false, {"a.jsonl"}},
      {{"--train.bf16", "0"}, false, {}},
      {{"--train.bf16", "yes"}, true, {}},
      {{"--train.bf16=false", "a.jsonl"}, false, {"a.jsonl"}},
      {{"--train.bf16", "--model.name", "x"}, true, {}},
  };
  for (const auto& c : cases) {
    OptionSet set("gdpo t", "test");
    Opts o;
    std::vector<std::string> files;
    bind(set, o);
    set.group("data").add("files", &files, "files");
    set.positional("data.files", -1);
    ASSERT_TRUE(set.parse(c.args));
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    EXPECT_EQ(o.bf16, c.bf16) << joined;
    EXPECT_EQ(files, c.files) << joined;
  }
}

}  // namespace
}  // namespace gdpo::app
