#include "gdpo/train/checkpoint_shards.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "gdpo/core/error.hpp"
#include "gdpo/core/fault_injection.hpp"
#include "checkpoint_format.hpp"

namespace gdpo::train {

namespace fs = std::filesystem;

namespace {

const char* kShardFormat = "gdpo-checkpoint-shard";
const char* kStepName = "optimizer/step";  // a single file's dataset; a manifest's attribute

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << c10::IntArrayRef(shape);
  return os.str();
}

std::string range_text(int64_t begin, int64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

std::string shard_file_name(int rank, int world) {
  char name[64];
  std::snprintf(name, sizeof name, "rank-%05d-of-%05d.h5", rank, world);
  return name;
}

// The dataset of a piece inside its shard file.
std::string piece_dataset(const std::string& name, int64_t offset) {
  return name + "@" + std::to_string(offset);
}

// Calls `fn` with the name of every dataset under `group` of `f` (recursively; none if absent).
void for_each_dataset(const io::H5File& f, const std::string& group,
                      const std::function<void(const std::string&)>& fn) {
  if (!f.exists(group)) return;
  for (const auto& child : f.list(group)) {
    const std::string name = group + "/" + child;
    if (f.is_dataset(name))
      fn(name);
    else
      for_each_dataset(f, name, fn);
  }
}

// Shard `rank` of checkpoint `checkpoint_path`, opened and checked to be that rank's file.
io::H5File open_shard(const std::string& checkpoint_path, int rank, int world) {
  const std::string path = shard_file_path(checkpoint_path, rank, world);
  const std::string what =
      "checkpoint '" + checkpoint_path + "': shard '" + shard_file_name(rank, world) + "'";
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(what + " is missing");
  std::optional<io::H5File> f;
  try {
    f.emplace(io::H5File::open_read(path));
    if (!f->has_attr("/", "format") || f->string_attr("/", "format") != kShardFormat)
      throw InputError("'" + path + "' has no format = " + kShardFormat);
    const int64_t r = f->int_attr("/", "rank"), w = f->int_attr("/", "world");
    if (r != rank || w != world)
      throw InputError("'" + path + "' says it is rank " + std::to_string(r) + " of " +
                       std::to_string(w));
  } catch (const Error& e) {
    throw InputError(what + " is unreadable: " + e.what());
  }
  return std::move(*f);
}

// Reads `t` (stored as `name`) as `dtype`: floating dtypes convert into each other.
torch::Tensor convert(const torch::Tensor& t, torch::ScalarType dtype,
                      const std::string& checkpoint, const std::string& name) {
  if (t.scalar_type() == dtype) return t;
  if (!c10::isFloatingType(t.scalar_type()) || !c10::isFloatingType(dtype))
    GDPO_THROW(InputError, "checkpoint '" << checkpoint << "': tensor '" << name
                                          << "' is stored as " << t.scalar_type()
                                          << ", which does not convert to " << dtype);
  return t.to(dtype);
}

// One piece of a tensor as the manifest lists it.
struct PieceRef {
  int rank = 0;
  int64_t offset = 0, count = 0;
};

// What the shard files hold of one tensor (collected by save_sharded_manifest).
struct TensorPieces {
  std::vector<int64_t> shape;
  torch::ScalarType dtype = torch::kFloat;
  int first_rank = 0;  // the shard that fixed shape and dtype, for messages
  std::vector<PieceRef> pieces;
};

}  // namespace

namespace detail {

bool is_sharded(const io::H5File& f) {
  if (!f.has_attr("/", "layout")) return false;  // versions 1 and 2
  const std::string layout = f.string_attr("/", "layout");
  if (layout == "sharded") return true;
  if (layout == "single") return false;
  throw InputError("checkpoint '" + f.path() + "' has an unknown layout '" + layout + "'");
}

void check_shards_present(const io::H5File& manifest) {
  const int64_t world = manifest.int_attr("/", "shard_count");
  if (world < 1)
    throw InputError("checkpoint '" + manifest.path() + "' has shard_count " +
                     std::to_string(world));
  for (int rank = 0; rank < world; ++rank) {
    std::error_code ec;
    if (!fs::is_regular_file(shard_file_path(manifest.path(), rank, static_cast<int>(world)), ec))
      throw InputError("checkpoint '" + manifest.path() + "': shard '" +
                       shard_file_name(rank, static_cast<int>(world)) + "' is missing");
  }
}

}  // namespace detail

std::string shards_directory(const std::string& checkpoint_path) {
  fs::path p(checkpoint_path);
  p.replace_extension(".shards");
  return p.string();
}

std::string shard_file_path(const std::string& checkpoint_path, int rank, int world) {
  return (fs::path(shards_directory(checkpoint_path)) / shard_file_name(rank, world)).string();
}

// ---------------------------------------------------------------------------------------------------
// Writing.

void save_checkpoint_shard(const std::string& checkpoint_path, int rank, int world,
                           const std::vector<TensorPiece>& pieces) {
  GDPO_CHECK(world >= 1 && rank >= 0 && rank < world,
             "shard of rank " << rank << " of " << world << " for '" << checkpoint_path << "'");
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> ranges;  // name -> [begin, end)
  for (const auto& p : pieces) {
    const bool policy = p.name.rfind("policy/", 0) == 0,
               optimizer = p.name.rfind("optimizer/", 0) == 0;
    GDPO_CHECK((policy || optimizer) && p.name != kStepName &&
                   p.name.find('@') == std::string::npos && p.name.back() != '/',
               "piece name '" << p.name << "' for shard '" << checkpoint_path
                              << "' (policy/<name> or optimizer/<slot>/<name>, no '@', not "
                              << kStepName << ")");
    GDPO_CHECK(p.values.defined() && p.values.dim() == 1,
               "piece '" << p.name << "' @" << p.offset << " is not a 1-D tensor");
    for (int64_t d : p.shape)
      GDPO_CHECK(d >= 0, "piece '" << p.name << "': shape " << shape_text(p.shape));
    const int64_t end = p.offset + p.values.numel();
    GDPO_CHECK(p.offset >= 0 && end <= numel_of(p.shape),
               "piece '" << p.name << "' holds elements " << range_text(p.offset, end)
                         << " of a tensor of shape " << shape_text(p.shape));
    ranges[p.name].emplace_back(p.offset, end);
  }
  for (auto& [name, list] : ranges) {
    std::sort(list.begin(), list.end());
    for (size_t i = 1; i < list.size(); ++i)
      GDPO_CHECK(list[i].first >= list[i - 1].second && list[i].first != list[i - 1].first,
                 "pieces " << range_text(list[i - 1].first, list[i - 1].second) << " and "
                           << range_text(list[i].first, list[i].second) << " of '" << name
                           << "' overlap in one shard");
  }

  std::error_code ec;
  if (rank == 0) fs::remove(checkpoint_path, ec);  // a manifest of an earlier, killed attempt
  fs::create_directories(shards_directory(checkpoint_path));
  io::write_h5_atomic(shard_file_path(checkpoint_path, rank, world), [&](io::H5File& f) {
    f.set_attr("/", "format", kShardFormat);
    f.set_attr("/", "format_version", kCheckpointFormatVersion);
    f.set_attr("/", "rank", rank);
    f.set_attr("/", "world", world);
    f.set_attr("/", "checkpoint", fs::path(checkpoint_path).filename().string());
    bool halfway = false;
    for (const auto& p : pieces) {
      if (!halfway && p.name.rfind("optimizer/", 0) == 0) {
        fault::on_checkpoint_write();  // the weights are written
        halfway = true;
      }
      const std::string ds = piece_dataset(p.name, p.offset);
      f.write_tensor(ds, p.values);
      f.set_attr(ds, "shape", p.shape);
      f.set_attr(ds, "offset", p.offset);
    }
    if (!halfway) fault::on_checkpoint_write();
  });
}

void save_sharded_manifest(const std::string& checkpoint_path, int world,
                           const std::string& optimizer_kind, int64_t optimizer_step,
                           const CheckpointContent& content) {
  GDPO_CHECK(world >= 1, "a sharded checkpoint of " << world << " ranks");
  const std::string where = "checkpoint '" + checkpoint_path + "'";

  // What every shard holds (metadata only).
  std::map<std::string, TensorPieces> tensors;
  for (int rank = 0; rank < world; ++rank) {
    const io::H5File f = open_shard(checkpoint_path, rank, world);
    const std::string shard = "shard '" + shard_file_name(rank, world) + "'";
    auto add = [&](const std::string& ds) {
      const size_t at = ds.rfind('@');
      if (at == std::string::npos)
        throw InputError(where + ": " + shard + " holds '" + ds + "', which is not a piece");
      const std::string name = ds.substr(0, at);
      const auto shape = f.int_array_attr(ds, "shape");
      const int64_t offset = f.int_attr(ds, "offset");
      const io::TensorInfo info = f.tensor_info(ds);
      if (info.shape.size() != 1 || ds.substr(at + 1) != std::to_string(offset))
        throw InputError(where + ": " + shard + " holds a malformed piece '" + ds + "'");
      auto [it, fresh] = tensors.try_emplace(name);
      TensorPieces& t = it->second;
      if (fresh) {
        t.shape = shape;
        t.dtype = info.dtype;
        t.first_rank = rank;
      } else if (t.shape != shape || t.dtype != info.dtype) {
        std::ostringstream os;
        os << where << ": tensor '" << name << "' has shape " << shape_text(t.shape)
           << " and dtype " << t.dtype << " in shard '" << shard_file_name(t.first_rank, world)
           << "' but shape " << shape_text(shape) << " and dtype " << info.dtype << " in " << shard;
        throw InputError(os.str());
      }
      t.pieces.push_back({rank, offset, info.shape[0]});
    };
    for_each_dataset(f, "policy", add);
    for_each_dataset(f, "optimizer", add);
  }

  // Every element of every tensor in exactly one piece.
  for (auto& [name, t] : tensors) {
    std::sort(t.pieces.begin(), t.pieces.end(),
              [](const PieceRef& a, const PieceRef& b) { return a.offset < b.offset; });
    const int64_t numel = numel_of(t.shape);
    const std::string tensor = where + ": tensor '" + name + "' (shape " + shape_text(t.shape) +
                               ", " + std::to_string(numel) + " elements)";
    int64_t covered = 0;  // elements [0, covered) are held
    const PieceRef* last = nullptr;
    for (const auto& p : t.pieces) {
      if (p.count == 0) continue;
      if (p.offset > covered)
        throw InputError(tensor + " has no piece holding elements " +
                         range_text(covered, p.offset) + " in its " + std::to_string(world) +
                         " shard(s)");
      if (p.offset < covered)
        throw InputError(tensor + ": elements " +
                         range_text(p.offset, std::min(covered, p.offset + p.count)) +
                         " are held twice, by shards '" + shard_file_name(last->rank, world) +
                         "' and '" + shard_file_name(p.rank, world) + "'");
      covered = p.offset + p.count;
      last = &p;
    }
    if (covered < numel)
      throw InputError(tensor + " has no piece holding elements " + range_text(covered, numel) +
                       " in its " + std::to_string(world) + " shard(s)");
  }

  // Leftovers of killed writers and of attempts with another world size.
  std::set<std::string> ours;
  for (int rank = 0; rank < world; ++rank) ours.insert(shard_file_name(rank, world));
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& e : fs::directory_iterator(shards_directory(checkpoint_path), ec))
    if (!ours.count(e.path().filename().string())) stale.push_back(e.path());
  for (const auto& p : stale) fs::remove_all(p, ec);

