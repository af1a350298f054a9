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

#include "gdpo/core/error.hpp"
#include "gdpo/io/atomic_file.hpp"

namespace gdpo::io {

namespace fs = std::filesystem;
using json = nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; this reader copies bytes as they are");

namespace {

// The safetensors rust library refuses headers above 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

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

std::string errno_text() { return std::strerror(errno); }

// A readable tensor name in messages (names come from strangers too).
std::string show_name(const std::string& s) {
  std::string out = "'";
  for (char c : s.substr(0, 200)) out += (c >= 32 && c < 127) ? c : '?';
  return out + (s.size() > 200 ? "...'" : "'");
}

}  // namespace

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
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) GDPO_THROW(InputError, "cannot open " << where << ": " << errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    GDPO_THROW(InputError, where << " is not a regular file");
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    GDPO_THROW(InputError, where << " is too short (" << file_size
                                 << " bytes) to hold the 8-byte header length");
  }
  void* m = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (m == MAP_FAILED)
    GDPO_THROW(InputError, "cannot map " << where << ": " << std::strerror(map_errno));
  map_ = static_cast<const uint8_t*>(m);
  map_size_ = file_size;

  try {
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | map_[i];
    if (header_len > kMaxHeaderBytes || header_len > file_size - 8)
      GDPO_THROW(InputError, where << ": header length " << header_len << " exceeds "
                                   << (header_len > kMaxHeaderBytes ? "the 100 MB limit"
                                                                    : "the file size")
                                   << " (" << file_size << " bytes)");
    data_ = map_ + 8 + header_len;
    const uint64_t data_size = file_size - 8 - header_len;

    json header;
    try {
      header = json::parse(map_ + 8, map_ + 8 + header_len);
    } catch (const json::exception& e) {
      GDPO_THROW(InputError, where << ": the header is not valid JSON: " << e.what());
    }
    if (!header.is_object()) GDPO_THROW(InputError, where << ": the header is not a JSON object");

    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const json& v = it.value();
      if (name == "__metadata__") {
        if (!v.is_object()) GDPO_THROW(InputError, where << ": __metadata__ is not an object");
        for (auto m2 = v.begin(); m2 != v.end(); ++m2) {
          if (!m2.value().is_string())
            GDPO_THROW(InputError, where << ": __metadata__ value " << show_name(m2.key())
                                         << " is not a string");
          metadata_[m2.key()] = m2.value().get<std::string>();
        }
        continue;
      }
      const std::string tw = where + ", tensor " + show_name(name);
      if (!v.is_object()) GDPO_THROW(InputError, tw << ": entry is not an object");
      SafetensorsEntry e;
      e.name = name;
      auto dt = v.find("dtype");
      if (dt == v.end() || !dt->is_string())
        GDPO_THROW(InputError, tw << ": missing or non-string \"dtype\"");
      e.dtype = dt->get<std::string>();
      const DtypeInfo* info = find_dtype(e.dtype);
      if (!info) GDPO_THROW(InputError, tw << ": unknown dtype " << show_name(e.dtype));
      e.scalar = info->scalar;

      auto sh = v.find("shape");
      if (sh == v.end() || !sh->is_array())
        GDPO_THROW(InputError, tw << ": missing or non-array \"shape\"");
      uint64_t numel = 1;
      for (const auto& d : *sh) {
        if (!d.is_number_integer())
          GDPO_THROW(InputError, tw << ": shape entry " << d.dump() << " is not an integer");
        if (d.is_number_unsigned() ? d.get<uint64_t>() > uint64_t(INT64_MAX) : d.get<int64_t>() < 0)
          GDPO_THROW(InputError, tw << ": shape entry " << d.dump() << " is negative or too large");
        const auto dim = d.get<int64_t>();
        e.shape.push_back(dim);
        if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dim), &numel) ||
            numel > uint64_t(INT64_MAX))
          GDPO_THROW(InputError, tw << ": shape " << sh->dump() << " overflows");
      }
      auto off = v.find("data_offsets");
      if (off == v.end() || !off->is_array() || off->size() != 2 ||
          !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
        GDPO_THROW(InputError,
                   tw << ": \"data_offsets\" must be two non-negative integers [begin, end]");
      e.begin = (*off)[0].get<uint64_t>();
      e.end = (*off)[1].get<uint64_t>();
      if (e.begin > e.end)
        GDPO_THROW(InputError, tw << ": data_offsets begin " << e.begin << " > end " << e.end);
      if (e.end > data_size)
        GDPO_THROW(InputError, tw << ": data_offsets end " << e.end
                                  << " is past the end of the data (" << data_size << " bytes)");
      uint64_t expected = 0;
      if (__builtin_mul_overflow(numel, info->size, &expected) || expected != e.end - e.begin)
        GDPO_THROW(InputError, tw << ": holds " << (e.end - e.begin) << " bytes but shape "
                                  << sh->dump() << " of " << e.dtype << " needs " << numel
                                  << " x " << info->size);
      entries_.push_back(std::move(e));
    }

    std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (i > 0 && entries_[i].begin < entries_[i - 1].end)
        GDPO_THROW(InputError, where << ": tensors " << show_name(entries_[i - 1].name) << " and "
                                     << show_name(entries_[i].name) << " overlap");
      index_[entries_[i].name] = i;
    }
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), map_size_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    GDPO_THROW(InputError, "safetensors file '" << path_ << "' has no tensor " << show_name(name));
  return entries_[it->second];
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  if (!e.scalar)
    GDPO_THROW(InputError, "safetensors file '" << path_ << "', tensor " << show_name(name)
                                                << ": unsupported dtype " << e.dtype
                                                << " (this LibTorch build has no such type)");
  torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(*e.scalar));
  if (e.bytes() > 0) std::memcpy(t.data_ptr(), data_ + e.begin, e.bytes());
  return t;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  SafetensorsCheckpoint ck;
  fs::path p(path);
  if (fs::is_directory(p)) {
    if (fs::exists(p / "model.safetensors"))
      p /= "model.safetensors";
    else if (fs::exists(p / "model.safetensors.index.json"))
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
    for (const auto& e : ck.files_[0]->entries()) ck.where_[e.name] = 0;
    return ck;
  }

  const std::string where = "safetensors index '" + ck.path_ + "'";
  std::ifstream in(ck.path_, std::ios::binary);
  if (!in) GDPO_THROW(InputError, "cannot open " << where);
  json index;
  try {
    index = json::parse(in);
  } catch (const json::exception& e) {
    GDPO_THROW(InputError, where << " is not valid JSON: " << e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    GDPO_THROW(InputError, where << " has no \"weight_map\" object");
  std::map<std::string, size_t> shard_index;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      GDPO_THROW(InputError, where << ": the shard of tensor " << show_name(it.key())
                                   << " is not a string");
    const std::string shard = it.value().get<std::string>();
    fs::path sp(shard);
    if (shard.empty() || sp.is_absolute() || sp.filename() != sp || shard == "." || shard == "..")
      GDPO_THROW(InputError, where << ": shard " << show_name(shard) << " of tensor "
                                   << show_name(it.key()) << " is not a file name in its folder");
    auto [pos, fresh] = shard_index.emplace(shard, ck.files_.size());
    if (fresh)
      ck.files_.push_back(
          std::make_shared<SafetensorsFile>((p.parent_path() / shard).string()));
    const SafetensorsFile& f = *ck.files_[pos->second];
    if (!f.contains(it.key()))
      GDPO_THROW(InputError, where << ": tensor " << show_name(it.key()) << " is missing from shard '"
                                   << f.path() << "'");
    ck.where_[it.key()] = pos->second;
  }
  return ck;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, file] : where_) out.push_back(name);
  return out;
}

const SafetensorsFile& SafetensorsCheckpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end())
    GDPO_THROW(InputError, "safetensors checkpoint '" << path_ << "' has no tensor " << show_name(name));
  return *files_[it->second];
}

const SafetensorsEntry& SafetensorsCheckpoint::entry(const std::string& name) const {
  return file_of(name).entry(name);
}

torch::Tensor SafetensorsCheckpoint::tensor(const std::string& name) const {
  return file_of(name).tensor(name);
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
