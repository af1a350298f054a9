#include "gdpo/io/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>

#include "gdpo/core/error.hpp"
#include "gdpo/core/regular_file.hpp"
#include "gdpo/core/utf8.hpp"
#include "gdpo/io/atomic_file.hpp"

namespace gdpo::io {

namespace fs = std::filesystem;
using json = nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; this reader copies bytes as they are");

namespace {

constexpr uint64_t kMaxHeaderBytes = kMaxSafetensorsHeaderBytes;

struct DtypeInfo {
  const char* name;
  std::optional<torch::ScalarType> scalar;
  uint64_t size;
};

// Every dtype the format defines. LibTorch 1.13 lacks the 8-bit floats and the wide unsigned ints.
const std::vector<DtypeInfo>& dtype_table() {
  static const std::vector<DtypeInfo> table = {
      {"F64", torch::kFloat64, 8},   {"F32", torch::kFloat32, 4},  {"F16", torch::kFloat16, 2},
      {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8},    {"I32", torch::kInt32, 4},
      {"I16", torch::kInt16, 2},     {"I8", torch::kInt8, 1},      {"U8", torch::kUInt8, 1},
      {"BOOL", torch::kBool, 1},     {"F8_E4M3", std::nullopt, 1}, {"F8_E5M2", std::nullopt, 1},
      {"U16", std::nullopt, 2},      {"U32", std::nullopt, 4},     {"U64", std::nullopt, 8},
  };
  return table;
}

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : dtype_table())
    if (name == d.name) return &d;
  return nullptr;
}

// "'{' (0x7B)" or "byte 0xEF", for messages about raw bytes.
std::string byte_text(uint8_t b) {
  char buf[32];
  if (b >= 0x20 && b < 0x7f)
    std::snprintf(buf, sizeof buf, "'%c' (0x%02X)", static_cast<char>(b), b);
  else
    std::snprintf(buf, sizeof buf, "byte 0x%02X", b);
  return buf;
}

// A JSON document whose objects have no duplicate keys (nlohmann keeps the last value silently).
json parse_json_unique_keys(const std::string& text, const std::string& where) {
  std::vector<std::set<std::string>> open_objects;  // the keys seen in each open object
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second)
        GDPO_THROW(InputError,
                   where << ": key " << quoted_tensor_name(key) << " appears twice in one object");
    }
    return true;
  };
  try {
    return json::parse(text, callback);
  } catch (const json::exception& e) {
    GDPO_THROW(InputError, where << " is not valid JSON: " << e.what());
  }
}

