// LossConfig: which DPO variant each objective uses, which need a reference, and validate()'s
// refusals, each naming its option.
#include "gdpo/loss/loss_config.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"

namespace gdpo::loss {
namespace {

std::string usage_error(const LossConfig& c) {
  try {
    validate(c);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

LossConfig of(LossType type) {
  LossConfig c;
  c.type = type;
  return c;
}

TEST(LossConfig, TypesMapToDpoVariants) {
  EXPECT_EQ(preference_variant(of(LossType::kDpo)), DpoVariant::kSigmoid);
  EXPECT_EQ(preference_variant(of(LossType::kCdpo)), DpoVariant::kSigmoid);
  EXPECT_EQ(preference_variant(of(LossType::kIpo)), DpoVariant::kIpo);
  LossConfig g = of(LossType::kGdpo);
  EXPECT_EQ(preference_variant(g), DpoVariant::kSigmoid);
  g.gdpo_preference = DpoVariant::kIpo;
  EXPECT_EQ(preference_variant(g), DpoVariant::kIpo);
}

TEST(LossConfig, OnlyTheDpoFamilyWithAReferenceNeedsOne) {
  EXPECT_FALSE(needs_reference(of(LossType::kSft)));
  for (LossType t : {LossType::kDpo, LossType::kCdpo, LossType::kIpo, LossType::kGdpo}) {
    EXPECT_TRUE(needs_reference(of(t))) << loss_type_name(t);
    LossConfig c = of(t);
    c.reference_free = true;
    EXPECT_FALSE(needs_reference(c)) << loss_type_name(t);
  }
}

TEST(LossConfig, NamesAreTheOptionValues) {
  const char* names[] = {"sft", "dpo", "cdpo", "ipo", "gdpo"};
  int i = 0;
  for (LossType t : kLossTypes) EXPECT_STREQ(loss_type_name(t), names[i++]);
  EXPECT_STREQ(dpo_variant_name(DpoVariant::kIpo), "ipo");
}

// The authors' names: cdpo and gdpo compare the span after the belief, with the rejected response
// conditioned on the chosen belief; dpo and ipo whole responses; only dpo's rejected response
// carries its own belief.
TEST(LossConfig, SpansAndRejectedBeliefsAsTheAuthors) {
  EXPECT_EQ(preference_span(LossType::kDpo), PreferenceSpan::kResponse);
  EXPECT_EQ(preference_span(LossType::kIpo), PreferenceSpan::kResponse);
  EXPECT_EQ(preference_span(LossType::kCdpo), PreferenceSpan::kAfterBelief);
  EXPECT_EQ(preference_span(LossType::kGdpo), PreferenceSpan::kAfterBelief);
  for (LossType t : kLossTypes)
    EXPECT_EQ(rejected_has_own_belief(t), t == LossType::kDpo) << loss_type_name(t);
}

TEST(LossConfig, ValidateNamesTheOption) {
  EXPECT_EQ(usage_error(LossConfig()), "(no error)");
  LossConfig c;
  c.beta = 0;
  EXPECT_NE(usage_error(c).find("--loss.beta"), std::string::npos);
  c = of(LossType::kCdpo);
  EXPECT_EQ(usage_error(c), "(no error)");  // no label smoothing needed: cdpo is not conservative
  c.label_smoothing = 0.25;
  EXPECT_EQ(usage_error(c), "(no error)");
  c.label_smoothing = 0.5;
  EXPECT_NE(usage_error(c).find("--loss.label-smoothing"), std::string::npos);
  c = of(LossType::kIpo);
  c.label_smoothing = 0.1;
  EXPECT_NE(usage_error(c).find("--loss.label-smoothing"), std::string::npos);
  c = LossConfig();
  c.calibration_weight = c.belief_weight = c.preference_weight = 0;
  EXPECT_NE(usage_error(c).find("all 0"), std::string::npos);
  c = LossConfig();
  c.logprob_chunk = 0;
  EXPECT_NE(usage_error(c).find("--loss.logprob-chunk"), std::string::npos);
}

}  // namespace
}  // namespace gdpo::loss