  io::write_h5_atomic(checkpoint_path, [&](io::H5File& f) {
    for (const auto& [name, t] : tensors) {
      f.declare_tensor(name, t.dtype, t.shape);
      std::vector<int64_t> refs;
      for (const auto& p : t.pieces)
        if (p.count > 0) refs.insert(refs.end(), {p.rank, p.offset, p.count});
      f.set_attr(name, "pieces", refs);
    }
    f.set_attr("/", "optimizer", optimizer_kind);
    f.set_attr("/", "optimizer_step", optimizer_step);
    f.set_attr("/", "layout", "sharded");
    f.set_attr("/", "shard_count", world);
    f.write_bytes("rng/torch_cpu", detail::rng_state_bytes());
    detail::write_checkpoint_state(f, content);
  });
}

// ---------------------------------------------------------------------------------------------------
// Reading.

struct CheckpointTensors::Impl {
  struct Entry {
    std::vector<int64_t> shape;
    torch::ScalarType dtype = torch::kFloat;
    std::vector<PieceRef> pieces;  // sharded: sorted by offset
  };

  explicit Impl(const std::string& path) : path(path), file(io::H5File::open_read(path)) {}

  const Entry& entry(const std::string& name) const {
    auto it = entries.find(name);
    if (it == entries.end())
      throw InputError("checkpoint '" + path + "' has no tensor '" + name + "'");
    return it->second;
  }

