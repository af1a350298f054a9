// `gdpo inspect`, in-process: a config, a Hugging Face folder (whose logits on given ids it writes),
// a safetensors file, and the exit codes of a corrupt file (3) and a bad name or no path (2).
#include <gtest/gtest.h>

#include "gdpo/io/safetensors.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::model {
namespace {

TEST(Inspect, DescribesConfigsFoldersAndFilesAndWritesLogits) {
  auto r = test::run_app("inspect tiny-gpt2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("parameters:    132,928"), std::string::npos) << r.output;

  test::TempDir dir;
  auto m = build_model(load_model_config("tiny-neox"), 2);
  save_hf_model(*m, dir.file("hf"));
  auto ids = ((torch::arange(10) * 37 + 11).remainder(257)).view({2, 5});
  auto mask = torch::tensor({{1, 1, 1, 1, 1}, {0, 1, 1, 1, 1}}, torch::kLong);
  io::write_safetensors(dir.file("in.safetensors"), {{"input_ids", ids}, {"attention_mask", mask}});
  r = test::run_app("inspect " + dir.file("hf") + " --inspect.inputs " +
                    dir.file("in.safetensors") + " --inspect.logits " +
                    dir.file("out.safetensors"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("gpt_neox"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("F32"), std::string::npos) << r.output;
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(io::SafetensorsFile(dir.file("out.safetensors")).tensor("logits"),
                              m->logits(ids, mask), 0, 1e-6));

  r = test::run_app("inspect " + dir.file("hf/model.safetensors"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  test::write_file(dir.file("bad.safetensors"), "garbage!garbage");
  EXPECT_EQ(test::run_app("inspect " + dir.file("bad.safetensors")).exit_code, 3);
  EXPECT_EQ(test::run_app("inspect no-such-config").exit_code, 2);
  EXPECT_EQ(test::run_app("inspect").exit_code, 2);
}

}  // namespace
}  // namespace gdpo::model
