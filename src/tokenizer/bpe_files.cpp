#include "gdpo/tokenizer/bpe_files.hpp"

#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "gdpo/core/error.hpp"
#include "gdpo/core/regular_file.hpp"
#include "gdpo/core/utf8.hpp"
#include "gdpo/tokenizer/byte_level.hpp"

namespace gdpo::tokenizer {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Tokenizer files are a few MB (GPT-2's vocab.json is 1 MB, GPT-NeoX's tokenizer.json 2 MB); a file
// larger than this is not one, and is refused rather than read whole.
constexpr uintmax_t kMaxFileBytes = uintmax_t{1} << 30;

// A JSON value for a message: short, and never the whole of a large or deeply nested one.
std::string brief(const json& value) {
  if (value.is_structured()) {
    bool flat = value.size() <= 4;
    for (const auto& item : value) flat = flat && item.is_primitive();
    if (!flat)
      return std::string(value.is_array() ? "an array" : "an object") + " of " +
             std::to_string(value.size());
  }
  return shorten_utf8(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

// The whole of a tokenizer file. It must be a regular file (stat first: opening a FIFO would wait for
// a writer forever, and /dev/zero never ends) of at most kMaxFileBytes.
std::string read_text(const std::string& path) {
  return read_regular_file(path, "tokenizer file '" + path + "'", kMaxFileBytes);
}

// The last object key the parser read before it failed on `text` ("" when none): where a number
// too large for a double (1e400, which nlohmann reports without a position) is.
std::string key_before_error(const std::string& text) {
  std::string key;
  try {
    const json parsed = json::parse(text, [&key](int, json::parse_event_t event, json& parsed) {
      if (event == json::parse_event_t::key && parsed.is_string()) key = parsed.get<std::string>();
      return true;
    });
  } catch (const json::exception&) {
  }
  return key;
}

// `path` parsed as JSON. Every nlohmann exception (syntax, a number that overflows, ...) is an
// InputError naming the file.
json parse_json(const std::string& path) {
  const std::string text = read_text(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    GDPO_THROW(InputError, path << ": invalid JSON: " << e.what());
  } catch (const json::exception& e) {
    const std::string key = key_before_error(text);
    GDPO_THROW(InputError, path << ": invalid JSON" << (key.empty() ? "" : " after key " + in_quotes(key))
                                << ": " << e.what());
  }
}

// The name of the directory holding `path` ("gpt2" for .../gpt2/vocab.json).
std::string directory_name(const std::string& path) {
  std::error_code ec;
  auto dir = fs::absolute(path, ec).lexically_normal().parent_path().filename().string();
  return dir.empty() ? std::string("tokenizer") : dir;
}

// A token id as written: a JSON integer >= 0 (its upper bound is checked once all are read, by
// check_ids). what() says whose id it is, for messages ("path: model.vocab: token 'x'").
template <class What>
int64_t read_id(const json& value, const What& what) {
  if (!value.is_number_integer())
    GDPO_THROW(InputError, what() << " must have an integer id, got " << brief(value));
  if (value.is_number_unsigned()) {
    const uint64_t id = value.get<uint64_t>();
    if (id > uint64_t{INT32_MAX})
      GDPO_THROW(InputError, what() << " has id " << id << ", too large for a token id");
    return static_cast<int64_t>(id);
  }
  const int64_t id = value.get<int64_t>();
  if (id < 0) GDPO_THROW(InputError, what() << " has a negative id " << id);
  if (id > int64_t{INT32_MAX})
    GDPO_THROW(InputError, what() << " has id " << id << ", too large for a token id");
  return id;
}

// The vocabulary object {"token": id, ...} at `where` in `path`.
std::vector<std::pair<std::string, int64_t>> read_vocab(const json& vocab, const std::string& path,
                                                        const std::string& where) {
  if (!vocab.is_object())
    GDPO_THROW(InputError, path << ": " << where << " must be an object {\"token\": id, ...}, got "
                                << brief(vocab));
  std::vector<std::pair<std::string, int64_t>> out;
  out.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it)
    out.emplace_back(it.key(), read_id(it.value(), [&] {
                       return path + ": " + where + ": token " + in_quotes(it.key());
                     }));
  return out;
}

// Ids are unique: within the vocabulary, within the added tokens, and between them (an added token
// may repeat the id of the vocabulary token with its own text, as GPT-NeoX's "<|endoftext|>" does);
// and below the number of distinct ids plus BpeSpec::kMaxUnusedIds: ids index arrays, so a stray
// 1e9 must not size them.
// added_where(i): "added_tokens[3] ('<|x|>')".
void check_ids(const BpeSpec& spec, const std::string& path, const std::string& vocab_where,
               const std::function<std::string(size_t)>& added_where) {
  std::unordered_map<int64_t, size_t> vocab_ids, added_ids;  // id -> index
  vocab_ids.reserve(spec.vocab.size());
  for (size_t i = 0; i < spec.vocab.size(); ++i) {
    const auto& [token, id] = spec.vocab[i];
    auto [it, fresh] = vocab_ids.emplace(id, i);
    if (!fresh)
      GDPO_THROW(InputError, path << ": " << vocab_where << ": id " << id << " is given to both "
                                  << in_quotes(spec.vocab[it->second].first) << " and "
                                  << in_quotes(token));
  }
  size_t entries = spec.vocab.size();
  std::string bytes;
  for (size_t i = 0; i < spec.added_tokens.size(); ++i) {
    const AddedToken& added = spec.added_tokens[i];
    const int64_t id = added.id;
    if (auto it = vocab_ids.find(id); it != vocab_ids.end()) {
      // The vocabulary's own token made special, as GPT-NeoX's "<|endoftext|>" (id 0 in both).
      const std::string& token = spec.vocab[it->second].first;
      if (!(byte_level_to_bytes(token, bytes) ? bytes == added.content : token == added.content))
        GDPO_THROW(InputError, path << ": " << added_where(i) << ": id " << id
                                    << " is given to both it and the vocabulary's token "
                                    << in_quotes(token));
      continue;
    }
    auto [it, fresh] = added_ids.emplace(id, i);
    if (!fresh)
      GDPO_THROW(InputError, path << ": " << added_where(i) << ": id " << id
                                  << " is given to both " << added_where(it->second) << " and "
                                  << added_where(i));
    ++entries;
  }
  const int64_t limit = static_cast<int64_t>(entries) + BpeSpec::kMaxUnusedIds;
  auto fail = [&](const std::string& what, int64_t id) {
    GDPO_THROW(InputError, path << ": " << what << " has id " << id << ", but there are only "
                                << entries << " tokens: ids must be below " << limit << " (0.."
                                << entries - 1 << ", with at most " << BpeSpec::kMaxUnusedIds
                                << " ids unused)");
  };
  for (const auto& [token, id] : spec.vocab)
    if (id >= limit) fail(vocab_where + ": token " + in_quotes(token), id);
  for (size_t i = 0; i < spec.added_tokens.size(); ++i)
    if (spec.added_tokens[i].id >= limit) fail(added_where(i), spec.added_tokens[i].id);
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

// A boolean field of `obj` at `where` in `path`: absent or null is `fallback`; anything but true
// or false is refused.
bool flag(const json& obj, const char* key, bool fallback, const std::string& path,
          const std::string& where) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean())
    GDPO_THROW(InputError, path << ": " << where << "." << key << " must be true or false, got "
                                << brief(*it));
  return it->get<bool>();
}

// A component's "type" ("ByteLevel"), or what stands in its place, for messages.
std::string type_of(const json& component) {
  if (!component.is_object()) return brief(component);
  auto it = component.find("type");
  if (it == component.end()) return "(none)";
  return it->is_string() ? it->get<std::string>() : brief(*it);
}

BpeSpec read_gpt2_files_unchecked(const std::string& vocab_json, const std::string& merges_txt) {
  BpeSpec spec;
  spec.name = directory_name(vocab_json);
  spec.source = vocab_json + " + " + merges_txt;
  spec.vocab = read_vocab(parse_json(vocab_json), vocab_json, "the vocabulary");
  for (const auto& [token, id] : spec.vocab)
    if (token == spec.eos_token) spec.added_tokens.push_back({token, id, true, false});
  check_ids(spec, vocab_json, "the vocabulary",
            [&spec](size_t i) { return "token " + in_quotes(spec.added_tokens[i].content); });

  std::istringstream in(read_text(merges_txt));
  auto lines = std::make_shared<std::vector<int64_t>>();  // rank -> line number
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find('\r') != std::string::npos)  // never in a token: bytes are spelled printable
      GDPO_THROW(InputError, merges_txt << " line " << number
                                        << ": a carriage return inside the line (lines must end "
                                           "with \\n or \\r\\n), in "
                                        << in_quotes(line));
    if (number == 1 && line.rfind("#version", 0) == 0) continue;
    std::pair<std::string, std::string> merge;
    if (!split_merge(line, merge))
      GDPO_THROW(InputError, merges_txt << " line " << number
                                        << ": expected two tokens separated by one space, got "
                                        << in_quotes(line));
    spec.merges.push_back(std::move(merge));
    lines->push_back(number);
  }
  spec.merge_location = [merges_txt, lines](size_t rank) {
    return merges_txt + " line " + std::to_string((*lines)[rank]);
  };
  return spec;
}

