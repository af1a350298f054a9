#include "gdpo/train/zero_state.hpp"

#include <algorithm>
#include <map>

#include "gdpo/core/error.hpp"
#include "gdpo/train/gradient_clip.hpp"

namespace gdpo::train {

namespace {

int64_t nbytes(const torch::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0;
}

// A tensor with no elements, for a parameter whose whole values are elsewhere.
torch::Tensor freed_like(const torch::Tensor& p) {
  return torch::empty({0}, p.options().requires_grad(false));
}

}  // namespace

ZeroState::ZeroState(model::CausalLM& model, int stage, std::shared_ptr<dist::Communicator> comm,
                     const OptimizerConfig* optimizer)
    : model_(model), stage_(stage), comm_(std::move(comm)) {
  GDPO_CHECK(stage_ >= 1 && stage_ <= 3, "ZeroState: stage " << stage_ << " (expected 1, 2 or 3)");
  GDPO_CHECK(comm_, "ZeroState needs a communicator");
  torch::NoGradGuard no_grad;
  params_ = model_.hf_state_dict();
  GDPO_CHECK(!params_.empty(), "ZeroState: the model has no parameters");
  std::map<const void*, size_t> index;  // a parameter's TensorImpl -> its index in params_
  for (size_t i = 0; i < params_.size(); ++i) {
    index[params_[i].second.unsafeGetTensorImpl()] = i;
    shapes_.push_back(params_[i].second.sizes().vec());
    GDPO_CHECK(params_[i].second.scalar_type() == params_[0].second.scalar_type(),
               "ZeroState: parameters of different dtypes (" << params_[i].first << ")");
  }
  const auto blocks = model_.block_parameters();
  std::vector<int64_t> unit_of(params_.size(), 0), numels;
  block_order_.assign(blocks.size() + 1, {});
  for (size_t b = 0; b < blocks.size(); ++b)
    for (const auto& t : blocks[b]) {
      auto it = index.find(t.unsafeGetTensorImpl());
      GDPO_CHECK(it != index.end(), "ZeroState: block " << b << " has a parameter that is not in "
                                                           "the model's state dict");
      unit_of[it->second] = static_cast<int64_t>(b) + 1;
    }
  for (const auto& [name, p] : params_) numels.push_back(p.numel());
  layout_ = std::make_unique<ShardLayout>(numels, unit_of, static_cast<int64_t>(blocks.size()) + 1,
                                          comm_->world_size(), comm_->rank());
  // A block's gradients arrive in block_parameters() order; the unit's buffer is in params_ order.
  for (size_t b = 0; b < blocks.size(); ++b) {
    const auto& members = layout_->unit(b + 1).params;
    for (const auto& t : blocks[b]) {
      const size_t i = index.at(t.unsafeGetTensorImpl());
      block_order_[b + 1].push_back(static_cast<size_t>(
          std::find(members.begin(), members.end(), i) - members.begin()));
    }
  }
  const size_t units = layout_->units().size();
  whole_.resize(units);
  master_.resize(units);
  grad_.resize(units);
  pending_.resize(units);
  gathered_.assign(units, 0);

  const auto options = params_[0].second.options().requires_grad(false);
  for (size_t u = 0; u < units; ++u) {
    const ShardUnit& unit = layout_->unit(u);
    auto whole = torch::zeros({unit.padded}, options);
    for (size_t k = 0; k < unit.params.size(); ++k) {
      auto& p = params_[unit.params[k]].second;
      auto view = whole.narrow(0, unit.offsets[k], p.numel());
      view.copy_(p.detach().reshape({-1}));
      if (stage_ < 3) p.set_data(view.view(p.sizes()));
    }
    const auto mine = whole.narrow(0, layout_->shard_begin(u), unit.shard);
    if (stage_ < 3) {
      whole_[u] = whole;
      master_[u] = mine.detach();  // shares whole's storage
    } else {
      master_[u] = mine.clone();
    }
  }
  if (optimizer) {
    std::vector<NamedParameter> named;
    for (size_t u = 0; u < units; ++u) named.emplace_back(layout_->unit(u).name, master_[u]);
    optimizer_ = make_optimizer(*optimizer, std::move(named));
  }
}

void ZeroState::attach() {
  if (stage_ < 3 || attached_) return;
  model_.set_parameter_gather(shared_from_this());
  attached_ = true;
  torch::NoGradGuard no_grad;
  for (size_t u = 0; u < layout_->units().size(); ++u) {
    if (u == 0 && frozen()) {
      hold(0);  // a frozen model keeps its embeddings and head
      continue;
    }
    free_unit(u);
  }
}

void ZeroState::gather_unit(size_t u) {
  torch::NoGradGuard no_grad;
  const ShardUnit& unit = layout_->unit(u);
  auto whole = torch::empty({unit.padded}, master_[u].options());
  comm_->all_gather_into(master_[u], whole);
  for (size_t k = 0; k < unit.params.size(); ++k) {
    const size_t i = unit.params[k];
    params_[i].second.set_data(
        whole.narrow(0, unit.offsets[k], layout_->param_numel(i)).view(shapes_[i]));
  }
  whole_[u] = whole;
}

void ZeroState::free_unit(size_t u) {
  for (size_t i : layout_->unit(u).params) params_[i].second.set_data(freed_like(params_[i].second));
  whole_[u] = torch::Tensor();
}

void ZeroState::hold(size_t u) {
  if (gathered_[u]++ == 0) gather_unit(u);
}

void ZeroState::drop(size_t u) {
  GDPO_CHECK(gathered_[u] > 0, "ZeroState: unit " << layout_->unit(u).name << " released twice");
  if (--gathered_[u] == 0) free_unit(u);
}

void ZeroState::acquire(int64_t layer) {
  const size_t u = unit_of_layer(layer);
  GDPO_CHECK(u < gathered_.size(), "ZeroState: no block " << layer);
  hold(u);
}

void ZeroState::release(int64_t layer) {
  const size_t u = unit_of_layer(layer);
  GDPO_CHECK(u < gathered_.size(), "ZeroState: no block " << layer);
  drop(u);
}

torch::Tensor ZeroState::flatten(size_t u, const std::vector<torch::Tensor>& grads) const {
  // One concatenation: each element written once.
  const ShardUnit& unit = layout_->unit(u);
  const auto options = master_[u].options();
  std::vector<torch::Tensor> parts;
  for (size_t k = 0; k < unit.params.size(); ++k)
    parts.push_back(grads[k].defined()
                        ? grads[k].reshape({-1})
                        : torch::zeros({layout_->param_numel(unit.params[k])}, options));
  if (unit.padded > unit.numel) parts.push_back(torch::zeros({unit.padded - unit.numel}, options));
  return parts.empty() ? torch::zeros({unit.padded}, options) : torch::cat(parts);
}

void ZeroState::reduce_scatter_unit(size_t u, const torch::Tensor& flat) {
  grad_[u] = torch::empty({layout_->unit(u).shard}, flat.options());
  comm_->reduce_scatter(flat, grad_[u], dist::ReduceOp::Mean);
}

void ZeroState::gradients(int64_t layer, const std::vector<torch::Tensor>& grads) {
  torch::NoGradGuard no_grad;
  const size_t u = unit_of_layer(layer);
  const auto& position = block_order_.at(u);
  GDPO_CHECK(grads.size() == position.size(), "ZeroState: block " << layer << " gave "
                                                                  << grads.size()
                                                                  << " gradients for "
                                                                  << position.size()
                                                                  << " parameters");
  std::vector<torch::Tensor> ordered(position.size());
  for (size_t k = 0; k < position.size(); ++k) ordered[position[k]] = grads[k];
  auto flat = flatten(u, ordered);
  // Earlier micro-batches first, as autograd accumulates .grad.
  if (pending_[u].defined()) flat = pending_[u].add(flat);
  if (!last_micro_batch_) {
    pending_[u] = flat;
    return;
  }
  pending_[u] = torch::Tensor();
  reduce_scatter_unit(u, flat);
}

void ZeroState::begin_step() {
  for (auto& g : grad_) g = torch::Tensor();
  for (auto& g : pending_) g = torch::Tensor();
  last_micro_batch_ = true;
  if (stage_ == 3 && !frozen()) hold(0);
}

void ZeroState::reduce_gradients() {
  if (stage_ == 1) return;
  torch::NoGradGuard no_grad;
  for (size_t u = 0; u < layout_->units().size(); ++u) {
    if (stage_ == 3 && u != 0) {
      // A block whose backward never ran this step (nothing depended on it) still takes part.
      if (!grad_[u].defined()) {
        const std::vector<torch::Tensor> none(layout_->unit(u).params.size());
        reduce_scatter_unit(u, pending_[u].defined() ? pending_[u] : flatten(u, none));
      }
      pending_[u] = torch::Tensor();
      continue;
    }
    const ShardUnit& unit = layout_->unit(u);
    std::vector<torch::Tensor> grads;
    for (size_t i : unit.params) grads.push_back(params_[i].second.grad());
    auto flat = flatten(u, grads);
    for (size_t i : unit.params) params_[i].second.mutable_grad().reset();
    reduce_scatter_unit(u, flat);
  }
}

torch::Tensor ZeroState::clip_gradient_shards(double max_norm) {
  GDPO_CHECK(stage_ >= 2, "ZeroState: gradient shards exist from stage 2");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> sums, grads;
  for (const auto& g : grad_)
    if (g.defined()) {
      grads.push_back(g);
      sums.push_back(g.pow(2).sum(torch::kFloat64));
    }
  GDPO_CHECK(!sums.empty(), "ZeroState: no gradient shards (reduce_gradients() first)");
  auto total = torch::stack(sums).cumsum(0).select(0, -1).contiguous();
  comm_->all_reduce(total, dist::ReduceOp::Sum);
  const auto norm = total.sqrt();
  scale_gradients_to_norm(grads, norm, max_norm);
  return norm;
}

torch::Tensor ZeroState::slice_of_whole_gradients(size_t u) const {
  const ShardUnit& unit = layout_->unit(u);
  auto shard = torch::zeros({unit.shard}, master_[u].options());
  for (const auto& piece : layout_->pieces(u)) {
    const auto& g = params_[piece.param].second.grad();
    if (g.defined())
      shard.narrow(0, piece.shard_offset, piece.count)
          .copy_(g.reshape({-1}).narrow(0, piece.param_offset, piece.count));
  }
  return shard;
}

void ZeroState::step(double lr) {
  GDPO_CHECK(optimizer_, "ZeroState: a frozen model takes no optimizer step");
  torch::NoGradGuard no_grad;
  const size_t units = layout_->units().size();
  for (size_t u = 0; u < units; ++u) {
    if (stage_ == 1) grad_[u] = slice_of_whole_gradients(u);
    GDPO_CHECK(grad_[u].defined(), "ZeroState: unit " << layout_->unit(u).name
                                                      << " has no gradient shard");
    master_[u].mutable_grad() = grad_[u];
  }
  optimizer_->step(lr);
  for (size_t u = 0; u < units; ++u) {
    master_[u].mutable_grad().reset();
    if (stage_ == 1) grad_[u] = torch::Tensor();  // the whole gradients stay in .grad
    if (stage_ < 3) {
      auto mine = whole_[u].narrow(0, layout_->shard_begin(u), layout_->unit(u).shard);
      comm_->all_gather_into(mine, whole_[u]);
    }
  }
  if (stage_ == 3) drop(0);
}

void ZeroState::abandon_step() {
  for (auto& g : grad_) g = torch::Tensor();
  for (auto& g : pending_) g = torch::Tensor();
  for (auto& [name, p] : params_) p.mutable_grad().reset();
  if (stage_ == 3 && !frozen() && gathered_[0] > 0) drop(0);
}

ZeroState::Whole::Whole(ZeroState* zero, bool blocks) : zero_(zero) {
  if (!zero_ || zero_->stage_ < 3) return;
  units_ = blocks ? zero_->gathered_.size() : 1;
  for (size_t u = 0; u < units_; ++u) zero_->hold(u);
}

ZeroState::Whole::~Whole() {
  for (size_t u = 0; u < units_; ++u) zero_->drop(u);
}

std::pair<std::string, size_t> ZeroState::slot_and_unit(const std::string& key) const {
  const auto slash = key.rfind('/');
  GDPO_CHECK(slash != std::string::npos, "optimizer state '" << key << "'");
  const std::string unit = key.substr(slash + 1);
  for (size_t u = 0; u < layout_->units().size(); ++u)
    if (layout_->unit(u).name == unit) return {key.substr(0, slash + 1), u};
  GDPO_THROW(Error, "optimizer state '" << key << "' names no unit");
}

std::vector<TensorPiece> ZeroState::checkpoint_pieces() const {
  std::vector<TensorPiece> out;
  auto add = [&](const std::string& prefix, size_t u, const torch::Tensor& shard) {
    for (const auto& piece : layout_->pieces(u))
      out.push_back({prefix + params_[piece.param].first, shapes_[piece.param],
                     piece.param_offset,
                     shard.narrow(0, piece.shard_offset, piece.count).to(torch::kCPU)});
  };
  for (size_t u = 0; u < layout_->units().size(); ++u) add("policy/", u, master_[u]);
  if (optimizer_)
    for (const auto& [key, tensor] : optimizer_->state()) {
      if (key == "step") continue;
      const auto [slot, u] = slot_and_unit(key);
      add("optimizer/" + slot, u, tensor);
    }
  return out;
}

std::string ZeroState::optimizer_kind() const { return optimizer_ ? optimizer_->kind() : ""; }
int64_t ZeroState::optimizer_steps() const { return optimizer_ ? optimizer_->steps() : 0; }

void ZeroState::load(const CheckpointTensors& checkpoint, bool optimizer) {
  torch::NoGradGuard no_grad;
  const size_t units = layout_->units().size();
  const auto dtype = master_[0].scalar_type();
  auto fill = [&](const std::string& prefix, size_t u, torch::Tensor shard) {
    for (const auto& piece : layout_->pieces(u))
      shard.narrow(0, piece.shard_offset, piece.count)
          .copy_(checkpoint.read_range(prefix + params_[piece.param].first, dtype,
                                       piece.param_offset, piece.count));
  };
  for (size_t u = 0; u < units; ++u) fill("policy/", u, master_[u]);
  if (optimizer && optimizer_) {
    if (checkpoint.optimizer_kind() != optimizer_->kind())
      throw InputError("checkpoint '" + checkpoint.path() + "' holds " +
                       checkpoint.optimizer_kind() + " state but the run uses " +
                       optimizer_->kind() + " (--train.optimizer)");
    auto state = optimizer_->state();
    for (auto& [key, tensor] : state) {
      if (key == "step") {
        tensor = torch::tensor(checkpoint.optimizer_step(), torch::kInt64);
        continue;
      }
      const auto [slot, u] = slot_and_unit(key);
      tensor = torch::zeros_like(tensor);
      fill("optimizer/" + slot, u, tensor);
    }
    optimizer_->load_state(state);
  }
  // Re-form what is whole from the new shards.
  for (size_t u = 0; u < units; ++u) {
    if (stage_ < 3) {
      auto mine = whole_[u].narrow(0, layout_->shard_begin(u), layout_->unit(u).shard);
      comm_->all_gather_into(mine, whole_[u]);
    } else if (gathered_[u] > 0) {
      gather_unit(u);
    }
  }
}

ZeroState::Memory ZeroState::memory() const {
  Memory m;
  for (size_t u = 0; u < whole_.size(); ++u) {
    m.parameters += nbytes(whole_[u]);
    if (stage_ == 3) m.parameters += nbytes(master_[u]);
    m.gradients += nbytes(grad_[u]) + nbytes(pending_[u]);
  }
  for (const auto& [name, p] : params_) m.gradients += nbytes(p.grad());
  if (optimizer_)
    for (const auto& [name, t] : optimizer_->state()) m.optimizer += nbytes(t);
  return m;
}

}  // namespace gdpo::train
