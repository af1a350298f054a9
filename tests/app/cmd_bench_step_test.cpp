// `gdpo bench step` in-process on the CPU: the timing table (tokens/s, MFU, peak device memory n/a
// off CUDA), --bench.check's deterministic step-1 values, --bench.json, --bench.golden against the
// GDPO authors' values (tests/golden), --bench.zero-stages' per-stage table (one rank in-process, two
// through mpiexec), and its usage errors. The CUDA side runs in jobs/gpu-suite.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "bench_zero_stages.hpp"
#include "support/app_runner.hpp"
#include "support/test_support.hpp"

namespace gdpo::test {
namespace {

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
  for (const char* o : {"--bench.zero-stages", "--bench.grad-accum", "gpt2-medium"})
    EXPECT_TRUE(contains(r.output, o)) << o << "\n" << r.output;
}

// The table's rows: "| <stage> | <best> / <median> | <sent MiB> | ...".
std::vector<std::pair<int, std::string>> zero_rows(const std::string& output) {
  const std::regex row("\n\\| +([0-3]) \\| +[0-9.]+ / [0-9.]+ \\| +([0-9.]+) \\|");
  std::vector<std::pair<int, std::string>> rows;
  for (std::sregex_iterator m(output.begin(), output.end(), row), end; m != end; ++m)
    rows.emplace_back(std::stoi((*m)[1].str()), (*m)[2].str());
  return rows;
}

// --bench.zero-stages on one rank: a row per stage, nothing sent (no other rank), and what each
// stage holds: on one rank a shard is the whole, so stage 1's optimizer state is stage 0's.
TEST(BenchStep, ZeroStagesOneRank) {
  TempDir tmp;
  const std::string path = tmp.file("zero.json");
  auto r = run_app(kTiny + " --bench.losses gdpo,sft --bench.zero-stages 0,1,2,3 --bench.json " +
                   path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "loss gdpo (ZeRO mode runs only the first of --bench.losses)"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "1 rank(s), backend single")) << r.output;
  EXPECT_TRUE(contains(r.output, "4 pairs x 2 rows x 32 tokens")) << r.output;
  EXPECT_TRUE(contains(r.output, "| stage | step s (best / median) |")) << r.output;
  const auto rows = zero_rows(r.output);
  ASSERT_EQ(rows.size(), 4u) << r.output;
  for (int s = 0; s < 4; ++s) {
    EXPECT_EQ(rows[static_cast<size_t>(s)].first, s) << r.output;
    EXPECT_EQ(rows[static_cast<size_t>(s)].second, "0.00") << r.output;  // MiB sent
  }

  std::ifstream in(path);
  ASSERT_TRUE(in) << r.output;
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["mode"], "zero");
  EXPECT_EQ(j["loss"], "gdpo");
  EXPECT_EQ(j["world_size"], 1);
  const auto& zero = j["zero"];
  ASSERT_EQ(zero.size(), 4u) << j.dump(2);
  for (size_t s = 0; s < 4; ++s) {
    const auto& row = zero[s];
    EXPECT_EQ(row["stage"], static_cast<int>(s));
    EXPECT_EQ(row["measured_bytes_per_step"].get<double>(), 0.0) << row.dump();
    EXPECT_EQ(row["predicted_bytes_per_step"].get<double>(), 0.0) << row.dump();
    EXPECT_TRUE(row["ratio"].is_null()) << row.dump();
    EXPECT_GT(row["seconds_per_step"].get<double>(), 0) << row.dump();
    for (const char* field : {"parameters", "gradients", "optimizer", "total"})
      EXPECT_GT(row["memory"][field].get<int64_t>(), 0) << field << " " << row.dump();
    const auto& m = row["memory"];
    EXPECT_EQ(m["total"].get<int64_t>(), m["parameters"].get<int64_t>() +
                                              m["gradients"].get<int64_t>() +
                                              m["optimizer"].get<int64_t>());
  }
  EXPECT_EQ(zero[1]["memory"]["optimizer"], zero[0]["memory"]["optimizer"]) << zero.dump(2);
}

