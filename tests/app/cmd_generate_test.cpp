// `gdpo generate` and `gdpo evaluate` end to end on a tiny random GPT-2 and synthetic data with a
// test share: the files they write, a finished generation rerun doing nothing, a killed generation
// resuming to the same samples, 2 MPI ranks and other batch sizes giving the samples of 1 rank, and
// the exit codes of bad input.
#include <gtest/gtest.h>

#include <filesystem>

#include "app/train_fixture.hpp"
#include "gdpo/eval/generation_store.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

namespace fs = std::filesystem;

class Generate : public ::testing::Test {
 protected:
  void SetUp() override { write_synthetic_data(dir.file("pairs.jsonl"), 20); }
  // 20 questions, split 0.6/0.2/0.2: 4 test rows; 3 samples each, in chunks of 1 row.
  std::string common(int data_seed = 2) const {
    return "--model.config tiny-gpt2 --model.seed 4 --tokenizer.path bytes --data.train " +
           dir.file("pairs.jsonl") + " --data.split 0.6,0.2,0.2 --data.seed " +
           std::to_string(data_seed) + " --dist.threads 1 ";
  }
  std::string generate(const std::string& out, const std::string& extra = "",
                       int chunk_rows = 1) const {
    return "generate " + common() + "--generate.n-samples 3 --generate.max-new-tokens 12 " +
           "--generate.chunk-rows " + std::to_string(chunk_rows) + " --generate.output " + out +
           " " + extra;
  }
  TempDir dir;
};

// The same samples, token for token and text for text (the settings may differ: batch size, ranks).
void expect_same_tokens_and_texts(const std::string& a, const std::string& b) {
  const auto x = eval::read_generations(a), y = eval::read_generations(b);
  ASSERT_EQ(x.samples.size(), y.samples.size());
  EXPECT_EQ(x.row_prompt, y.row_prompt);
  for (size_t i = 0; i < x.samples.size(); ++i) {
    EXPECT_EQ(x.samples[i].tokens, y.samples[i].tokens) << a << " vs " << b << ", sample " << i;
    EXPECT_EQ(x.samples[i].text, y.samples[i].text);
  }
}

