// The [model] option group bound to model::ModelSource: exactly one of a folder and a config, the
// dtype by name (with its short aliases), and a model loaded from what was parsed.
#include <gtest/gtest.h>

#include "bind.hpp"
#include "gdpo/core/error.hpp"

namespace gdpo::model {
namespace {

TEST(BindModel, ExactlyOneOfPathAndConfig) {
  auto error_of = [](const std::vector<std::string>& args) -> std::string {
    app::OptionSet set("gdpo t", "test");
    ModelSource o;
    app::bind_model(set, o);
    try {
      set.parse(args);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  for (const auto& args : {std::vector<std::string>{},
                           std::vector<std::string>{"--model.path", "x", "--model.config", "y"}}) {
    const std::string msg = error_of(args);
    EXPECT_NE(msg.find("--model.path"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--model.config"), std::string::npos) << msg;
  }
  EXPECT_NE(error_of({"--model.config", "tiny-gpt2", "--model.dtype", "int8"}).find("--model.dtype"),
            std::string::npos);

  app::OptionSet set("gdpo t", "test");
  ModelSource o;
  app::bind_model(set, o);
  ASSERT_TRUE(set.parse({"--model.config", "tiny-neox", "--model.seed", "4", "--model.dtype",
                         "bf16"}));
  auto m = load_model(o);
  EXPECT_EQ(m->config().family, Family::kGptNeox);
  EXPECT_EQ(m->output_weight().scalar_type(), torch::kBFloat16);
}

}  // namespace
}  // namespace gdpo::model
