#include "gdpo/train/gradient_sync.hpp"

#include <mutex>
#include <thread>

#include "gdpo/core/error.hpp"

namespace gdpo::train {

struct GradientSync::State {
  struct Bucket {
    std::vector<size_t> members;  // indices into params
    torch::Tensor flat;           // [total numel] in the gradients' dtype
    size_t pending = 0;           // members whose gradient is not yet in `flat` (overlap)
  };

  std::shared_ptr<dist::Communicator> comm;
  std::vector<torch::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of;   // params[i] is in buckets[bucket_of[i]]
  std::vector<int64_t> offset_of;  // ... at this offset of its flat buffer
  bool overlap = false;
  bool launch_from_any_thread = false;  // the backend may be called from autograd's threads

  // One step's overlapped synchronisation (between prepare(true) and finish()).
  std::mutex mutex;  // hooks of parameters on different devices run on different threads
  bool armed = false;
  std::thread::id caller;   // the thread that called prepare(true) (and backward)
  std::vector<bool> ready;  // ready[i]: params[i]'s final gradient is in its bucket
  size_t launched = 0;      // buckets[0, launched) have been all-reduced (launched)

  torch::Tensor slot(size_t i) {
    return buckets[bucket_of[i]].flat.narrow(0, offset_of[i], params[i].numel());
  }
  // The parameter's .grad, or zeros without one, into its slot.
  void fill_from_grad(size_t i) {
    auto view = slot(i);
    const auto& g = params[i].grad();
    if (g.defined())
      view.copy_(g.reshape({-1}));
    else
      view.zero_();
  }
  void launch(Bucket& bucket) { comm->all_reduce(bucket.flat, dist::ReduceOp::Mean); }
  // Launches the complete buckets that follow the last launched one, in order.
  void launch_ready() {
    while (launched < buckets.size() && buckets[launched].pending == 0) launch(buckets[launched++]);
  }
  // The buckets' averages into every member's .grad (defining it where it was undefined).
  void unpack(const Bucket& bucket) {
    for (size_t i : bucket.members) {
      auto& p = params[i];
      auto view = slot(i).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(view);
      else
        p.mutable_grad() = view.clone();
    }
  }

  // The hook of params[i]: `incoming` is the gradient this backward brings it, before autograd adds
  // it to .grad.
  void on_gradient(size_t i, const torch::Tensor& incoming) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!armed) return;  // not the last micro-batch (or no overlapped step under way)
    GDPO_CHECK(!ready[i], "GradientSync: a second gradient for parameter "
                              << i << " in one overlapped backward (one backward per prepare(true))");
    torch::NoGradGuard no_grad;
    const auto& old = params[i].grad();
    if (!incoming.defined()) {
      fill_from_grad(i);  // nothing new: autograd leaves .grad as it is
    } else if (old.defined()) {
      auto view = slot(i);  // old + incoming: the addition autograd makes next (.grad += incoming)
      at::add_out(view, old.reshape({-1}), incoming.reshape({-1}));
    } else {
      slot(i).copy_(incoming.reshape({-1}));
    }
    ready[i] = true;
    buckets[bucket_of[i]].pending -= 1;
    if (launch_from_any_thread || std::this_thread::get_id() == caller) launch_ready();
  }
};

GradientSync::GradientSync(std::shared_ptr<dist::Communicator> comm,
                           std::vector<torch::Tensor> params, int64_t bucket_bytes, bool overlap)
    : state_(std::make_shared<State>()) {
  auto& s = *state_;
  s.comm = std::move(comm);
  s.params = std::move(params);
  s.bucket_of.assign(s.params.size(), 0);
  s.offset_of.assign(s.params.size(), 0);
  State::Bucket current;
  int64_t bytes = 0;
  auto close = [&] {
    if (current.members.empty()) return;
    int64_t numel = 0;
    for (size_t i : current.members) {
      s.bucket_of[i] = s.buckets.size();
      s.offset_of[i] = numel;
      numel += s.params[i].numel();
    }
    current.flat = torch::empty({numel}, s.params[current.members.front()].options());
    s.buckets.push_back(std::move(current));
    current = State::Bucket();
    bytes = 0;
  };
  // Reverse parameter order: roughly the order in which the backward produces the gradients.
  for (size_t k = s.params.size(); k-- > 0;) {
    const auto& p = s.params[k];
    // A bucket holds one dtype; a dtype change closes it.
    if (!current.members.empty() &&
        s.params[current.members.front()].scalar_type() != p.scalar_type())
      close();
    current.members.push_back(k);
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
    if (bytes >= bucket_bytes) close();
  }
  close();

  s.overlap = overlap && s.comm->world_size() > 1;
  s.launch_from_any_thread = s.comm->backend() != "mpi";
  hooks_.assign(s.params.size(), 0);
  hooked_.assign(s.params.size(), false);
  if (!s.overlap) return;
  const std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < s.params.size(); ++i) {
    if (!s.params[i].requires_grad()) continue;  // never gets a gradient: finish() fills it
    hooks_[i] = s.params[i].register_hook([weak, i](const torch::Tensor& grad) {
      if (auto state = weak.lock()) state->on_gradient(i, grad);
    });
    hooked_[i] = true;
  }
}

GradientSync::~GradientSync() {
  for (size_t i = 0; i < hooks_.size(); ++i) {
    if (!hooked_[i]) continue;
    try {
      state_->params[i].remove_hook(hooks_[i]);
    } catch (...) {  // the hooks hold the state weakly: a hook left behind does nothing
    }
  }
}

bool GradientSync::overlap() const { return state_->overlap; }

int64_t GradientSync::bucket_count() const { return static_cast<int64_t>(state_->buckets.size()); }

void GradientSync::average() {
  auto& s = *state_;
  if (s.comm->world_size() == 1) return;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.armed = false;
  }
  torch::NoGradGuard no_grad;
  for (auto& bucket : s.buckets) {
    for (size_t i : bucket.members) s.fill_from_grad(i);
    s.launch(bucket);
    s.unpack(bucket);
  }
}

void GradientSync::prepare(bool last_micro_batch) {
  auto& s = *state_;
  if (!s.overlap) return;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.armed = last_micro_batch;
  if (!last_micro_batch) return;
  s.caller = std::this_thread::get_id();
  s.ready.assign(s.params.size(), false);
  s.launched = 0;
  for (auto& bucket : s.buckets) bucket.pending = bucket.members.size();
}

void GradientSync::finish() {
  auto& s = *state_;
  if (s.comm->world_size() == 1) return;
  bool armed = false;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    armed = s.armed;
    s.armed = false;  // the backward is over: no hook fires any more
  }
  if (!armed) {
    average();
    return;
  }
  torch::NoGradGuard no_grad;
  // What the hooks did not bring (no gradient in the last micro-batch, no hook, or a hook that could
  // not launch from its thread), then every bucket not yet launched, in order.
  for (size_t k = s.launched; k < s.buckets.size(); ++k) {
    auto& bucket = s.buckets[k];
    for (size_t i : bucket.members)
      if (!s.ready[i]) {
        s.fill_from_grad(i);
        s.ready[i] = true;
        bucket.pending -= 1;
      }
  }
  s.launch_ready();
  for (const auto& bucket : s.buckets) s.unpack(bucket);
}

}  // namespace gdpo::train
