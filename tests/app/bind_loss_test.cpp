// The [loss] option group bound to loss::LossConfig: defaults, every option, and every rejected
// value or combination named by its option.
#include <gtest/gtest.h>

#include "bind.hpp"
#include "gdpo/core/error.hpp"

namespace gdpo::loss {
namespace {

LossConfig parse(const std::vector<std::string>& args) {
  app::OptionSet set("gdpo t", "test");
  LossConfig c;
  app::bind_loss(set, c);
  set.parse(args);
  return c;
}

std::string usage_error(const std::vector<std::string>& args) {
  try {
    parse(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(BindLoss, DefaultsAreGdpoWithThePapersBeta) {
  LossConfig c = parse({});
  EXPECT_EQ(c.type, LossType::kGdpo);
  EXPECT_DOUBLE_EQ(c.beta, 0.1);
  EXPECT_EQ(c.calibration_weight, 1.0);
  EXPECT_EQ(c.belief_weight, 1.0);
  EXPECT_EQ(c.preference_weight, 1.0);
  EXPECT_EQ(preference_variant(c), DpoVariant::kSigmoid);
  EXPECT_TRUE(needs_reference(c));
}

TEST(BindLoss, ParsesEveryOption) {
  LossConfig c = parse({"--loss.type", "gdpo", "--loss.beta", "0.2", "--loss.preference-loss",
                        "dpo", "--loss.label-smoothing", "0.1", "--loss.calibration-weight", "0",
                        "--loss.belief-weight", "2", "--loss.preference-weight", "3",
                        "--loss.reference-free", "--loss.logprob-chunk", "64"});
  EXPECT_EQ(c.calibration_weight, 0.0);
  EXPECT_EQ(c.belief_weight, 2.0);
  EXPECT_EQ(c.preference_weight, 3.0);
  EXPECT_EQ(preference_variant(c), DpoVariant::kSigmoid);
  EXPECT_DOUBLE_EQ(c.beta, 0.2);
  EXPECT_DOUBLE_EQ(c.label_smoothing, 0.1);
  EXPECT_TRUE(c.reference_free);
  EXPECT_FALSE(needs_reference(c));
  EXPECT_EQ(c.logprob_chunk, 64);
}

TEST(BindLoss, EveryTypeParsesByItsName) {
  for (LossType t : kLossTypes) {
    std::vector<std::string> args = {"--loss.type", loss_type_name(t)};
    EXPECT_EQ(parse(args).type, t);
  }
}

TEST(BindLoss, InvalidValuesAreUsageErrorsNamingTheOption) {
  EXPECT_NE(usage_error({"--loss.type", "kto"}).find("--loss.type"), std::string::npos);
  EXPECT_NE(usage_error({"--loss.beta", "0"}).find("--loss.beta"), std::string::npos);
  EXPECT_NE(usage_error({"--loss.preference-loss", "sigmoid"}).find("--loss.preference-loss"),
            std::string::npos);
  EXPECT_NE(usage_error({"--loss.preference-loss", "cdpo"}).find("--loss.preference-loss"),
            std::string::npos);  // the authors' cdpo is a loss type, not a preference term
  EXPECT_NE(usage_error({"--loss.type", "cdpo", "--loss.label-smoothing", "0.5"})
                .find("--loss.label-smoothing"),
            std::string::npos);
  EXPECT_NE(usage_error({"--loss.type", "ipo", "--loss.label-smoothing", "0.1"})
                .find("--loss.label-smoothing"),
            std::string::npos);
  EXPECT_NE(usage_error({"--loss.belief-weight", "-1"}).find("--loss.belief-weight"),
            std::string::npos);
  EXPECT_NE(usage_error({"--loss.calibration-weight", "0", "--loss.belief-weight", "0",
                         "--loss.preference-weight", "0"})
                .find("all 0"),
            std::string::npos);
  EXPECT_NE(usage_error({"--loss.type", "sft", "--loss.reference-free"}).find("reference-free"),
            std::string::npos);
  EXPECT_NE(usage_error({"--loss.logprob-chunk", "0"}).find("--loss.logprob-chunk"),
            std::string::npos);
}

}  // namespace
}  // namespace gdpo::loss