  const io::H5File& shard(int rank) const {
    auto& slot = shards.at(static_cast<size_t>(rank));
    if (!slot) slot.emplace(open_shard(path, rank, world));
    return *slot;
  }

  // Elements [begin, end) of a sharded tensor, in its stored dtype.
  torch::Tensor gather(const std::string& name, const Entry& e, int64_t begin, int64_t end) const {
    torch::Tensor out = torch::empty({end - begin}, torch::TensorOptions().dtype(e.dtype));
    int64_t cursor = begin;
    for (const auto& p : e.pieces) {
      if (cursor >= end) break;
      const int64_t piece_end = p.offset + p.count;
      if (piece_end <= cursor) continue;
      if (p.offset > cursor) break;  // a gap
      const int64_t to = std::min(end, piece_end);
      const io::H5File& f = shard(p.rank);
      torch::Tensor part =
          f.read_tensor_range(piece_dataset(name, p.offset), cursor - p.offset, to - cursor);
      if (part.scalar_type() != e.dtype)
        GDPO_THROW(InputError, "checkpoint '" << path << "': piece '"
                                              << piece_dataset(name, p.offset) << "' of '"
                                              << f.path() << "' is " << part.scalar_type()
                                              << ", the manifest says " << e.dtype);
      out.narrow(0, cursor - begin, to - cursor).copy_(part);
      cursor = to;
    }
    if (cursor < end) {
      int64_t gap_end = end;
      for (const auto& p : e.pieces)
        if (p.offset > cursor && p.count > 0) gap_end = std::min(gap_end, p.offset);
      throw InputError("checkpoint '" + path + "': tensor '" + name +
                       "' has no piece holding elements " + range_text(cursor, gap_end));
    }
    return out;
  }