// The formula of zero_predicted_bytes (bench_zero_stages.hpp) on hand-computed numbers.
TEST(BenchStep, ZeroPredictedBytes) {
  app::bench::ZeroSizes z;
  z.world = 4;  // f = 3/4
  z.micro_batches = 2;
  z.unpadded = 1000;
  z.padded = 1008;
  z.blocks = 800;
  z.rest = 208;
  EXPECT_DOUBLE_EQ(app::bench::zero_predicted_bytes(0, z), 1500);
  EXPECT_DOUBLE_EQ(app::bench::zero_predicted_bytes(1, z), 1500 + 756);
  EXPECT_DOUBLE_EQ(app::bench::zero_predicted_bytes(2, z), 1512);
  EXPECT_DOUBLE_EQ(app::bench::zero_predicted_bytes(3, z), 0.75 * (2 * 2 * 800 + 208) + 756);
  z.world = 1;
  for (int s = 0; s < 4; ++s) EXPECT_EQ(app::bench::zero_predicted_bytes(s, z), 0.0) << s;
}

TEST(BenchStep, ZeroStagesUsageErrors) {
  for (const char* bad : {"4", "0,5", "a", "0,,1", "1,1", "0,1,", "''", "0,-1", "12"}) {
    auto r = run_app(kTiny + " --bench.zero-stages " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "--bench.zero-stages")) << bad << "\n" << r.output;
  }
  auto r = run_app(kTiny + " --bench.zero-stages 0,3 --bench.check");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--bench.zero-stages cannot be combined with --bench.check"))
      << r.output;
  r = run_app(kTiny + " --bench.zero-stages 0 --bench.golden " + source_dir() + "/tests/golden");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--bench.zero-stages cannot be combined with --bench.golden"))
      << r.output;
  r = run_app(kTiny + " --bench.grad-accum 3");  // 4 pairs
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--bench.grad-accum")) << r.output;
}

// Two ranks (mpiexec -n 2, the gdpo binary): stage 3 holds about half of what stage 0 holds per
// rank, and the bytes each rank sends per step agree with zero_predicted_bytes (the metric
// reductions, left out of the formula, are small next to the tiny model's 0.5 MiB).
TEST(BenchStep, ZeroStagesTwoRanks) {
  TempDir tmp;
  const std::string path = tmp.file("zero2.json");
  auto r = run_gdpo_mpi2("bench step --bench.preset tiny --bench.device cpu --dist.threads 1 "
                         "--bench.warmup 1 --bench.steps 2 --bench.losses gdpo "
                         "--bench.zero-stages 0,1,2,3 --bench.json " + path,
                         300);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "2 rank(s), backend mpi")) << r.output;
  EXPECT_EQ(zero_rows(r.output).size(), 4u) << r.output;  // rank 0 alone prints the table
  std::ifstream in(path);
  ASSERT_TRUE(in) << r.output;
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["world_size"], 2);
  const auto& zero = j["zero"];
  ASSERT_EQ(zero.size(), 4u) << j.dump(2);
  const double total0 = zero[0]["memory"]["total"].get<double>();
  const double total3 = zero[3]["memory"]["total"].get<double>();
  EXPECT_GE(total3, 0.4 * total0) << zero.dump(2);
  EXPECT_LE(total3, 0.6 * total0) << zero.dump(2);
  for (size_t s = 0; s < 4; ++s) {
    const double measured = zero[s]["measured_bytes_per_step"].get<double>();
    const double predicted = zero[s]["predicted_bytes_per_step"].get<double>();
    ASSERT_GT(predicted, 0) << s << " " << zero[s].dump();
    EXPECT_GE(measured / predicted, 0.8) << s << " " << zero[s].dump();
    EXPECT_LE(measured / predicted, 1.25) << s << " " << zero[s].dump();
  }
  // Stage 3 sends more than stage 0 (every block gathered twice); stages 1 and 2 shard the
  // optimizer state.
  EXPECT_GT(zero[3]["measured_bytes_per_step"].get<double>(),
            zero[0]["measured_bytes_per_step"].get<double>());
  EXPECT_LT(zero[1]["memory"]["optimizer"].get<double>(),
            0.6 * zero[0]["memory"]["optimizer"].get<double>());
}

}  // namespace
}  // namespace gdpo::test