// The bytes a safetensors header must satisfy before it is parsed (as the reference reader: a
// UTF-8 string that starts with '{'), plus no NUL (never part of JSON text; the usual wrong
// padding).
void check_header_bytes(const uint8_t* h, uint64_t n, const std::string& where) {
  if (n == 0) GDPO_THROW(InputError, where << ": the header is empty, not a JSON object");
  if (h[0] != '{')
    GDPO_THROW(InputError, where << ": the header is not a JSON object: it must start with '{', "
                                 << "not " << byte_text(h[0])
                                 << (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF
                                         ? " (a UTF-8 byte order mark)"
                                         : ""));
  if (const void* nul = std::memchr(h, 0, n))
    GDPO_THROW(InputError, where << ": the header has a NUL byte at offset "
                                 << (static_cast<const uint8_t*>(nul) - h)
                                 << " (the header is JSON text padded with spaces)");
  const std::string_view text(reinterpret_cast<const char*>(h), n);
  for (size_t i = 0; i < n;) {
    if (h[i] < 0x80) {
      ++i;
      continue;
    }
    char32_t cp = 0;
    const size_t len = decode_utf8(text, i, &cp);
    if (len == 0)
      GDPO_THROW(InputError, where << ": the header is not valid UTF-8 (" << byte_text(h[i])
                                   << " at offset " << i << ")");
    i += len;
  }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

// Reads the header as a stream of SAX events straight into SafetensorsEntry records (no JSON tree:
// a header of a million tensors costs a million small records, not gigabytes of tree nodes). Every
// deviation from the format throws an InputError naming the file and the tensor or key at once.
class HeaderReader final : public nlohmann::json_sax<json> {
 public:
  HeaderReader(const std::string& where, uint64_t data_size, std::vector<SafetensorsEntry>& entries,
               std::map<std::string, std::string>& metadata)
      : where_(where), data_size_(data_size), entries_(entries), metadata_(metadata) {}

  bool null() override {
    if (next_ == Next::kMetadataObject) {  // "__metadata__": null is no metadata
      next_ = Next::kTopKey;
      return true;
    }
    return unexpected("null");
  }
  bool boolean(bool) override { return unexpected("a boolean"); }
  bool number_integer(json::number_integer_t v) override {
    if (v >= 0) return number_unsigned(static_cast<json::number_unsigned_t>(v));
    if (next_ == Next::kShapeItem)
      GDPO_THROW(InputError, tensor() << ": shape entry " << v << " is negative");
    return unexpected("a negative number");
  }
  bool number_unsigned(json::number_unsigned_t v) override {
    if (next_ == Next::kShapeItem) {
      if (v > static_cast<uint64_t>(INT64_MAX))
        GDPO_THROW(InputError, tensor() << ": shape entry " << v << " is too large");
      cur().shape.push_back(static_cast<int64_t>(v));
      return true;
    }
    if (next_ == Next::kOffsetItem) {
      if (offsets_ == 2) return unexpected("a third number");
      (offsets_++ == 0 ? cur().begin : cur().end) = v;
      return true;
    }
    return unexpected("a number");
  }
  bool number_float(json::number_float_t, const json::string_t& text) override {
    if (next_ == Next::kShapeItem)
      GDPO_THROW(InputError, tensor() << ": shape entry " << text << " is not an integer");
    return unexpected("the number " + text);
  }
  bool string(json::string_t& v) override {
    if (next_ == Next::kDtype) {
      const DtypeInfo* info = find_dtype(v);
      if (!info) GDPO_THROW(InputError, tensor() << ": unknown dtype " << quoted_tensor_name(v));
      cur().dtype = v;
      cur().scalar = info->scalar;
      dtype_size_ = info->size;
      next_ = Next::kEntryKey;
      return true;
    }
    if (next_ == Next::kMetadataValue) {
      metadata_[metadata_key_] = v;
      next_ = Next::kMetadataKey;
      return true;
    }
    return unexpected("a string");
  }
  bool binary(json::binary_t&) override { return unexpected("binary data"); }

  bool start_object(std::size_t) override {
    switch (next_) {
      case Next::kHeader: next_ = Next::kTopKey; return true;
      case Next::kMetadataObject: next_ = Next::kMetadataKey; return true;
      case Next::kEntryObject: next_ = Next::kEntryKey; return true;
      default: return unexpected("an object");
    }
  }
  bool key(json::string_t& k) override {
    if (next_ == Next::kTopKey) {
      if (k == "__metadata__") {
        if (seen_metadata_)
          GDPO_THROW(InputError, where_ << ": \"__metadata__\" appears twice in the header");
        seen_metadata_ = true;
        next_ = Next::kMetadataObject;
      } else {
        entries_.emplace_back();
        cur().name = k;
        has_dtype_ = has_shape_ = has_offsets_ = false;
        next_ = Next::kEntryObject;
      }
    } else if (next_ == Next::kMetadataKey) {
      if (metadata_.count(k))
        GDPO_THROW(InputError,
                   where_ << ": __metadata__ key " << quoted_tensor_name(k) << " appears twice");
      metadata_key_ = k;
      next_ = Next::kMetadataValue;
    } else if (next_ == Next::kEntryKey) {
      bool* seen = k == "dtype"          ? &has_dtype_
                   : k == "shape"        ? &has_shape_
                   : k == "data_offsets" ? &has_offsets_
                                         : nullptr;
      if (!seen)
        GDPO_THROW(InputError, tensor()
                                   << ": unknown field " << quoted_tensor_name(k)
                                   << " (an entry has \"dtype\", \"shape\" and \"data_offsets\")");
      if (*seen) GDPO_THROW(InputError, tensor() << ": field \"" << k << "\" appears twice");
      *seen = true;
      next_ = k == "dtype" ? Next::kDtype : k == "shape" ? Next::kShape : Next::kOffsets;
    } else {
      return unexpected("a key");
    }
    return true;
  }
  bool end_object() override {
    switch (next_) {
      case Next::kTopKey: next_ = Next::kEnd; return true;
      case Next::kMetadataKey: next_ = Next::kTopKey; return true;
      case Next::kEntryKey:
        finish_entry();
        next_ = Next::kTopKey;
        return true;
      default: return unexpected("'}'");
    }
  }
  bool start_array(std::size_t) override {
    if (next_ == Next::kShape) {
      next_ = Next::kShapeItem;
      return true;
    }
    if (next_ == Next::kOffsets) {
      offsets_ = 0;
      next_ = Next::kOffsetItem;
      return true;
    }
    return unexpected("an array");
  }
  bool end_array() override {
    if (next_ == Next::kShapeItem) {
      next_ = Next::kEntryKey;
      return true;
    }
    if (next_ == Next::kOffsetItem && offsets_ == 2) {
      next_ = Next::kEntryKey;
      return true;
    }
    return unexpected("the end of an array");
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    GDPO_THROW(InputError, where_ << ": the header is not valid JSON: " << e.what());
  }

  bool complete() const { return next_ == Next::kEnd; }

 private:
  enum class Next {
    kHeader,
    kTopKey,
    kMetadataObject,
    kMetadataKey,
    kMetadataValue,
    kEntryObject,
    kEntryKey,
    kDtype,
    kShape,
    kShapeItem,
    kOffsets,
    kOffsetItem,
    kEnd
  };

  SafetensorsEntry& cur() { return entries_.back(); }
  // "safetensors file '<path>', tensor '<name>'" (only while reading an entry).
  std::string tensor() { return where_ + ", tensor " + quoted_tensor_name(cur().name); }

  // A JSON value the format does not allow here: an InputError saying what was expected.
  bool unexpected(const std::string& found) {
    switch (next_) {
      case Next::kHeader: GDPO_THROW(InputError, where_ << ": the header is not a JSON object");
      case Next::kMetadataObject:
        GDPO_THROW(InputError,
                   where_ << ": __metadata__ must be an object of strings, not " << found);
      case Next::kMetadataValue:
        GDPO_THROW(InputError, where_ << ": __metadata__ value of key "
                                      << quoted_tensor_name(metadata_key_)
                                      << " must be a string, not " << found);
      case Next::kEntryObject:
        GDPO_THROW(InputError, tensor() << ": the entry must be an object, not " << found);
      case Next::kDtype:
        GDPO_THROW(InputError, tensor() << ": \"dtype\" must be a string, not " << found);
      case Next::kShape:
      case Next::kShapeItem:
        GDPO_THROW(InputError,
                   tensor() << ": \"shape\" must be an array of non-negative integers (found "
                            << found << ")");
      case Next::kOffsets:
      case Next::kOffsetItem:
        GDPO_THROW(
            InputError,
            tensor() << ": \"data_offsets\" must be two non-negative integers [begin, end] (found "
                     << found << ")");
      default: GDPO_THROW(InputError, where_ << ": unexpected " << found << " in the header");
    }
  }

  // The checks that need the whole entry.
  void finish_entry() {
    SafetensorsEntry& e = cur();
    if (!has_dtype_) GDPO_THROW(InputError, tensor() << ": missing \"dtype\"");
    if (!has_shape_) GDPO_THROW(InputError, tensor() << ": missing \"shape\"");
    if (!has_offsets_)
      GDPO_THROW(InputError, tensor() << ": missing \"data_offsets\" [begin, end]");
    uint64_t numel = 1;
    for (int64_t d : e.shape)
      if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel) ||
          numel > static_cast<uint64_t>(INT64_MAX))
        GDPO_THROW(InputError, tensor() << ": shape " << shape_text(e.shape) << " overflows");
    if (e.begin > e.end)
      GDPO_THROW(InputError, tensor() << ": data_offsets begin " << e.begin << " > end " << e.end);
    if (e.end > data_size_)
      GDPO_THROW(InputError, tensor()
                                 << ": data_offsets end " << e.end
                                 << " is past the end of the data (" << data_size_ << " bytes)");
    uint64_t expected = 0;
    if (__builtin_mul_overflow(numel, dtype_size_, &expected) || expected != e.end - e.begin)
      GDPO_THROW(InputError, tensor() << ": holds " << (e.end - e.begin) << " bytes but shape "
                                      << shape_text(e.shape) << " of " << e.dtype << " needs "
                                      << numel << " x " << dtype_size_);
  }

  const std::string& where_;
  const uint64_t data_size_;
  std::vector<SafetensorsEntry>& entries_;
  std::map<std::string, std::string>& metadata_;
  Next next_ = Next::kHeader;
  bool seen_metadata_ = false;
  std::string metadata_key_;
  bool has_dtype_ = false, has_shape_ = false, has_offsets_ = false;
  uint64_t dtype_size_ = 0;
  int offsets_ = 0;
};

}  // namespace

