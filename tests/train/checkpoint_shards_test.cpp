// Sharded checkpoints: two "ranks" (in one process) write pieces of the same tensors with different
// splits, rank 0's manifest merges them, and the reader gives back the whole tensors, element
// ranges across the splits, and a whole model + optimizer exactly as a single file does; missing
// shards, gaps and overlaps are errors naming the shard or the tensor and range; version-2 single
// files still read; pruning removes .shards folders and a folder without manifest is ignored.
#include "gdpo/train/checkpoint_shards.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "gdpo/core/error.hpp"
#include "gdpo/io/atomic_file.hpp"
#include "gdpo/io/hdf5_file.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/checkpoint.hpp"
#include "gdpo/train/optimizer.hpp"
#include "support/test_support.hpp"

namespace gdpo::train {
namespace {

namespace fs = std::filesystem;

// The message of the InputError `fn` throws ("" and a failed expectation if it throws none).
template <class F>
std::string input_error(F fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && torch::equal(a, b);
}

CheckpointContent content_for_step(int64_t step) {
  CheckpointContent c;
  c.state.step = step;
  c.state.examples = 4 * step;
  c.state.dataset_size = 100;
  c.state.world_size = 2;
  c.config_ini = "[train]\nlr = 0.001\n";
  c.model_config_json = "{}";
  c.reference_fingerprint = "ref";
  return c;
}

// Elements [begin, end) of `whole` (any shape) as a piece of tensor `name`.
TensorPiece piece(const std::string& name, const torch::Tensor& whole, int64_t begin, int64_t end) {
  return {name, whole.sizes().vec(), begin, whole.reshape(-1).slice(0, begin, end).contiguous()};
}

// Hand-checkable tensors: a [3, 4] weight split at element 5, a [2, 3] one held wholly by rank 1,
// a bfloat16 [5] split at 2, and optimizer state of the first split differently (rank 0 holds two
// pieces of it, rank 1 the middle).
struct Tensors {
  torch::Tensor a = torch::arange(12, torch::kFloat).reshape({3, 4}) * 0.5;  // 0, 0.5, ..., 5.5
  torch::Tensor b = torch::arange(6, torch::kFloat).reshape({2, 3}) - 10;
  torch::Tensor c = torch::tensor({1.0f, -2.0f, 3.140625f, 0.5f, 7.0f}).to(torch::kBFloat16);
  torch::Tensor sq = torch::arange(12, torch::kFloat).reshape({3, 4}) + 100;

