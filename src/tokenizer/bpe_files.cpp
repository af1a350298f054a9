#include "gdpo/tokenizer/bpe_files.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gdpo/core/error.hpp"

namespace gdpo::tokenizer {

namespace {

using nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) GDPO_THROW(InputError, "cannot read tokenizer file '" << path << "': " << std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) GDPO_THROW(InputError, "error reading tokenizer file '" << path << "'");
  return text.str();
}

json parse_json(const std::string& path) {
  try {
    return json::parse(read_text(path));
  } catch (const json::parse_error& e) {
    GDPO_THROW(InputError, path << ": invalid JSON: " << e.what());
  }
}

// The name of the directory holding `path` ("gpt2" for .../gpt2/vocab.json).
std::string directory_name(const std::string& path) {
  auto dir = std::filesystem::absolute(path).lexically_normal().parent_path().filename().string();
  return dir.empty() ? std::string("tokenizer") : dir;
}

// The vocabulary object {"token": id, ...} at `where` in `path`.
std::vector<std::pair<std::string, int64_t>> read_vocab(const json& vocab, const std::string& path,
                                                        const std::string& where) {
  if (!vocab.is_object())
    GDPO_THROW(InputError, path << ": " << where << " must be an object {\"token\": id, ...}, got "
                                << vocab.type_name());
  std::vector<std::pair<std::string, int64_t>> out;
  out.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer())
      GDPO_THROW(InputError, path << ": " << where << ": token '" << it.key()
                                  << "' must have an integer id, got " << it.value().dump());
    out.emplace_back(it.key(), it.value().get<int64_t>());
  }
  return out;
}

// "a b" -> (a, b); false unless exactly two non-empty fields separated by one space.
bool split_merge(const std::string& line, std::pair<std::string, std::string>& merge) {
  auto space = line.find(' ');
  if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
      line.find(' ', space + 1) != std::string::npos)
    return false;
  merge = {line.substr(0, space), line.substr(space + 1)};
  return true;
}

bool flag(const json& obj, const char* key, bool fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  return it->is_boolean() ? it->get<bool>() : fallback;
}

std::string type_of(const json& component) {
  if (!component.is_object() || !component.contains("type") || !component["type"].is_string())
    return component.dump();
  return component["type"].get<std::string>();
}

}  // namespace

BpeSpec read_gpt2_files(const std::string& vocab_json, const std::string& merges_txt) {
  BpeSpec spec;
  spec.name = directory_name(vocab_json);
  spec.source = vocab_json + " + " + merges_txt;
  spec.vocab = read_vocab(parse_json(vocab_json), vocab_json, "the vocabulary");
  for (const auto& [token, id] : spec.vocab)
    if (token == spec.eos_token) spec.added_tokens.push_back({token, id, true, false});

  std::istringstream in(read_text(merges_txt));
  auto lines = std::make_shared<std::vector<int>>();  // rank -> line number
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1 && line.rfind("#version", 0) == 0) continue;
    std::pair<std::string, std::string> merge;
    if (!split_merge(line, merge))
      GDPO_THROW(InputError, merges_txt << " line " << number
                                        << ": expected two tokens separated by one space, got '"
                                        << line << "'");
    spec.merges.push_back(std::move(merge));
    lines->push_back(number);
  }
  spec.merge_location = [merges_txt, lines](size_t rank) {
    return merges_txt + " line " + std::to_string((*lines)[rank]);
  };
  return spec;
}

BpeSpec read_tokenizer_json(const std::string& path) {
  const json root = parse_json(path);
  auto fail = [&path](const std::string& what) { GDPO_THROW(InputError, path << ": " << what); };
  if (!root.is_object()) fail("expected a JSON object (a Hugging Face tokenizer.json)");
  BpeSpec spec;
  spec.name = directory_name(path);
  spec.source = path;

  // model: BPE with vocab and merges.
  auto model_it = root.find("model");
  if (model_it == root.end() || !model_it->is_object()) fail("no \"model\" object");
  const json& model = *model_it;
  if (model.contains("type") && type_of(model) != "BPE")
    fail("model type '" + type_of(model) + "' is not supported (supported: BPE)");
  if (!model.contains("vocab") || !model.contains("merges"))
    fail("model needs \"vocab\" and \"merges\"");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()))
      fail(std::string("model.") + key + " is not supported (byte-level BPE has none)");
  }
  if (auto it = model.find("dropout");
      it != model.end() && !it->is_null() && !(it->is_number() && it->get<double>() == 0.0))
    fail("model.dropout " + it->dump() + " is not supported (BPE dropout is for training)");
  spec.vocab = read_vocab(model["vocab"], path, "model.vocab");
  spec.ignore_merges = flag(model, "ignore_merges", false);
  const json& merges = model["merges"];
  if (!merges.is_array()) fail("model.merges must be an array");
  spec.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    std::pair<std::string, std::string> merge;
    bool ok = false;
    if (m.is_string()) {
      ok = split_merge(m.get<std::string>(), merge);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merge = {m[0].get<std::string>(), m[1].get<std::string>()};
      ok = !merge.first.empty() && !merge.second.empty();
    }
    if (!ok)
      fail("model.merges[" + std::to_string(i) +
           "]: expected \"a b\" or [\"a\", \"b\"], got " + m.dump());
    spec.merges.push_back(std::move(merge));
  }
  spec.merge_location = [path](size_t rank) {
    return path + " model.merges[" + std::to_string(rank) + "]";
  };

  // normalizer: NFC or none.
  if (auto it = root.find("normalizer"); it != root.end() && !it->is_null()) {
    if (type_of(*it) != "NFC")
      fail("normalizer type '" + type_of(*it) + "' is not supported (supported: NFC, null)");
    spec.normalizer = Normalizer::kNfc;
  }
  // pre_tokenizer: ByteLevel with GPT-2's regex and no prefix space.
  auto pre = root.find("pre_tokenizer");
  if (pre == root.end() || pre->is_null() || type_of(*pre) != "ByteLevel")
    fail("pre_tokenizer type '" + (pre == root.end() ? std::string("null") : type_of(*pre)) +
         "' is not supported (supported: ByteLevel)");
  if (flag(*pre, "add_prefix_space", true))
    fail("pre_tokenizer ByteLevel with add_prefix_space true is not supported");
  if (!flag(*pre, "use_regex", true))
    fail("pre_tokenizer ByteLevel with use_regex false is not supported");
  // decoder: ByteLevel (or none: ids decode to their bytes either way).
  if (auto it = root.find("decoder"); it != root.end() && !it->is_null() && type_of(*it) != "ByteLevel")
    fail("decoder type '" + type_of(*it) + "' is not supported (supported: ByteLevel, null)");

  // added_tokens.
  if (auto it = root.find("added_tokens"); it != root.end() && !it->is_null()) {
    if (!it->is_array()) fail("added_tokens must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& t = (*it)[i];
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
          !t.contains("content") || !t["content"].is_string())
        fail(where + ": expected an object with an integer \"id\" and a string \"content\"");
      AddedToken added;
      added.content = t["content"].get<std::string>();
      added.id = t["id"].get<int64_t>();
      added.special = flag(t, "special", false);
      added.normalized = flag(t, "normalized", !added.special);
      for (const char* key : {"lstrip", "rstrip", "single_word"})
        if (flag(t, key, false))
          fail(where + " ('" + added.content + "'): " + key + " true is not supported");
      spec.added_tokens.push_back(std::move(added));
    }
  }
  return spec;
}

}  // namespace gdpo::tokenizer