std::string quoted_tensor_name(const std::string& s) {
  std::string out = "'";
  for (char c : s.substr(0, 200)) out += (c >= 32 && c < 127) ? c : '?';
  return out + (s.size() > 200 ? "...'" : "'");
}

int64_t SafetensorsEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string safetensors_dtype(torch::ScalarType type) {
  for (const auto& d : dtype_table())
    if (d.scalar && *d.scalar == type) return d.name;
  GDPO_THROW(Error, "safetensors cannot store tensors of type " << c10::toString(type));
}

// ------------------------------------------------------------------------------------------------
// Reading

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const std::string where = "safetensors file '" + path + "'";
  uint64_t file_size = 0;
  const int fd = open_regular_file(path, where, &file_size);
  if (file_size < 8) {
    ::close(fd);
    GDPO_THROW(InputError, where << " is too short (" << file_size
                                 << " bytes) to hold the 8-byte header length");
  }
  void* m = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (m == MAP_FAILED)
    GDPO_THROW(InputError, "cannot map " << where << ": " << errno_text(map_errno));
  map_ = static_cast<const uint8_t*>(m);
  map_size_ = file_size;

  try {
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | map_[i];
    if (header_len > kMaxHeaderBytes)
      GDPO_THROW(InputError, where << ": header length " << header_len
                                   << " exceeds the 100 MB limit (" << kMaxHeaderBytes
                                   << " bytes) of the format");
    if (header_len > file_size - 8)
      GDPO_THROW(InputError, where << ": header length " << header_len << " exceeds the file size ("
                                   << file_size << " bytes)");
    const uint8_t* h = map_ + 8;
    data_ = h + header_len;
    data_size_ = file_size - 8 - header_len;
    check_header_bytes(h, header_len, where);

    // One record per "data_offsets" key (an upper bound on the tensors, capped by the header size:
    // an entry takes at least ~48 bytes of JSON), so the vector is not regrown while parsing.
    size_t estimate = 0;
    const std::string_view text(reinterpret_cast<const char*>(h), header_len);
    for (size_t at = text.find("\"data_offsets\""); at != std::string_view::npos;
         at = text.find("\"data_offsets\"", at + 1))
      ++estimate;
    entries_.reserve(std::min<size_t>(estimate, header_len / 48 + 1));

    // Trailing padding may only be spaces: the JSON text ends at the last non-space byte, which
    // must close the object (the parser itself would also accept tabs and newlines there).
    uint64_t json_end = header_len;
    while (json_end > 0 && h[json_end - 1] == ' ') --json_end;
    HeaderReader reader(where, data_size_, entries_, metadata_);
    bool parsed = false;
    try {
      parsed = json::sax_parse(h, h + json_end, &reader, json::input_format_t::json,
                               /*strict=*/true);
    } catch (const json::exception& e) {
      GDPO_THROW(InputError, where << ": the header is not valid JSON: " << e.what());
    }
    if (!parsed || !reader.complete())
      GDPO_THROW(InputError, where << ": the header is not a complete JSON object");
    if (h[json_end - 1] != '}')
      GDPO_THROW(InputError, where << ": the header's padding after the JSON object must be spaces "
                                      "(0x20), found "
                                   << byte_text(h[json_end - 1]) << " at offset " << json_end - 1);

    // Names are unique.
    by_name_.resize(entries_.size());
    for (size_t i = 0; i < by_name_.size(); ++i) by_name_[i] = i;
    std::sort(by_name_.begin(), by_name_.end(),
              [&](size_t a, size_t b) { return entries_[a].name < entries_[b].name; });
    for (size_t i = 1; i < by_name_.size(); ++i)
      if (entries_[by_name_[i]].name == entries_[by_name_[i - 1]].name)
        GDPO_THROW(InputError, where << ": tensor "
                                     << quoted_tensor_name(entries_[by_name_[i]].name)
                                     << " appears twice in the header");

    // Data order, and the tensors tile the data section: from 0, no gap, no overlap, to its end.
    std::vector<size_t> order(entries_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const auto& x = entries_[a];
      const auto& y = entries_[b];
      return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
    });
    uint64_t covered = 0;
    for (size_t k = 0; k < order.size(); ++k) {
      const SafetensorsEntry& e = entries_[order[k]];
      if (e.begin < covered)
        GDPO_THROW(InputError, where << ": tensors "
                                     << quoted_tensor_name(entries_[order[k - 1]].name) << " and "
                                     << quoted_tensor_name(e.name) << " overlap");
      if (e.begin > covered)
        GDPO_THROW(InputError, where << ": bytes " << covered << " to " << e.begin
                                     << " of the data belong to no tensor (a gap before tensor "
                                     << quoted_tensor_name(e.name) << ")");
      covered = e.end;
    }
    if (covered != data_size_)
      GDPO_THROW(InputError,
                 where << ": bytes " << covered << " to " << data_size_
                       << " of the data belong to no tensor ("
                       << (order.empty() ? std::string("the header has no tensors")
                                         : "after the last tensor, " +
                                               quoted_tensor_name(entries_[order.back()].name))
                       << ")");
    // Reorder the records into data order in place (entries_[k] = old entries_[order[k]], one cycle
    // of the permutation at a time), and the name index with them.
    std::vector<size_t> position(order.size());
    for (size_t k = 0; k < order.size(); ++k) position[order[k]] = k;
    for (auto& i : by_name_) i = position[i];
    for (size_t start = 0; start < order.size(); ++start) {
      if (order[start] == start) continue;
      SafetensorsEntry first = std::move(entries_[start]);
      size_t j = start;
      for (;;) {
        const size_t from = order[j];
        order[j] = j;
        if (from == start) break;
        entries_[j] = std::move(entries_[from]);
        j = from;
      }
      entries_[j] = std::move(first);
    }
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), map_size_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&](size_t i, const std::string& n) { return entries_[i].name < n; });
  if (it == by_name_.end() || entries_[*it].name != name) return nullptr;
  return &entries_[*it];
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (!e)
    GDPO_THROW(InputError,
               "safetensors file '" << path_ << "' has no tensor " << quoted_tensor_name(name));
  return *e;
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  if (!e.scalar)
    GDPO_THROW(InputError, "safetensors file '" << path_ << "', tensor " << quoted_tensor_name(name)
                                                << ": unsupported dtype " << e.dtype
                                                << " (this LibTorch build has no such type)");
  torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(*e.scalar));
  if (e.bytes() > 0) std::memcpy(t.data_ptr(), data_ + e.begin, e.bytes());
  return t;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  SafetensorsCheckpoint ck;
  fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "model.safetensors", ec))
      p /= "model.safetensors";
    else if (fs::exists(p / "model.safetensors.index.json", ec))
      p /= "model.safetensors.index.json";
    else
      GDPO_THROW(InputError, "folder '" << path
                                        << "' has neither model.safetensors nor "
                                           "model.safetensors.index.json");
  }
  ck.path_ = p.string();
  const std::string name = p.filename().string();
  if (name.size() < 5 || name.substr(name.size() - 5) != ".json") {
    ck.files_.push_back(std::make_shared<SafetensorsFile>(ck.path_));
    return ck;
  }

  const std::string where = "safetensors index '" + ck.path_ + "'";
  const json index =
      parse_json_unique_keys(read_regular_file(ck.path_, where, kMaxHeaderBytes), where);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    GDPO_THROW(InputError, where << " has no \"weight_map\" object");
  const json& weight_map = index["weight_map"];
  std::map<std::string, size_t> shard_index;
  for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
    if (!it.value().is_string())
      GDPO_THROW(InputError, where << ": the shard of tensor " << quoted_tensor_name(it.key())
                                   << " is not a string");
    const std::string shard = it.value().get<std::string>();
    fs::path sp(shard);
    if (shard.empty() || sp.is_absolute() || sp.filename() != sp || shard == "." || shard == "..")
      GDPO_THROW(InputError, where << ": shard " << quoted_tensor_name(shard) << " of tensor "
                                   << quoted_tensor_name(it.key())
                                   << " is not a file name in its folder");
    auto [pos, fresh] = shard_index.emplace(shard, ck.files_.size());
    if (fresh)
      ck.files_.push_back(std::make_shared<SafetensorsFile>((p.parent_path() / shard).string()));
    const SafetensorsFile& f = *ck.files_[pos->second];
    if (!f.contains(it.key()))
      GDPO_THROW(InputError, where << ": tensor " << quoted_tensor_name(it.key())
                                   << " is missing from shard '" << f.path() << "'");
    ck.where_[it.key()] = pos->second;
  }
  // Every tensor of every shard is mapped to that shard: none is ignored, none is in two shards.
  for (size_t i = 0; i < ck.files_.size(); ++i)
    for (const auto& e : ck.files_[i]->entries()) {
      auto it = ck.where_.find(e.name);
      if (it == ck.where_.end())
        GDPO_THROW(InputError, "safetensors shard '" << ck.files_[i]->path() << "' holds tensor "
                                                     << quoted_tensor_name(e.name) << ", which "
                                                     << where << " does not list");
      if (it->second != i)
        GDPO_THROW(InputError, "tensor " << quoted_tensor_name(e.name) << " is in two shards, '"
                                         << ck.files_[it->second]->path() << "' and '"
                                         << ck.files_[i]->path() << "' (" << where
                                         << " maps it to the first)");
    }
  return ck;
}

