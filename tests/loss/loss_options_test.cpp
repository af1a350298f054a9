// The [loss] option group: defaults, parsing into DPO/GDPO options, and every rejected combination.
#include "gdpo/loss/loss_options.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"

namespace gdpo::loss {
namespace {

LossConfig parse(const std::vector<std::string>& args) {
  cli::OptionSet set("gdpo t", "test");
  LossConfig c;
  bind_loss_options(set, c);
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

TEST(LossOptions, DefaultsAreGdpoWithThePapersBeta) {
  LossConfig c = parse({});
  EXPECT_EQ(loss_type(c), LossType::kGdpo);
  EXPECT_DOUBLE_EQ(c.beta, 0.1);
  GdpoOptions g = gdpo_options(c);
  EXPECT_EQ(g.calibration_weight, 1.0);
  EXPECT_EQ(g.belief_weight, 1.0);
  EXPECT_EQ(g.preference_weight, 1.0);
  EXPECT_EQ(g.preference.variant, DpoVariant::kSigmoid);
  EXPECT_TRUE(needs_reference(c));
}

TEST(LossOptions, ParsesEveryOption) {
  LossConfig c = parse({"--loss.type", "gdpo", "--loss.beta", "0.2", "--loss.preference-loss",
                        "cdpo", "--loss.label-smoothing", "0.1", "--loss.calibration-weight", "0",
                        "--loss.belief-weight", "2", "--loss.preference-weight", "3",
                        "--loss.reference-free", "--loss.logprob-chunk", "64"});
  GdpoOptions g = gdpo_options(c);
  EXPECT_EQ(g.calibration_weight, 0.0);
  EXPECT_EQ(g.belief_weight, 2.0);
  EXPECT_EQ(g.preference_weight, 3.0);
  EXPECT_EQ(g.preference.variant, DpoVariant::kConservative);
  EXPECT_DOUBLE_EQ(g.preference.beta, 0.2);
  EXPECT_DOUBLE_EQ(g.preference.label_smoothing, 0.1);
  EXPECT_TRUE(g.preference.reference_free);
  EXPECT_FALSE(needs_reference(c));
  EXPECT_EQ(c.logprob_chunk, 64);
}

TEST(LossOptions, TypesMapToDpoVariants) {
  EXPECT_EQ(dpo_options(parse({"--loss.type", "dpo"})).variant, DpoVariant::kSigmoid);
  EXPECT_EQ(dpo_options(parse({"--loss.type", "ipo"})).variant, DpoVariant::kIpo);
  EXPECT_EQ(dpo_options(parse({"--loss.type", "cdpo", "--loss.label-smoothing", "0.2"})).variant,
            DpoVariant::kConservative);
  EXPECT_FALSE(needs_reference(parse({"--loss.type", "sft"})));
  for (LossType t :
       {LossType::kSft, LossType::kDpo, LossType::kCdpo, LossType::kIpo, LossType::kGdpo}) {
    LossConfig c;
    c.type = loss_type_name(t);
    EXPECT_EQ(loss_type(c), t);
  }
}

TEST(LossOptions, InvalidValuesAreUsageErrorsNamingTheOption) {
  EXPECT_NE(usage_error({"--loss.type", "kto"}).find("--loss.type"), std::string::npos);
  EXPECT_NE(usage_error({"--loss.beta", "0"}).find("--loss.beta"), std::string::npos);
  EXPECT_NE(usage_error({"--loss.preference-loss", "sigmoid"}).find("--loss.preference-loss"),
            std::string::npos);
  EXPECT_NE(usage_error({"--loss.type", "cdpo"}).find("--loss.label-smoothing"), std::string::npos);
  EXPECT_NE(usage_error({"--loss.type", "cdpo", "--loss.label-smoothing", "0.5"})
                .find("--loss.label-smoothing"),
            std::string::npos);
  EXPECT_NE(usage_error({"--loss.type", "dpo", "--loss.label-smoothing", "0.1"})
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
