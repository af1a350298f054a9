// Data-parallel gradient averaging: every rank's gradients are packed into a few large flat buckets,
// all-reduced (mean) in one collective each, and unpacked, so that all ranks hold identical
// gradients and take identical optimizer steps.
//
// Two ways, the same arithmetic (bit for bit the same gradients):
//  - average() after the backward: every bucket packed, reduced and unpacked in turn;
//  - overlapped with the backward (constructed with overlap = true): a hook on each parameter
//    writes its final gradient into its bucket as soon as the backward produces it, and a bucket's
//    all-reduce is launched as soon as all its members are in, while the backward goes on. With a
//    backend that enqueues collectives on a stream (NCCL) they run alongside the rest of the
//    backward; with a synchronous one (MPI) each runs then and there.
//
// The overlap contract (what the caller does per optimizer step):
//   for each micro-batch m:  sync.prepare(m == last);  loss_m.backward();
//   sync.finish();   // every bucket launched (in order), averaged, copied into .grad
// Only the last micro-batch's backward is synchronised: its hook sees the parameter's incoming
// gradient g before autograd accumulates it, so the final gradient is .grad (the earlier
// micro-batches', when defined) + g, the same addition autograd then makes. Buckets are launched
// strictly in a fixed order (bucket i only after bucket i - 1) so every rank issues the same
// collectives in the same order whatever order its hooks fire in; buckets are built in reverse
// parameter order, which approximates the order the backward produces gradients. finish() launches
// what is left (parameters whose hook never fired contribute their .grad, or zeros when they have
// none, exactly as average()). A step whose backward runs in pieces (the timed path) calls average()
// instead, with or without overlap. With a world of one rank nothing is registered and every call
// does nothing.
//
// Threads: on CPU autograd runs the hooks on the thread that called backward(). On CUDA they run on
// autograd's device thread: collectives are launched from there unless the backend is "mpi" (MPI is
// initialised MPI_THREAD_FUNNELED: only its own thread may call it), in which case the hooks only
// fill the buckets and finish() launches them all.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "gdpo/dist/communicator.hpp"

namespace gdpo::train {

class GradientSync {
 public:
  // Buckets of about `bucket_bytes` of gradients each (in reverse parameter order; a parameter is
  // never split; a dtype change closes a bucket). With `overlap` (and more than one rank), a hook is
  // registered on every parameter that requires a gradient; they are removed by the destructor.
  GradientSync(std::shared_ptr<dist::Communicator> comm, std::vector<torch::Tensor> params,
               int64_t bucket_bytes = 32 << 20, bool overlap = false);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Averages every parameter's .grad() over the ranks. A parameter without a gradient contributes
  // zeros (and receives the average), so all ranks always agree.
  void average();

  // The overlapped path (see above). prepare(last) before each micro-batch's backward; finish()
  // after the last one. Without overlap (or when prepare(true) was not called since the last
  // finish()), finish() is average().
  void prepare(bool last_micro_batch);
  void finish();

  bool overlap() const;
  int64_t bucket_count() const;

  struct State;  // shared with the hooks (which hold it weakly)

 private:
  std::shared_ptr<State> state_;
  std::vector<unsigned> hooks_;  // hooks_[i]: the hook on params[i] (when registered)
  std::vector<bool> hooked_;
};

}  // namespace gdpo::train