namespace {
// The single file of an unindexed checkpoint, or nullptr.
const SafetensorsFile* single_file(const std::map<std::string, size_t>& where,
                                   const std::vector<std::shared_ptr<SafetensorsFile>>& files) {
  return where.empty() && files.size() == 1 ? files[0].get() : nullptr;
}
}  // namespace

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  if (const SafetensorsFile* f = single_file(where_, files_)) {
    out.reserve(f->entries().size());
    for (const auto& e : f->entries()) out.push_back(e.name);
    std::sort(out.begin(), out.end());
    return out;
  }
  for (const auto& [name, file] : where_) out.push_back(name);
  return out;
}

bool SafetensorsCheckpoint::contains(const std::string& name) const {
  if (const SafetensorsFile* f = single_file(where_, files_)) return f->contains(name);
  return where_.count(name) > 0;
}

const SafetensorsFile& SafetensorsCheckpoint::file_of(const std::string& name) const {
  if (const SafetensorsFile* f = single_file(where_, files_); f && f->contains(name)) return *f;
  auto it = where_.find(name);
  if (it == where_.end())
    GDPO_THROW(InputError, "safetensors checkpoint '" << path_ << "' has no tensor "
                                                      << quoted_tensor_name(name));
  return *files_[it->second];
}

const SafetensorsEntry& SafetensorsCheckpoint::entry(const std::string& name) const {
  return file_of(name).entry(name);
}

