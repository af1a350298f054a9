// `gdpo inspect`, in-process: a config, a Hugging Face folder (whose logits on given ids it
// writes), a safetensors file, and the exit codes of a corrupt file (3) and a bad name or no path
// (2); every kind of bad model folder is refused (3) with the message loading it for training
// gives.
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <limits>

#include "gdpo/core/error.hpp"
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

// The folders `train` refuses (load_hf_model, which train, eval and the benchmarks use to load
// --model.path): inspect refuses each with exit code 3 and the same message.
TEST(Inspect, RefusesEveryFolderLoadingRefusesWithTheSameMessage) {
  using json = nlohmann::json;
  test::TempDir dir;
  const std::string folder = dir.file("hf");
  auto m = build_model(load_model_config("tiny-gpt2"), 2);
  save_hf_model(*m, folder);
  io::NamedTensors tensors;
  for (const auto& [name, t] : m->hf_state_dict()) tensors.emplace_back(name, t.detach().clone());
  const json config = json::parse(test::read_file(folder + "/config.json"));
  const std::string weights = folder + "/model.safetensors";

  // Each variant changes the folder; the folder is rewritten whole before the next.
  std::vector<std::pair<std::string, std::function<void()>>> variants;
  for (size_t i = 0; i < tensors.size(); i += 4) {
    variants.emplace_back("without " + tensors[i].first, [&, i] {
      auto t = tensors;
      t.erase(t.begin() + static_cast<std::ptrdiff_t>(i));
      io::write_safetensors(weights, t);
    });
    variants.emplace_back(tensors[i].first + " misshapen", [&, i] {
      auto t = tensors;
      t[i].second = torch::zeros({t[i].second.numel() + 1});
      io::write_safetensors(weights, t);
    });
    variants.emplace_back(tensors[i].first + " as I32", [&, i] {
      auto t = tensors;
      t[i].second = torch::zeros(t[i].second.sizes(), torch::kInt32);
      io::write_safetensors(weights, t);
    });
    variants.emplace_back(tensors[i].first + " with NaN", [&, i] {
      auto t = tensors;
      t[i].second = t[i].second.clone();
      t[i].second.view(-1)[0].fill_(std::numeric_limits<float>::quiet_NaN());
      io::write_safetensors(weights, t);
    });
  }
  variants.emplace_back("an extra tensor", [&] {
    auto t = tensors;
    t.emplace_back("mystery.weight", torch::zeros({2}));
    io::write_safetensors(weights, t);
  });
  variants.emplace_back("a tensor under two names", [&] {
    auto t = tensors;
    t.emplace_back("wte.weight", tensors[0].second);
    io::write_safetensors(weights, t);
  });
  for (const auto& [key, value] : std::vector<std::pair<std::string, json>>{
           {"vocab_size", int64_t{2000000000}},  // LibTorch's allocation error (exit 1) before
           {"vocab_size", int64_t{67108864}},
           {"vocab_size", kMaxVocabSize},  // within the bounds: the size budget
           {"n_layer", int64_t{100000}},
           {"n_layer", int64_t{3}},
           {"n_embd", int64_t{-64}},
           {"n_head", int64_t{3}},
           {"n_inner", json(1.5)}})
    variants.emplace_back("config " + key + " = " + value.dump(), [&, key = key, value = value] {
      json c = config;
      c[key] = value;
      test::write_file(folder + "/config.json", c.dump(2));
    });
  variants.emplace_back("config with a duplicate key", [&] {
    test::write_file(folder + "/config.json", "{\"n_layer\": 4, " + config.dump().substr(1));
  });
  variants.emplace_back("config.json a FIFO", [&] {
    std::filesystem::remove(folder + "/config.json");
    ASSERT_EQ(::mkfifo((folder + "/config.json").c_str(), 0600), 0);
  });
  variants.emplace_back("a tensor in two shards", [&] {
    save_hf_model(*m, folder, "", /*max_shard_bytes=*/40000);
    const json map = json::parse(test::read_file(folder + "/model.safetensors.index.json"));
    const std::string own = map["weight_map"]["transformer.wte.weight"].get<std::string>();
    const std::string other = map["weight_map"]["transformer.wpe.weight"].get<std::string>();
    ASSERT_NE(own, other);
    io::write_safetensors(folder + "/" + other, {{"transformer.wpe.weight", tensors[1].second},
                                                 {"transformer.wte.weight", tensors[0].second}});
  });

  for (const auto& [variant, change] : variants) {
    std::filesystem::remove_all(folder);
    save_hf_model(*m, folder);
    change();
    std::string message;
    try {
      load_hf_model(folder);
      ADD_FAILURE() << variant << ": loaded";
    } catch (const InputError& e) {
      message = e.what();
    }
    EXPECT_NE(message.find(folder), std::string::npos) << variant << ": " << message;
    auto r = test::run_app("inspect " + folder);
    EXPECT_EQ(r.exit_code, 3) << variant << ": " << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << variant << ": inspect said\n"
                                                         << r.output << "\nloading said\n"
                                                         << message;
  }
  std::filesystem::remove_all(folder);
  save_hf_model(*m, folder);
  EXPECT_EQ(test::run_app("inspect " + folder).exit_code, 0);
}

// Corrupt safetensors files given to inspect: exit 3 and a message naming the file.
TEST(Inspect, CorruptSafetensorsFilesExitWith3NamingTheFile) {
  test::TempDir dir;
  const std::string path = dir.file("x.safetensors");
  io::write_safetensors(path, {{"a", torch::ones({2})}, {"b", torch::ones({3})}});
  const std::string good = test::read_file(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(good[i]);
  const std::string header = good.substr(8, n), data = good.substr(8 + n);
  auto with_header = [&](const std::string& h) {
    std::string out;
    for (int i = 0; i < 8; ++i) out += static_cast<char>((uint64_t(h.size()) >> (8 * i)) & 0xff);
    return out + h + data;
  };
  std::string nul_padded = header;
  nul_padded.back() = '\0';
  if (header.back() != ' ') nul_padded = header + std::string(8, '\0');
  const std::vector<std::string> corrupt = {
      good + "trailing",                     // bytes no tensor covers
      with_header(nul_padded),               // NUL padding
      with_header("\xEF\xBB\xBF" + header),  // a byte order mark
      with_header(header.substr(0, header.rfind('}')) + ",\"a\":" +
                  header.substr(header.find("\"a\":") + 4, header.find('}', header.find("\"a\":")) -
                                                               header.find("\"a\":") - 3) +
                  "}"),                  // "a" twice
      good.substr(0, good.size() - 1)};  // one byte short
  for (size_t i = 0; i < corrupt.size(); ++i) {
    test::write_file(path, corrupt[i]);
    auto r = test::run_app("inspect " + path);
    EXPECT_EQ(r.exit_code, 3) << "variant " << i << ": " << r.output;
    EXPECT_NE(r.output.find(path), std::string::npos) << "variant " << i << ": " << r.output;
  }
  const std::string fifo = dir.file("pipe.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = test::run_app("inspect " + fifo);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace gdpo::model
