// The paper's headline effect, as a test that fails when GDPO is broken: on synthetic opinion data
// whose every question has its own group distribution p* ~ Dirichlet(1), and from the same SFT
// model, DPO collapses each question's belief distribution towards its majority belief, while GDPO
// stays close to p*. GDPO must beat DPO, and a negative control (GDPO without its calibration and
// belief terms: the DPO term after the belief alone), on the JS distance to p* by stated margins,
// and keep preference accuracy above chance. Two seeds, each its own test (ctest runs them apart).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

#include "gdpo/data/record.hpp"
#include "gdpo/data/synthetic.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

namespace fs = std::filesystem;

// The final evaluation of a run (summary.json): its belief metrics and preference accuracy.
struct Final {
  double js = 0, accuracy = 0;
};

Final final_eval(const std::string& run_dir) {
  auto summary = nlohmann::json::parse(read_file((fs::path(run_dir) / "summary.json").string()));
  const auto& eval = summary.at("eval");
  Final f;
  f.js = eval.at("belief.js_distance_per_question").get<double>();
  f.accuracy = eval.contains("rewards.accuracy") && eval.at("rewards.accuracy").is_number()
                   ? eval.at("rewards.accuracy").get<double>()
                   : 0.0;
  return f;
}

class Headline : public ::testing::TestWithParam<int> {};

TEST_P(Headline, GdpoStaysCalibratedWhereDpoCollapsesToTheMajority) {
  TempDir dir;
  data::SyntheticConfig c;
  c.questions = 24;
  c.beliefs = 4;
  c.pairs_per_question = 8;
  c.alpha = 1.0;  // every question its own p*
  c.seed = static_cast<uint64_t>(GetParam());
  const std::string pairs = dir.file("pairs.jsonl");
  data::write_records(pairs, data::make_synthetic(c));
  // Evaluated on the training questions: whether each question's own distribution is kept.
  const std::string common = "train --config '" + source_dir() + "/configs/quickstart.ini' " +
                             "--data.train '" + pairs + "' --data.eval '" + pairs +
                             "' --eval.n-examples 0 --dist.threads 1 --log.level warn " +
                             "--train.seed " + std::to_string(GetParam()) + " ";
  auto r = run_app(common + "--model.config tiny-gpt2 --loss.type sft --train.lr 3e-3 "
                            "--data.sft-examples per-pair --train.n-epochs 6 --train.run-dir '" +
                   dir.file("sft") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string from_sft = "--model.path '" + dir.file("sft/model") +
                               "' --train.lr 1e-3 --train.n-epochs 10 --train.export last ";
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"dpo", "--loss.type dpo"},
      {"gdpo", "--loss.type gdpo"},
      {"control", "--loss.type gdpo --loss.calibration-weight 0 --loss.belief-weight 0"}};
  for (const auto& [name, options] : runs) {
    r = run_app(common + from_sft + options + " --train.run-dir '" + dir.file(name) + "'");
    ASSERT_EQ(r.exit_code, 0) << name << "\n" << r.output;
  }
  const Final sft = final_eval(dir.file("sft")), dpo = final_eval(dir.file("dpo")),
              gdpo = final_eval(dir.file("gdpo")), control = final_eval(dir.file("control"));
  std::cout << "seed " << GetParam() << ": JS distance to p* per question: SFT " << sft.js
            << ", DPO " << dpo.js << ", GDPO " << gdpo.js << ", control " << control.js
            << "; preference accuracy: DPO " << dpo.accuracy << ", GDPO " << gdpo.accuracy
            << ", control " << control.accuracy << "\n";
  // The margins (the JS distance ranges over [0, 0.83]): GDPO at least 0.10 below DPO and 0.04
  // below the control; preference accuracy above chance. Measured when written (seeds 1 / 2): SFT
  // 0.245 / 0.254, DPO 0.318 / 0.420, GDPO 0.151 / 0.219, control 0.245 / 0.274; GDPO with
  // --loss.calibration-weight 0 gives 0.238 / 0.236, which fails the control margin on both seeds.
  EXPECT_LT(gdpo.js + 0.10, dpo.js);
  EXPECT_LT(gdpo.js + 0.04, control.js);
  EXPECT_GT(gdpo.accuracy, 0.5);
}

INSTANTIATE_TEST_SUITE_P(Seeds, Headline, ::testing::Values(1, 2));

}  // namespace
}  // namespace gdpo::test
