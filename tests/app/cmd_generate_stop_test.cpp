// `gdpo generate` and `gdpo evaluate` stopped as Slurm stops a job (SIGUSR1 before the time limit,
// raised in-process by the GDPO_FAULT_INJECT hooks at a chosen point): exit 75 on every rank, only
// whole files left (finished chunks, the kept part of an unfinished one), and the same command run
// again finishes with the samples (the report) of an uninterrupted run, generating nothing twice.
// On one rank and on two, the signal reaching both ranks or only one.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "app/train_fixture.hpp"
#include "gdpo/eval/generation_store.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

namespace fs = std::filesystem;

class GenerateStop : public ::testing::Test {
 protected:
  void SetUp() override { write_synthetic_data(dir.file("pairs.jsonl"), 20); }
  // 20 questions, split 0.6/0.2/0.2: 4 test rows; 3 samples each.
  std::string common() const {
    return "--model.config tiny-gpt2 --model.seed 4 --tokenizer.path bytes --data.train " +
           dir.file("pairs.jsonl") + " --data.split 0.6,0.2,0.2 --data.seed 2 --dist.threads 1 ";
  }
  // Chunks of `chunk_rows` rows (4 chunks by default), `batch` sequences per forward pass.
  std::string generate(const std::string& out, int chunk_rows = 1, int batch = 32) const {
    return "generate " + common() + "--generate.n-samples 3 --generate.max-new-tokens 12 " +
           "--generate.chunk-rows " + std::to_string(chunk_rows) + " --generate.batch-size " +
           std::to_string(batch) + " --generate.output " + out;
  }
  std::string evaluate(const std::string& gens, const std::string& out) const {
    return "evaluate " + common() + "--evaluate.batch-size 1 --evaluate.generations " + gens +
           " --evaluate.output " + out;
  }
  TempDir dir;
};

void expect_same_samples(const std::string& a, const std::string& b) {
  const auto x = eval::read_generations(a), y = eval::read_generations(b);
  EXPECT_EQ(x.settings, y.settings);
  EXPECT_EQ(x.row_prompt, y.row_prompt);
  ASSERT_EQ(x.samples.size(), y.samples.size());
  for (size_t i = 0; i < x.samples.size(); ++i) {
    EXPECT_EQ(x.samples[i].row, y.samples[i].row);
    EXPECT_EQ(x.samples[i].sample, y.samples[i].sample);
    EXPECT_EQ(x.samples[i].tokens, y.samples[i].tokens) << a << " vs " << b << ", sample " << i;
    EXPECT_EQ(x.samples[i].text, y.samples[i].text);
    EXPECT_EQ(x.samples[i].ended, y.samples[i].ended);
    EXPECT_EQ(x.samples[i].belief_id, y.samples[i].belief_id);
  }
}

// The files of <out>.parts, sorted (none when it does not exist). Each must be a chunk or the kept
// part of one: a stopped run leaves no temporaries.
std::vector<std::string> parts(const std::string& out) {
  std::vector<std::string> names;
  if (!fs::exists(out + ".parts")) return names;
  for (const auto& e : fs::directory_iterator(out + ".parts")) {
    names.push_back(e.path().filename().string());
    EXPECT_TRUE(std::regex_match(names.back(), std::regex(R"(chunk-\d{6}(\.partial)?\.h5)")))
        << names.back();
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> chunk_names(std::initializer_list<int> chunks) {
  std::vector<std::string> names;
  for (int c : chunks) {
    char name[32];
    std::snprintf(name, sizeof name, "chunk-%06d.h5", c);
    names.push_back(name);
  }
  return names;
}

// After chunk N of 4 (1 rank, one batch per chunk): exit 75, the first N chunks kept and nothing
// else; the rerun generates the other 4 - N and ends with the uninterrupted run's samples. A
// signal after the last chunk leaves no work: the run finishes (exit 0).
TEST_F(GenerateStop, ASignalAfterAChunkExits75AndTheRerunFinishesTheSameSamples) {
  const std::string whole = dir.file("whole.h5");
  ASSERT_EQ(run_app(generate(whole)).exit_code, 0);
  for (int n : {1, 2, 3}) {
    const std::string out = dir.file("gen-" + std::to_string(n) + ".h5");
    auto r = run_command_with_env("GDPO_FAULT_INJECT=sigusr1-after-chunk:" + std::to_string(n),
                                  generate(out));
    ASSERT_EQ(r.exit_code, 75) << "after chunk " << n << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "stopped by SIGUSR1: " + out + ".parts keeps " + std::to_string(n) +
                                  " of 4 chunks;"))
        << r.output;
    EXPECT_TRUE(contains(r.output, "stopped by a signal during generation")) << r.output;
    EXPECT_FALSE(fs::exists(out));
    std::vector<std::string> expected = chunk_names({0, 1, 2});
    expected.resize(n);
    EXPECT_EQ(parts(out), expected);

    r = run_gdpo(generate(out));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, std::to_string(4 - n) + " chunks generated, " + std::to_string(n) +
                                  " taken from a killed run"))
        << r.output;
    EXPECT_FALSE(fs::exists(out + ".parts"));
    expect_same_samples(whole, out);
  }
  const std::string last = dir.file("gen-4.h5");
  const auto r = run_command_with_env("GDPO_FAULT_INJECT=sigusr1-after-chunk:4", generate(last));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "4 chunks generated")) << r.output;
  EXPECT_FALSE(contains(r.output, "stopped")) << r.output;
  expect_same_samples(whole, last);
}