BpeSpec read_tokenizer_json_unchecked(const std::string& path) {
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
  if (auto it = model.find("type"); it != model.end() && !it->is_null() && type_of(model) != "BPE")
    fail("model type '" + type_of(model) + "' is not supported (supported: BPE)");
  auto vocab_it = model.find("vocab");
  auto merges_it = model.find("merges");
  if (vocab_it == model.end() || merges_it == model.end())
    fail("model needs \"vocab\" and \"merges\"");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()))
      fail(std::string("model.") + key + " is not supported (byte-level BPE has none)");
  }
  if (auto it = model.find("dropout");
      it != model.end() && !it->is_null() && !(it->is_number() && it->get<double>() == 0.0))
    fail("model.dropout " + brief(*it) + " is not supported (BPE dropout is for training)");
  spec.vocab = read_vocab(*vocab_it, path, "model.vocab");
  spec.ignore_merges = flag(model, "ignore_merges", false, path, "model");
  const json& merges = *merges_it;
  if (!merges.is_array()) fail("model.merges must be an array, got " + brief(merges));
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
      fail("model.merges[" + std::to_string(i) + "]: expected \"a b\" or [\"a\", \"b\"], got " +
           brief(m));
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
  if (flag(*pre, "add_prefix_space", true, path, "pre_tokenizer"))
    fail("pre_tokenizer ByteLevel with add_prefix_space true is not supported");
  if (!flag(*pre, "use_regex", true, path, "pre_tokenizer"))
    fail("pre_tokenizer ByteLevel with use_regex false is not supported");
  // decoder: ByteLevel (or none: ids decode to their bytes either way).
  if (auto it = root.find("decoder"); it != root.end() && !it->is_null() && type_of(*it) != "ByteLevel")
    fail("decoder type '" + type_of(*it) + "' is not supported (supported: ByteLevel, null)");

  // added_tokens.
  if (auto it = root.find("added_tokens"); it != root.end() && !it->is_null()) {
    if (!it->is_array()) fail("added_tokens must be an array, got " + brief(*it));
    for (size_t i = 0; i < it->size(); ++i) {
      const json& t = (*it)[i];
      const std::string index = "added_tokens[" + std::to_string(i) + "]";
      if (!t.is_object()) fail(index + ": expected an object with \"id\" and \"content\", got " + brief(t));
      auto content = t.find("content");
      if (content == t.end() || !content->is_string())
        fail(index + ".content must be a string, got " +
             (content == t.end() ? std::string("nothing") : brief(*content)));
      AddedToken added;
      added.content = content->get<std::string>();
      const std::string where = index + " (" + in_quotes(added.content) + ")";
      auto id = t.find("id");
      if (id == t.end()) fail(where + ": no \"id\"");
      added.id = read_id(*id, [&] { return path + ": " + where; });
      added.special = flag(t, "special", false, path, index);
      added.normalized = flag(t, "normalized", !added.special, path, index);
      for (const char* key : {"lstrip", "rstrip", "single_word"})
        if (flag(t, key, false, path, index))
          fail(where + ": " + key + " true is not supported");
      spec.added_tokens.push_back(std::move(added));
    }
  }
  check_ids(spec, path, "model.vocab", [&spec](size_t i) {
    return "added_tokens[" + std::to_string(i) + "] (" + in_quotes(spec.added_tokens[i].content) + ")";
  });
  return spec;
}

}  // namespace

// nlohmann's exceptions (a wrong type somewhere this reader did not foresee) are InputErrors naming
// the file too, never a bare exit 1.
BpeSpec read_gpt2_files(const std::string& vocab_json, const std::string& merges_txt) {
  try {
    return read_gpt2_files_unchecked(vocab_json, merges_txt);
  } catch (const json::exception& e) {
    GDPO_THROW(InputError, vocab_json << ": unexpected JSON content: " << e.what());
  }
}

BpeSpec read_tokenizer_json(const std::string& path) {
  try {
    return read_tokenizer_json_unchecked(path);
  } catch (const json::exception& e) {
    GDPO_THROW(InputError, path << ": unexpected JSON content: " << e.what());
  }
}

}  // namespace gdpo::tokenizer