  std::vector<TensorPiece> rank0() const {
    return {piece("policy/a", a, 0, 5), piece("policy/c", c, 0, 2),
            piece("optimizer/square_avg/a", sq, 0, 2), piece("optimizer/square_avg/a", sq, 9, 12)};
  }
  std::vector<TensorPiece> rank1() const {
    return {piece("policy/a", a, 5, 12), piece("policy/b", b, 0, 6), piece("policy/c", c, 2, 5),
            piece("optimizer/square_avg/a", sq, 2, 9)};
  }
  // Both shards and the manifest (optimizer step 7).
  void save(const std::string& path) const {
    save_checkpoint_shard(path, 0, 2, rank0());
    save_checkpoint_shard(path, 1, 2, rank1());
    save_sharded_manifest(path, 2, "rmsprop", 7, content_for_step(3));
  }
};

TEST(CheckpointShards, FilesAreNamedAfterTheCheckpoint) {
  EXPECT_EQ(shards_directory("/run/checkpoints/step-00000042.h5"),
            "/run/checkpoints/step-00000042.shards");
  EXPECT_EQ(shard_file_path("/run/checkpoints/step-00000042.h5", 1, 2),
            "/run/checkpoints/step-00000042.shards/rank-00001-of-00002.h5");
}

TEST(CheckpointShards, TwoRanksWithDifferentSplitsReadBackExactly) {
  test::TempDir dir;
  const std::string path = dir.file("step-00000003.h5");
  const Tensors t;
  t.save(path);
  ASSERT_TRUE(fs::is_regular_file(shard_file_path(path, 0, 2)));
  ASSERT_TRUE(fs::is_regular_file(shard_file_path(path, 1, 2)));

  CheckpointTensors r(path);
  EXPECT_TRUE(r.sharded());
  EXPECT_EQ(r.shard_count(), 2);
  EXPECT_EQ(r.names(), (std::vector<std::string>{"optimizer/square_avg/a", "optimizer/step",
                                                 "policy/a", "policy/b", "policy/c"}));
  EXPECT_TRUE(r.has("policy/b"));
  EXPECT_FALSE(r.has("policy/z"));
  EXPECT_EQ(r.shape("policy/a"), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(r.dtype("policy/c"), torch::kBFloat16);
  EXPECT_EQ(r.optimizer_kind(), "rmsprop");
  EXPECT_EQ(r.optimizer_step(), 7);

  EXPECT_TRUE(same(r.read("policy/a", torch::kFloat, {3, 4}), t.a));
  EXPECT_TRUE(same(r.read("policy/b", torch::kFloat, {2, 3}), t.b));
  EXPECT_TRUE(same(r.read("policy/c", torch::kBFloat16, {5}), t.c));  // bf16 bit-exact
  EXPECT_TRUE(same(r.read("policy/c", torch::kFloat, {5}), t.c.to(torch::kFloat)));
  EXPECT_TRUE(same(r.read("optimizer/square_avg/a", torch::kFloat, {3, 4}), t.sq));
  EXPECT_TRUE(
      same(r.read("optimizer/step", torch::kLong, {}), torch::scalar_tensor(7, torch::kLong)));

  // Elements 3..6 of a: 1.5, 2 from rank 0 and 2.5, 3 from rank 1.
  EXPECT_TRUE(
      same(r.read_range("policy/a", torch::kFloat, 3, 4), torch::tensor({1.5f, 2.0f, 2.5f, 3.0f})));
  // Across rank 0's first piece, rank 1's and rank 0's second: elements 1..10 = 101..110.
  EXPECT_TRUE(same(r.read_range("optimizer/square_avg/a", torch::kFloat, 1, 10),
                   torch::arange(101, 111, torch::kFloat)));
  EXPECT_EQ(r.read_range("policy/a", torch::kFloat, 12, 0).numel(), 0);
  const std::string out_of_range =
      input_error([&] { r.read_range("policy/a", torch::kFloat, 10, 3); });
  EXPECT_NE(out_of_range.find("policy/a"), std::string::npos) << out_of_range;
  EXPECT_NE(out_of_range.find("[10, 13)"), std::string::npos) << out_of_range;

  const std::string misshapen = input_error([&] { r.read("policy/a", torch::kFloat, {4, 3}); });
  EXPECT_NE(misshapen.find(path), std::string::npos) << misshapen;
  EXPECT_NE(misshapen.find("policy/a"), std::string::npos) << misshapen;
  const std::string absent = input_error([&] { r.read("policy/z", torch::kFloat, {1}); });
  EXPECT_NE(absent.find("policy/z"), std::string::npos) << absent;

  // The manifest: counters as a single file has them; tensors declared with shape, no data.
  const CheckpointContent info = read_checkpoint_info(path);
  EXPECT_EQ(info.state.step, 3);
  EXPECT_EQ(info.state.examples, 12);
  EXPECT_EQ(info.config_ini, "[train]\nlr = 0.001\n");
  const auto m = io::H5File::open_read(path);
  EXPECT_EQ(m.int_attr("/", "format_version"), kCheckpointFormatVersion);
  EXPECT_EQ(m.string_attr("/", "layout"), "sharded");
  EXPECT_EQ(m.int_attr("/", "shard_count"), 2);
  EXPECT_EQ(m.int_attr("/", "optimizer_step"), 7);
  EXPECT_EQ(m.tensor_info("policy/a").shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(m.int_array_attr("policy/a", "pieces"), (std::vector<int64_t>{0, 0, 5, 1, 5, 7}));
  EXPECT_EQ(m.int_array_attr("optimizer/square_avg/a", "pieces"),
            (std::vector<int64_t>{0, 0, 2, 1, 2, 7, 0, 9, 3}));
  EXPECT_THROW(m.read_tensor("policy/a"), InputError);  // holds no data
  // A shard: pieces at "<name>@<offset>" with the whole shape and the offset.
  const auto s = io::H5File::open_read(shard_file_path(path, 1, 2));
  EXPECT_EQ(s.string_attr("/", "format"), "gdpo-checkpoint-shard");
  EXPECT_EQ(s.int_array_attr("policy/a@5", "shape"), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(s.int_attr("policy/a@5", "offset"), 5);
  EXPECT_TRUE(same(s.read_tensor("policy/a@5"), t.a.reshape(-1).slice(0, 5, 12)));
}

// A tiny GPT-2 and an AdamW optimizer that took one step (so every state slot is non-zero).
struct TinyRun {
  model::CausalLMPtr policy;
  std::unique_ptr<Optimizer> optimizer;
  explicit TinyRun(uint64_t seed, bool step) {
    policy = model::build_model(model::load_model_config("tiny-gpt2"), seed);
    OptimizerConfig c;
    c.kind = OptimizerKind::kAdamw;
    optimizer = make_optimizer(c, policy->hf_state_dict());
    if (!step) return;
    torch::manual_seed(seed);
    for (auto& [name, p] : policy->hf_state_dict()) p.mutable_grad() = torch::randn_like(p);
    optimizer->step(1e-3);
  }
};

// Every tensor of `run`, split between two ranks: rank 0 holds the first third of each, rank 1 the
// rest; every other tensor lies wholly in rank 1's file.
std::vector<TensorPiece> tiny_pieces(const TinyRun& run, int rank) {
  std::vector<std::pair<std::string, torch::Tensor>> all;
  for (const auto& [name, p] : run.policy->hf_state_dict()) all.emplace_back("policy/" + name, p);
  for (const auto& [name, s] : run.optimizer->state())
    if (name != "step") all.emplace_back("optimizer/" + name, s);
  std::vector<TensorPiece> out;
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& [name, tensor] = all[i];
    const torch::Tensor flat = tensor.detach().reshape(-1);
    const int64_t split = i % 2 == 0 ? flat.numel() / 3 : 0;
    if (rank == 0 && split > 0) out.push_back(piece(name, tensor.detach(), 0, split));
    if (rank == 1) out.push_back(piece(name, tensor.detach(), split, flat.numel()));
  }
  return out;
}

void expect_same_run(const TinyRun& got, const TinyRun& want) {
  const auto g = got.policy->hf_state_dict(), w = want.policy->hf_state_dict();
  ASSERT_EQ(g.size(), w.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_TRUE(same(g[i].second, w[i].second)) << g[i].first;
  const auto gs = got.optimizer->state(), ws = want.optimizer->state();
  ASSERT_EQ(gs.size(), ws.size());
  for (size_t i = 0; i < gs.size(); ++i)
    EXPECT_TRUE(same(gs[i].second, ws[i].second)) << gs[i].first;
  EXPECT_EQ(got.optimizer->steps(), want.optimizer->steps());
}

TEST(CheckpointShards, LoadsIntoAWholeModelAndOptimizerAsASingleFileDoes) {
  test::TempDir dir;
  const TinyRun written(1, /*step=*/true);
  CheckpointDirectory checkpoints(dir.path().string());
  const CheckpointContent content = content_for_step(5);
  const std::string path = checkpoints.path_for_step(5);
  for (int rank = 0; rank < 2; ++rank)
    save_checkpoint_shard(path, rank, 2, tiny_pieces(written, rank));
  EXPECT_EQ(checkpoints.commit_sharded(2, written.optimizer->kind(), written.optimizer->steps(),
                                       content, /*is_best=*/false, /*keep_last=*/3),
            path);
  EXPECT_EQ(checkpoints.find_latest(), path);

  TinyRun sharded(2, /*step=*/false);  // other weights, fresh state
  const CheckpointContent loaded =
      load_checkpoint(path, sharded.policy.get(), sharded.optimizer.get());
  EXPECT_EQ(loaded.state.step, 5);
  expect_same_run(sharded, written);

  // The same run as a single file loads the same.
  const std::string single = dir.file("single.h5");
  save_checkpoint(single, *written.policy, *written.optimizer, content);
  TinyRun whole(3, /*step=*/false);
  load_checkpoint(single, whole.policy.get(), whole.optimizer.get());
  expect_same_run(whole, sharded);

  // A run with another optimizer is told which state the checkpoint holds.
  OptimizerConfig rms;
  auto other = make_optimizer(rms, sharded.policy->hf_state_dict());
  const std::string kind = input_error([&] { load_checkpoint(path, nullptr, other.get()); });
  EXPECT_NE(kind.find("adamw"), std::string::npos) << kind;
}

TEST(CheckpointShards, AMissingShardIsAnInputErrorNamingIt) {
  test::TempDir dir;
  CheckpointDirectory checkpoints(dir.path().string());
  const Tensors t;
  const std::string older = checkpoints.path_for_step(2), path = checkpoints.path_for_step(4);
  t.save(older);
  t.save(path);
  io::write_file_atomic(dir.file("latest"), "step-00000004.h5\n");
  fs::remove(shard_file_path(path, 1, 2));

  const std::string expected =
      "checkpoint '" + path + "': shard 'rank-00001-of-00002.h5' is missing";
  EXPECT_EQ(input_error([&] { CheckpointTensors r(path); }), expected);
  EXPECT_EQ(input_error([&] { read_checkpoint_info(path); }), expected);
  EXPECT_EQ(input_error([&] { load_checkpoint(path, nullptr, nullptr); }), expected);
  // `latest` names it, but its shards are gone: the newest complete one is taken.
  EXPECT_EQ(checkpoints.find_latest(), older);

  // A shard that is there but not HDF5: named when it is first read.
  test::write_file(shard_file_path(path, 1, 2), "not hdf5");
  CheckpointTensors r(path);
  EXPECT_TRUE(same(r.read_range("policy/a", torch::kFloat, 0, 5), t.a.reshape(-1).slice(0, 0, 5)));
  const std::string unreadable = input_error([&] { r.read("policy/a", torch::kFloat, {3, 4}); });
  EXPECT_NE(unreadable.find("shard 'rank-00001-of-00002.h5' is unreadable"), std::string::npos)
      << unreadable;
}

TEST(CheckpointShards, TheManifestWriterRejectsGapsOverlapsAndShapeMismatches) {
  test::TempDir dir;
  const std::string path = dir.file("step-00000003.h5");
  const Tensors t;
  auto rank1 = t.rank1();
  rank1.erase(rank1.begin());  // no policy/a [5, 12)
  save_checkpoint_shard(path, 0, 2, t.rank0());
  save_checkpoint_shard(path, 1, 2, rank1);
  auto manifest = [&] { save_sharded_manifest(path, 2, "rmsprop", 7, content_for_step(3)); };
  std::string gap = input_error(manifest);
  EXPECT_NE(gap.find("tensor 'policy/a'"), std::string::npos) << gap;
  EXPECT_NE(gap.find("elements [5, 12)"), std::string::npos) << gap;
  EXPECT_FALSE(fs::exists(path));

  rank1 = t.rank1();
  rank1[0] = piece("policy/a", t.a, 4, 12);
  save_checkpoint_shard(path, 1, 2, rank1);
  const std::string twice = input_error(manifest);
  EXPECT_NE(twice.find("tensor 'policy/a'"), std::string::npos) << twice;
  EXPECT_NE(twice.find("elements [4, 5) are held twice"), std::string::npos) << twice;

  rank1 = t.rank1();
  rank1[0].shape = {4, 3};
  save_checkpoint_shard(path, 1, 2, rank1);
  const std::string shape = input_error(manifest);
  EXPECT_NE(shape.find("tensor 'policy/a' has shape [3, 4]"), std::string::npos) << shape;

  fs::remove(shard_file_path(path, 1, 2));
  EXPECT_NE(input_error(manifest).find("shard 'rank-00001-of-00002.h5' is missing"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(path));

  // A piece outside its tensor, or two overlapping in one file, is the caller's bug.
  EXPECT_THROW(save_checkpoint_shard(
                   path, 0, 2, {piece("policy/a", t.a, 8, 12), piece("policy/a", t.a, 10, 12)}),
               Error);
  TensorPiece beyond = piece("policy/a", t.a, 0, 12);
  beyond.offset = 1;
  EXPECT_THROW(save_checkpoint_shard(path, 0, 2, {beyond}), Error);
}

TEST(CheckpointShards, TheReaderNamesAGapInAManifest) {
  test::TempDir dir;
  const std::string path = dir.file("step-00000003.h5");
  Tensors().save(path);
  {  // as if rank 1's piece of policy/a were not listed
    auto m = io::H5File::open_rw(path);
    m.set_attr("policy/a", "pieces", std::vector<int64_t>{0, 0, 5});
    m.close();
  }
  CheckpointTensors r(path);
  EXPECT_TRUE(
      same(r.read_range("policy/a", torch::kFloat, 1, 4), torch::tensor({0.5f, 1.0f, 1.5f, 2.0f})));
  const std::string gap = input_error([&] { r.read("policy/a", torch::kFloat, {3, 4}); });
  EXPECT_NE(gap.find("tensor 'policy/a'"), std::string::npos) << gap;
  EXPECT_NE(gap.find("elements [5, 12)"), std::string::npos) << gap;
}

TEST(CheckpointShards, AVersion2SingleFileStillReads) {
  test::TempDir dir;
  const TinyRun written(1, /*step=*/true);
  const std::string path = dir.file("step-00000002.h5");
  save_checkpoint(path, *written.policy, *written.optimizer, content_for_step(2));
  {  // what gdpo wrote before sharding: no layout attribute, format_version 2
    auto f = io::H5File::open_rw(path);
    ASSERT_GE(H5Adelete(f.id(), "layout"), 0);
    f.set_attr("/", "format_version", int64_t{2});
    f.close();
  }
  CheckpointTensors r(path);
  EXPECT_FALSE(r.sharded());
  EXPECT_EQ(r.shard_count(), 1);
  EXPECT_EQ(r.optimizer_kind(), "adamw");
  EXPECT_EQ(r.optimizer_step(), 1);
  const std::string wte = "policy/transformer.wte.weight";
  ASSERT_TRUE(r.has(wte));
  EXPECT_TRUE(r.has("optimizer/exp_avg/transformer.wte.weight"));
  torch::Tensor weight;
  for (const auto& [name, p] : written.policy->hf_state_dict())
    if (name == "transformer.wte.weight") weight = p.detach();
  ASSERT_TRUE(weight.defined() && weight.dim() == 2);
  EXPECT_EQ(r.shape(wte), weight.sizes().vec());
  EXPECT_TRUE(same(r.read(wte, torch::kFloat, weight.sizes()), weight));
  // A range across rows of the 2-D dataset (a partial row, whole rows, a partial row).
  const int64_t hidden = weight.size(1);
  EXPECT_TRUE(same(r.read_range(wte, torch::kFloat, hidden - 3, 2 * hidden + 5),
                   weight.reshape(-1).slice(0, hidden - 3, 3 * hidden + 2)));

  TinyRun loaded(2, /*step=*/false);
  EXPECT_EQ(load_checkpoint(path, loaded.policy.get(), loaded.optimizer.get()).state.step, 2);
  expect_same_run(loaded, written);
}

TEST(CheckpointShards, PruningRemovesShardFoldersAndAFolderWithoutManifestIsIgnored) {
  test::TempDir dir;
  CheckpointDirectory checkpoints(dir.path().string());
  const Tensors t;
  // A killed attempt's shards of step 9, never committed.
  const std::string killed = checkpoints.path_for_step(9);
  save_checkpoint_shard(killed, 0, 2, t.rank0());
  EXPECT_TRUE(checkpoints.list().empty());
  EXPECT_FALSE(checkpoints.find_latest().has_value());

  auto commit = [&](int64_t step) {
    const std::string path = checkpoints.path_for_step(step);
    save_checkpoint_shard(path, 0, 2, t.rank0());
    save_checkpoint_shard(path, 1, 2, t.rank1());
    return checkpoints.commit_sharded(2, "rmsprop", step, content_for_step(step), step == 1, 2);
  };
  const std::string p1 = commit(1);
  EXPECT_EQ(checkpoints.find_latest(), p1);
  EXPECT_FALSE(fs::exists(shards_directory(killed)));  // removed by the commit's pruning
  const std::string p2 = commit(2), p3 = commit(3), p4 = commit(4);
  // keep_last 2 and the best (step 1): step 2 and its shards are gone.
  EXPECT_EQ(checkpoints.list(), (std::vector<std::string>{p1, p3, p4}));
  EXPECT_FALSE(fs::exists(p2));
  EXPECT_FALSE(fs::exists(shards_directory(p2)));
  for (const auto& p : {p1, p3, p4}) EXPECT_TRUE(fs::is_directory(shards_directory(p))) << p;
  EXPECT_EQ(checkpoints.find_latest(), p4);
  EXPECT_EQ(checkpoints.find_best(), p1);

  // A stale folder of step 5 without its manifest: not a checkpoint.
  save_checkpoint_shard(checkpoints.path_for_step(5), 1, 2, t.rank1());
  EXPECT_EQ(checkpoints.list().back(), p4);
  EXPECT_EQ(checkpoints.find_latest(), p4);
}

TEST(CheckpointShards, LeftoversOfEarlierAttemptsAreReplaced) {
  test::TempDir dir;
  const std::string path = dir.file("step-00000003.h5");
  const Tensors t;
  // An attempt whose rank 0 wrote other values and whose manifest exists (killed before `latest`
  // moved), a shard of an attempt on 4 ranks and a temporary of a killed writer.
  std::vector<TensorPiece> stale = t.rank0();
  stale[0].values = stale[0].values + 1000;
  save_checkpoint_shard(path, 0, 2, stale);
  save_checkpoint_shard(path, 1, 2, t.rank1());
  save_sharded_manifest(path, 2, "rmsprop", 7, content_for_step(3));
  save_checkpoint_shard(path, 3, 4, t.rank1());
  test::write_file((fs::path(shards_directory(path)) / ".rank-00000-of-00002.h5.tmp.1.0").string(),
                   "x");

  // The new attempt: rank 0 removes the old manifest first, the shards are replaced.
  save_checkpoint_shard(path, 0, 2, t.rank0());
  EXPECT_FALSE(fs::exists(path));
  save_checkpoint_shard(path, 1, 2, t.rank1());
  save_sharded_manifest(path, 2, "rmsprop", 7, content_for_step(3));
  EXPECT_TRUE(same(CheckpointTensors(path).read("policy/a", torch::kFloat, {3, 4}), t.a));
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(shards_directory(path)))
    files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"rank-00000-of-00002.h5", "rank-00001-of-00002.h5"}));
}

}  // namespace
}  // namespace gdpo::train