// A signal in the middle of a chunk (2 chunks of 2 rows = 6 sequences, batches of 2): the samples
// generated so far are kept and the rerun continues after them. A stop after every first batch of
// a run takes exactly one run per batch (6): no sample is generated twice.
TEST_F(GenerateStop, EveryBatchIsKeptSoRepeatedStopsGenerateNothingTwice) {
  const std::string whole = dir.file("whole.h5");
  ASSERT_EQ(run_app(generate(whole, 2)).exit_code, 0);
  const std::string out = dir.file("gen.h5");
  const std::string fault = "GDPO_FAULT_INJECT=sigusr1-after-batch:1";
  auto r = run_command_with_env(fault, generate(out, 2, 2));
  ASSERT_EQ(r.exit_code, 75) << r.output;
  EXPECT_TRUE(contains(r.output, "keeps 0 of 2 chunks and 2 samples of unfinished ones")) << r.output;
  EXPECT_EQ(parts(out), std::vector<std::string>{"chunk-000000.partial.h5"});
  r = run_command_with_env(fault, generate(out, 2, 2));
  ASSERT_EQ(r.exit_code, 75) << r.output;
  EXPECT_TRUE(contains(r.output, "keeps 0 of 2 chunks and 4 samples of unfinished ones")) << r.output;
  int runs = 2;
  while (r.exit_code == 75 && runs < 12) {
    r = run_command_with_env(fault, generate(out, 2, 2));
    ++runs;
    ASSERT_TRUE(r.exit_code == 75 || r.exit_code == 0) << r.output;
  }
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(runs, 6);
  EXPECT_TRUE(contains(r.output, "1 chunks generated, 1 taken from a killed run, 4 samples taken from "
                            "a stopped run"))
      << r.output;
  EXPECT_FALSE(fs::exists(out + ".parts"));
  expect_same_samples(whole, out);

  // Another batch size resumes the kept samples too (a sample does not depend on its batch).
  const std::string other = dir.file("other.h5");
  ASSERT_EQ(run_command_with_env(fault, generate(other, 2, 2)).exit_code, 75);
  r = run_gdpo(generate(other, 2, 5));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "2 samples taken from a stopped run")) << r.output;
  expect_same_samples(whole, other);
}

// A signal while the model loads: exit 75 before anything is written.
TEST_F(GenerateStop, ASignalDuringTheSetUpExits75WithNothingWritten) {
  const std::string out = dir.file("gen.h5");
  auto r = run_command_with_env("GDPO_FAULT_INJECT=sigusr1-after-setup", generate(out));
  ASSERT_EQ(r.exit_code, 75) << r.output;
  EXPECT_TRUE(contains(r.output, "stopped by a signal during the set-up")) << r.output;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".parts"));
  ASSERT_EQ(run_app(generate(out)).exit_code, 0);
  ASSERT_EQ(run_app(generate(dir.file("whole.h5"))).exit_code, 0);
  expect_same_samples(dir.file("whole.h5"), out);
}

