// `gdpo bench step` in-process on the CPU: the timing table (tokens/s, MFU, peak device memory n/a
// off CUDA), --bench.check's deterministic step-1 values, --bench.json, --bench.golden against the
// GDPO authors' values (tests/golden), and its usage errors. The CUDA side runs in jobs/gpu-suite.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string kTiny =
    "bench step --bench.preset tiny --bench.device cpu --dist.threads 1 --bench.warmup 0 "
    "--bench.steps 1";

TEST(BenchStep, PrintsThroughputMfuAndMemory) {
  auto r = run_app(kTiny + " --bench.losses sft,dpo,gdpo");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "4 pairs x 2 rows x 32 tokens")) << r.output;
  EXPECT_TRUE(contains(r.output, "examples/s")) << r.output;
  EXPECT_TRUE(contains(r.output, "tokens/s")) << r.output;
  EXPECT_TRUE(contains(r.output, "MFU %")) << r.output;
  EXPECT_TRUE(contains(r.output, "peak dev MiB")) << r.output;
  EXPECT_TRUE(contains(r.output, "n/a off CUDA")) << r.output;
  for (const char* loss : {"\nsft ", "\ndpo ", "\ngdpo "}) EXPECT_TRUE(contains(r.output, loss));
  EXPECT_FALSE(contains(r.output, "reference (NOT measured here)")) << r.output;  // not paper-4l
}

// Two runs print the same step-1 loss and gradient norm (fresh seeded model per objective).
TEST(BenchStep, CheckIsDeterministic) {
  const std::regex line("check (sft|dpo|gdpo): loss (\\S+) grad_norm (\\S+)");
  std::vector<std::string> runs;
  for (int i = 0; i < 2; ++i) {
    auto r = run_app(kTiny + " --bench.check --bench.losses sft,dpo,gdpo");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::string found;
    for (std::sregex_iterator m(r.output.begin(), r.output.end(), line), end; m != end; ++m)
      found += m->str() + "\n";
    EXPECT_EQ(std::count(found.begin(), found.end(), '\n'), 3) << r.output;
    runs.push_back(found);
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_FALSE(contains(runs[0], "nan")) << runs[0];
}

TEST(BenchStep, WritesJson) {
  TempDir tmp;
  const std::string path = tmp.file("bench.json");
  auto r = run_app(kTiny + " --bench.check --bench.losses gdpo --bench.peak-tflops 2 "
                           "--bench.json " + path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(path);
  ASSERT_TRUE(in) << r.output;
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["mode"], "check");
  EXPECT_EQ(j["device_type"], "cpu");
  EXPECT_EQ(j["tokens_per_step"], 4 * 2 * 32);
  EXPECT_EQ(j["peak_tflops"], 2.0);
  ASSERT_EQ(j["results"].size(), 1u);
  const auto& row = j["results"][0];
  EXPECT_EQ(row["loss"], "gdpo");
  EXPECT_GT(row["tokens_per_second"].get<double>(), 0);
  EXPECT_GT(row["mfu"].get<double>(), 0);
  EXPECT_EQ(row["peak_device_bytes"], -1);
  EXPECT_TRUE(row["check"]["grad_norm"].get<double>() > 0);
  // MFU = flops / s / peak, as documented.
  EXPECT_NEAR(row["mfu"].get<double>(),
              j["flops_per_step"].get<double>() / row["seconds_per_step"].get<double>() / 2e12,
              1e-9);
}

// TrainStep on the CPU reproduces the GDPO authors' losses and gradient norms (tests/golden).
TEST(BenchStep, GoldenValuesMatch) {
  auto r = run_app("bench step --bench.device cpu --dist.threads 1 --bench.golden " +
                   source_dir() + "/tests/golden --bench.losses sft,dpo,cdpo,ipo,gdpo");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "golden: all values match")) << r.output;
  EXPECT_TRUE(contains(r.output, "golden opinion/perturbed gdpo  grad_norm")) << r.output;
  EXPECT_FALSE(contains(r.output, "FAIL")) << r.output;
}

TEST(BenchStep, GoldenMismatchFails) {
  // An absurdly tight tolerance makes some float32 value differ from the float64 one.
  auto r = run_app("bench step --bench.device cpu --dist.threads 1 --bench.losses ipo "
                   "--bench.tolerance 1e-15 --bench.golden " + source_dir() + "/tests/golden");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "FAIL")) << r.output;
}

TEST(BenchStep, UsageErrors) {
  EXPECT_EQ(run_app("bench step --bench.preset nope").exit_code, 2);
  EXPECT_EQ(run_app("bench step --bench.preset tiny --bench.peak-tflops 0").exit_code, 2);
  EXPECT_EQ(run_app("bench step --bench.preset tiny --bench.losses nope").exit_code, 2);
  EXPECT_EQ(run_app("bench step --bench.preset tiny --bench.steps 0").exit_code, 2);
  auto r = run_app("bench step --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* o : {"--bench.device", "--bench.peak-tflops", "--bench.check", "--bench.golden",
                        "--bench.json", "gpt2-large", "pythia-2.8b"})
    EXPECT_TRUE(contains(r.output, o)) << o << "\n" << r.output;
}

}  // namespace
}  // namespace gdpo::test