TEST_F(Generate, WritesSamplesAndEvaluatesThem) {
  auto r = run_app(generate(dir.file("gen.h5"), "--generate.jsonl " + dir.file("gen.jsonl")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("4 chunks generated"), std::string::npos) << r.output;
  const auto g = eval::read_generations(dir.file("gen.h5"));
  EXPECT_EQ(g.row_question.size(), 4u);
  EXPECT_EQ(g.samples.size(), 12u);
  for (const auto& s : g.samples) EXPECT_LE(s.tokens.size(), 12u);
  const std::string jsonl = read_file(dir.file("gen.jsonl"));
  EXPECT_EQ(std::count(jsonl.begin(), jsonl.end(), '\n'), 12);

  // Rerunning a finished generation does nothing; other settings are refused (exit 2).
  r = run_app(generate(dir.file("gen.h5")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("is complete"), std::string::npos) << r.output;
  r = run_app(generate(dir.file("gen.h5"), "--generate.seed 9"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(dir.file("gen.h5")), std::string::npos) << r.output;

  r = run_app("evaluate " + common() + "--evaluate.generations " + dir.file("gen.h5") +
              " --evaluate.output " + dir.file("eval.h5") + " --evaluate.label tiny");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tiny on 4 test rows"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("reference: uniform"), std::string::npos) << r.output;
  auto h = io::H5File::open_read(dir.file("eval.h5"));
  EXPECT_EQ(h.string_attr("/", "label"), "tiny");
  EXPECT_EQ(h.int_attr("/", "n_samples"), 3);
  EXPECT_EQ(h.double_attr("summary", "rows"), 4);
  const double js = h.double_attr("summary", "sampling_js");
  EXPECT_TRUE(js >= 0 && js <= std::sqrt(std::log(2.0))) << js;
}

TEST_F(Generate, TheJudgeScoresBeliefPreferenceConsistencyWithItsAccuracy) {
  // Judge examples from the same pairs, split by question; a judge trained briefly with SFT.
  auto r = run_app("data judge " + dir.file("pairs.jsonl") + " --data.output " +
                   dir.file("judge.jsonl") + " --data.split-output --data.seed 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_app("train --model.config tiny-gpt2 --tokenizer.path bytes --loss.type sft --data.train " +
              dir.file("judge_train.jsonl") + " --data.split 1,0 --data.sft-examples per-pair "
              "--train.n-epochs 2 --train.batch-size 8 --train.lr 1e-3 --train.warmup-steps 1 "
              "--dist.threads 1 --log.level warn --train.run-dir " + dir.file("judge"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(run_app(generate(dir.file("gen.h5"))).exit_code, 0);
  r = run_app("evaluate " + common() + "--evaluate.generations " + dir.file("gen.h5") +
              " --evaluate.judge " + dir.file("judge") + " --evaluate.judge-data " +
              dir.file("judge_test.jsonl") + " --evaluate.judge-sample 2 --evaluate.output " +
              dir.file("eval.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("its accuracy on held-out examples is"), std::string::npos) << r.output;
  auto h = io::H5File::open_read(dir.file("eval.h5"));
  const double acc = h.double_attr("/", "judge_accuracy");
  EXPECT_TRUE(acc >= 0 && acc <= 1) << acc;
  const double bpc = h.double_attr("summary", "belief_preference_consistency");
  EXPECT_TRUE(bpc >= 0 && bpc <= 1) << bpc;
  // The judge needs samples to judge, and a sample index the generations have.
  r = run_app("evaluate " + common() + "--evaluate.judge " + dir.file("judge"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_app("evaluate " + common() + "--evaluate.generations " + dir.file("gen.h5") +
              " --evaluate.judge " + dir.file("judge"));  // default sample 4 of 3
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--evaluate.judge-sample"), std::string::npos) << r.output;
}

TEST_F(Generate, ReadsAHuggingFaceFolderARunDirectoryOrACheckpoint) {
  // A short run whose exported model/ is its best checkpoint's weights.
  auto r = run_app("train --model.config tiny-gpt2 --tokenizer.path bytes --loss.type sft "
                   "--data.train " + dir.file("pairs.jsonl") + " --data.split 0.6,0.2,0.2 "
                   "--data.seed 2 --train.n-epochs 1 --train.batch-size 8 --train.lr 1e-3 "
                   "--eval.every-examples 16 --dist.threads 1 --log.level warn --train.run-dir " +
                   dir.file("run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string best = read_file(dir.file("run/best"));
  best.erase(best.find_last_not_of("\n") + 1);
  if (!fs::path(best).is_absolute()) best = dir.file("run/checkpoints/" + best);
  ASSERT_TRUE(fs::exists(best)) << best;
  const std::string tail = "--tokenizer.path bytes --data.train " + dir.file("pairs.jsonl") +
                           " --data.split 0.6,0.2,0.2 --data.seed 2 --generate.n-samples 2 "
                           "--generate.max-new-tokens 8 --dist.threads 1 --generate.output ";
  for (const auto& [source, out] : std::vector<std::pair<std::string, std::string>>{
           {dir.file("run/model"), "hf.h5"}, {dir.file("run"), "run.h5"}, {best, "ckpt.h5"}}) {
    r = run_app("generate --model.path " + source + " " + tail + dir.file(out));
    ASSERT_EQ(r.exit_code, 0) << source << "\n" << r.output;
  }
  expect_same_tokens_and_texts(dir.file("hf.h5"), dir.file("run.h5"));
  expect_same_tokens_and_texts(dir.file("hf.h5"), dir.file("ckpt.h5"));
}

TEST_F(Generate, SamplesDoNotDependOnTheBatchSize) {
  ASSERT_EQ(run_app(generate(dir.file("a.h5"), "--generate.batch-size 1")).exit_code, 0);
  ASSERT_EQ(run_app(generate(dir.file("b.h5"), "--generate.batch-size 7", 3))
                .exit_code,
            0);
  expect_same_tokens_and_texts(dir.file("a.h5"), dir.file("b.h5"));
}

TEST_F(Generate, AKilledGenerationResumesToTheSameSamples) {
  ASSERT_EQ(run_app(generate(dir.file("whole.h5"))).exit_code, 0);
  auto r = run_command_with_env("GDPO_FAULT_INJECT=kill-after-chunk:2", generate(dir.file("gen.h5")));
  ASSERT_NE(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("gen.h5")));
  EXPECT_TRUE(fs::exists(dir.file("gen.h5.parts/chunk-000001.h5")));
  r = run_gdpo(generate(dir.file("gen.h5")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 chunks generated, 2 taken from a killed run"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir.file("gen.h5.parts")));
  expect_same_tokens_and_texts(dir.file("whole.h5"), dir.file("gen.h5"));
}

TEST_F(Generate, TwoRanksGiveTheSamplesOfOne) {
  ASSERT_EQ(run_app(generate(dir.file("one.h5"))).exit_code, 0);
  const auto r = run_gdpo_mpi2(generate(dir.file("two.h5")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same_tokens_and_texts(dir.file("one.h5"), dir.file("two.h5"));
}

TEST_F(Generate, BadInputExitCodes) {
  // No test share: a usage error naming the split.
  auto r = run_app("generate --model.config tiny-gpt2 --data.train " + dir.file("pairs.jsonl") +
                   " --data.split 0.8,0.2 --generate.output " + dir.file("x.h5"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--data.split"), std::string::npos) << r.output;
  r = run_app(generate(dir.file("x.h5"), "--generate.top-p 0"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--generate.top-p"), std::string::npos) << r.output;
  r = run_app(generate(""));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // Generations of another test split: an input error naming the row.
  ASSERT_EQ(run_app(generate(dir.file("gen.h5"))).exit_code, 0);
  r = run_app("evaluate " + common(5) + "--evaluate.generations " + dir.file("gen.h5"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("row 0"), std::string::npos) << r.output;
  r = run_app("evaluate " + common() + "--evaluate.generations " + dir.file("pairs.jsonl"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("pairs.jsonl"), std::string::npos) << r.output;
  // Outputs that cannot be written are refused before any work, naming the option.
  r = run_app(generate(dir.file("no/such/folder/gen.h5")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--generate.output"), std::string::npos) << r.output;
  r = run_app("evaluate " + common() + "--evaluate.output " + dir.path().string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--evaluate.output"), std::string::npos) << r.output;
  r = run_app("evaluate --model.path " + dir.file("nothing") + " --data.train " +
              dir.file("pairs.jsonl") + " --data.split 0.6,0.2,0.2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--model.path"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace gdpo::test

namespace gdpo::test {
namespace {

TEST(BenchGenerate, RunsTheGeneratorAndPrintsItsFigures) {
  const auto r = run_app("bench generate --model.config tiny-gpt2 --bench.prompt 8 "
                         "--bench.new-tokens 16 --bench.batch 4 --dist.threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* line : {"batch 1,  KV cache:", "batch 4, KV cache:", "no cache:",
                           "KV cache speed-up:", "batch 4 floor:            matrix products "})
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
  // More positions than the model has: a usage error naming the options.
  const auto bad = run_app("bench generate --model.config tiny-gpt2 --bench.new-tokens 1000");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--bench.new-tokens"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace gdpo::test