// Two ranks (chunks 0, 2 on rank 0; 1, 3 on rank 1): both stop at the same point and exit 75, when
// the signal reaches both and when it reaches only one (no hang: run_gdpo_mpi2's timeout gives
// 124); a stop on two ranks resumes on one, a stop in the middle of chunks on two ranks too.
TEST_F(GenerateStop, TwoRanksStopTogether) {
  const std::string whole = dir.file("whole.h5");
  ASSERT_EQ(run_app(generate(whole)).exit_code, 0);

  const std::string both = dir.file("both.h5");
  auto r = run_gdpo_mpi2(generate(both), 120, "-x GDPO_FAULT_INJECT=sigusr1-after-chunk:1");
  ASSERT_EQ(r.exit_code, 75) << r.output;
  EXPECT_TRUE(contains(r.output, "keeps 2 of 4 chunks;")) << r.output;
  EXPECT_EQ(parts(both), chunk_names({0, 1}));
  r = run_gdpo_mpi2(generate(both));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same_samples(whole, both);

  // Chunk 0 from a killed run: rank 0 has nothing to write in the first round, so only rank 1
  // raises the signal (after its chunk 1); rank 0 stops with it.
  const std::string one = dir.file("one.h5");
  r = run_command_with_env("GDPO_FAULT_INJECT=kill-after-chunk:1", generate(one));
  ASSERT_NE(r.exit_code, 0) << r.output;
  ASSERT_EQ(parts(one), chunk_names({0}));
  r = run_gdpo_mpi2(generate(one), 120, "-x GDPO_FAULT_INJECT=sigusr1-after-chunk:1");
  ASSERT_EQ(r.exit_code, 75) << r.output;
  EXPECT_TRUE(contains(r.output, "keeps 2 of 4 chunks;")) << r.output;
  EXPECT_EQ(parts(one), chunk_names({0, 1}));
  r = run_app(generate(one));  // on one rank
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "2 chunks generated, 2 taken from a killed run")) << r.output;
  expect_same_samples(whole, one);

  // In the middle of chunks of 2 rows (one per rank): each rank keeps its first batch.
  const std::string whole2 = dir.file("whole2.h5");
  ASSERT_EQ(run_app(generate(whole2, 2)).exit_code, 0);
  const std::string mid = dir.file("mid.h5");
  r = run_gdpo_mpi2(generate(mid, 2, 2), 120, "-x GDPO_FAULT_INJECT=sigusr1-after-batch:1");
  ASSERT_EQ(r.exit_code, 75) << r.output;
  EXPECT_TRUE(contains(r.output, "keeps 0 of 2 chunks and 4 samples of unfinished ones")) << r.output;
  EXPECT_EQ(parts(mid),
            (std::vector<std::string>{"chunk-000000.partial.h5", "chunk-000001.partial.h5"}));
  r = run_gdpo_mpi2(generate(mid, 2, 2));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "4 samples taken from a stopped run")) << r.output;
  expect_same_samples(whole2, mid);
}

// `gdpo evaluate` keeps nothing to resume from: a signal during its forward passes (4 rows in
// batches of 1) or its set-up exits 75 with no eval.h5, and the rerun writes the uninterrupted
// run's report.
TEST_F(GenerateStop, ASignalDuringEvaluateExits75AndTheRerunWritesTheSameReport) {
  const std::string gens = dir.file("gen.h5");
  ASSERT_EQ(run_app(generate(gens)).exit_code, 0);
  const std::string whole = dir.file("eval-whole.h5");
  ASSERT_EQ(run_app(evaluate(gens, whole)).exit_code, 0);
  for (int ranks : {1, 2}) {
    for (const std::string fault : {"sigusr1-during-evaluate:1", "sigusr1-after-setup"}) {
      const std::string out = dir.file("eval-" + std::to_string(ranks) + "-" +
                                       fault.substr(0, fault.find(':')) + ".h5");
      auto r = ranks == 1
                   ? run_command_with_env("GDPO_FAULT_INJECT=" + fault, evaluate(gens, out))
                   : run_gdpo_mpi2(evaluate(gens, out), 120, "-x GDPO_FAULT_INJECT=" + fault);
      ASSERT_EQ(r.exit_code, 75) << ranks << " rank(s), " << fault << "\n" << r.output;
      EXPECT_TRUE(contains(r.output, fault == "sigusr1-after-setup"
                                    ? "stopped by a signal during the set-up"
                                    : "stopped by a signal during the belief-probability pass"))
          << r.output;
      EXPECT_FALSE(fs::exists(out));
      r = ranks == 1 ? run_app(evaluate(gens, out)) : run_gdpo_mpi2(evaluate(gens, out));
      ASSERT_EQ(r.exit_code, 0) << r.output;
      auto a = io::H5File::open_read(whole), b = io::H5File::open_read(out);
      for (const char* name : {"rows/model_probs", "rows/prob_js", "rows/sampling_js"})
        EXPECT_TRUE(torch::equal(a.read_tensor(name), b.read_tensor(name)))
            << name << ", " << ranks << " rank(s), " << fault;
      EXPECT_EQ(a.double_attr("summary", "prob_js"), b.double_attr("summary", "prob_js"));
    }
  }
}

}  // namespace
}  // namespace gdpo::test