torch::Tensor SafetensorsCheckpoint::tensor(const std::string& name) const {
  return file_of(name).tensor(name);
}

uint64_t SafetensorsCheckpoint::data_size() const {
  uint64_t total = 0;
  for (const auto& f : files_) total += f->data_size();
  return total;
}

// ------------------------------------------------------------------------------------------------
// Writing

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> cpu;
  cpu.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    GDPO_CHECK(name != "__metadata__" && !header.contains(name),
               "write_safetensors('" << path << "'): duplicate or reserved tensor name '" << name
                                     << "'");
    GDPO_CHECK(t.defined(), "write_safetensors('" << path << "'): tensor '" << name
                                                  << "' is undefined");
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", safetensors_dtype(c.scalar_type())},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    cpu.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((uint64_t(text.size()) >> (8 * i)) & 0xff);

  AtomicFile file(path);
  std::ofstream out(file.temp_path(), std::ios::binary | std::ios::trunc);
  GDPO_CHECK(out, "cannot create '" << file.temp_path() << "'");
  out.write(len, 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& c : cpu)
    out.write(static_cast<const char*>(c.data_ptr()),
              static_cast<std::streamsize>(c.numel() * c.element_size()));
  out.flush();
  GDPO_CHECK(out, "cannot write '" << file.temp_path() << "': " << errno_text());
  out.close();
  file.commit();
}