  std::string path;
  io::H5File file;
  bool sharded = false;
  int world = 1;
  int64_t optimizer_step = 0;
  std::map<std::string, Entry> entries;
  mutable std::vector<std::optional<io::H5File>> shards;  // opened on first use
};

CheckpointTensors::CheckpointTensors(const std::string& checkpoint_path)
    : impl_(std::make_unique<Impl>(checkpoint_path)) {
  Impl& m = *impl_;
  detail::read_checkpoint_state(m.file);  // a gdpo checkpoint of a known version
  m.sharded = detail::is_sharded(m.file);
  if (!m.sharded) {
    auto add = [&](const std::string& name) {
      const io::TensorInfo info = m.file.tensor_info(name);
      m.entries[name] = {info.shape, info.dtype, {}};
    };
    for_each_dataset(m.file, "policy", add);
    for_each_dataset(m.file, "optimizer", add);
    return;
  }
  detail::check_shards_present(m.file);
  m.world = static_cast<int>(m.file.int_attr("/", "shard_count"));
  m.shards.resize(static_cast<size_t>(m.world));
  auto add = [&](const std::string& name) {
    const io::TensorInfo info = m.file.tensor_info(name);
    const auto refs = m.file.int_array_attr(name, "pieces");
    Impl::Entry e{info.shape, info.dtype, {}};
    for (size_t i = 0; i + 2 < refs.size(); i += 3) {
      if (refs[i] < 0 || refs[i] >= m.world || refs[i + 1] < 0 || refs[i + 2] < 0)
        throw InputError("checkpoint '" + m.path + "': tensor '" + name + "' lists a piece (rank " +
                         std::to_string(refs[i]) + ", elements " +
                         range_text(refs[i + 1], refs[i + 1] + refs[i + 2]) + ") outside its " +
                         std::to_string(m.world) + " shard(s)");
      e.pieces.push_back({static_cast<int>(refs[i]), refs[i + 1], refs[i + 2]});
    }
    if (refs.size() % 3 != 0)
      throw InputError("checkpoint '" + m.path + "': tensor '" + name +
                       "' has a malformed pieces list");
    std::sort(e.pieces.begin(), e.pieces.end(),
              [](const PieceRef& a, const PieceRef& b) { return a.offset < b.offset; });
    m.entries[name] = std::move(e);
  };
  for_each_dataset(m.file, "policy", add);
  for_each_dataset(m.file, "optimizer", add);
  if (m.file.has_attr("/", "optimizer_step")) {
    m.optimizer_step = m.file.int_attr("/", "optimizer_step");
    m.entries[kStepName] = {{}, torch::kLong, {}};
  }
}