std::vector<std::string> write_safetensors_sharded(const std::string& dir,
                                                   const NamedTensors& tensors,
                                                   const std::map<std::string, std::string>& metadata,
                                                   uint64_t max_shard_bytes,
                                                   const std::string& stem) {
  fs::create_directories(dir);
  // Greedy packing in order; a tensor larger than the limit gets a shard of its own.
  std::vector<NamedTensors> shards(1);
  uint64_t current = 0, total = 0;
  for (const auto& nt : tensors) {
    const uint64_t bytes = static_cast<uint64_t>(nt.second.numel()) * nt.second.element_size();
    if (max_shard_bytes > 0 && current > 0 && current + bytes > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(nt);
    current += bytes;
    total += bytes;
  }
  std::vector<std::string> written;
  if (shards.size() == 1) {
    written.push_back((fs::path(dir) / (stem + ".safetensors")).string());
    write_safetensors(written.back(), tensors, metadata);
    return written;
  }
  json weight_map = json::object();
  char name[64];
  for (size_t i = 0; i < shards.size(); ++i) {
    std::snprintf(name, sizeof name, "-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    const std::string file = stem + name;
    written.push_back((fs::path(dir) / file).string());
    write_safetensors(written.back(), shards[i], metadata);
    for (const auto& nt : shards[i]) weight_map[nt.first] = file;
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  written.push_back((fs::path(dir) / (stem + ".safetensors.index.json")).string());
  write_file_atomic(written.back(), index.dump(2) + "\n");
  return written;
}

}  // namespace gdpo::io