CheckpointTensors::~CheckpointTensors() = default;
CheckpointTensors::CheckpointTensors(CheckpointTensors&&) noexcept = default;
CheckpointTensors& CheckpointTensors::operator=(CheckpointTensors&&) noexcept = default;

const std::string& CheckpointTensors::path() const { return impl_->path; }
bool CheckpointTensors::sharded() const { return impl_->sharded; }
int CheckpointTensors::shard_count() const { return impl_->world; }
bool CheckpointTensors::has(const std::string& name) const {
  return impl_->entries.count(name) > 0;
}

std::vector<std::string> CheckpointTensors::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : impl_->entries) out.push_back(name);
  return out;
}

std::vector<int64_t> CheckpointTensors::shape(const std::string& name) const {
  return impl_->entry(name).shape;
}

torch::ScalarType CheckpointTensors::dtype(const std::string& name) const {
  return impl_->entry(name).dtype;
}

std::string CheckpointTensors::optimizer_kind() const {
  return impl_->file.string_attr("/", "optimizer");
}

int64_t CheckpointTensors::optimizer_step() const {
  if (impl_->sharded) return impl_->optimizer_step;
  return read(kStepName, torch::kLong, {}).item<int64_t>();
}

const io::H5File& CheckpointTensors::file() const { return impl_->file; }

torch::Tensor CheckpointTensors::read(const std::string& name, torch::ScalarType dtype,
                                      torch::IntArrayRef expected) const {
  const Impl& m = *impl_;
  const Impl::Entry& e = m.entry(name);
  if (c10::IntArrayRef(e.shape) != expected)
    GDPO_THROW(InputError, "checkpoint '" << m.path << "': tensor '" << name << "' has shape "
                                          << shape_text(e.shape) << ", expected " << expected);
  torch::Tensor t;
  if (!m.sharded)
    t = m.file.read_tensor(name);
  else if (name == kStepName)
    t = torch::scalar_tensor(m.optimizer_step, torch::kLong);
  else
    t = m.gather(name, e, 0, numel_of(e.shape)).reshape(e.shape);
  return convert(t, dtype, m.path, name);
}

torch::Tensor CheckpointTensors::read_range(const std::string& name, torch::ScalarType dtype,
                                            int64_t begin, int64_t count) const {
  const Impl& m = *impl_;
  const Impl::Entry& e = m.entry(name);
  const int64_t numel = numel_of(e.shape);
  if (begin < 0 || count < 0 || begin > numel || count > numel - begin)
    throw InputError("checkpoint '" + m.path + "': elements " + range_text(begin, begin + count) +
                     " of tensor '" + name + "' are out of range (shape " + shape_text(e.shape) +
                     ", " + std::to_string(numel) + " elements)");
  torch::Tensor t;
  if (!m.sharded)
    t = m.file.read_tensor_range(name, begin, count);
  else if (name == kStepName)
    t = torch::full({count}, m.optimizer_step, torch::kLong);
  else
    t = m.gather(name, e, begin, begin + count);
  return convert(t, dtype, m.path, name);
}

}  // namespace gdpo::train
