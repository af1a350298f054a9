// ZeRO data parallelism (--dist.zero-stage 1|2|3): each rank keeps only its shard of the optimizer
// state (stage 1), of the gradients (2) and of the parameters (3), in flat padded buffers per unit
// (train/shard_layout.hpp), with the collectives that move between shards and whole tensors.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gdpo/dist/communicator.hpp"
#include "gdpo/model/causal_lm.hpp"
#include "gdpo/model/parameter_gather.hpp"
#include "gdpo/train/checkpoint_shards.hpp"
#include "gdpo/train/optimizer.hpp"
#include "gdpo/train/shard_layout.hpp"

namespace gdpo::train {

// What lives on each rank, for a model of P parameter elements on W ranks (ψ = P x 4 bytes in
// fp32; every buffer is padded to a multiple of W elements per unit):
//
//   stage | parameters            | gradients (after a step)    | optimizer state | per step
//   ------+-----------------------+-----------------------------+-----------------+-----------
//     0   | whole (ψ)             | whole (ψ)                   | whole           | all-reduce ψ
//     1   | whole (ψ)             | whole (ψ)                   | ψ / W per slot  | all-reduce ψ + all-gather ψ
//     2   | whole (ψ)             | ψ / W                       | ψ / W per slot  | reduce-scatter ψ + all-gather ψ
//     3   | ψ / W (+ the unit in  | ψ / W                       | ψ / W per slot  | all-gather (2 ψ_blocks + ψ_rest)
//         |  use while it is used)|                             |                 |   + reduce-scatter ψ
//
// (Stage 0 is TrainStep without a ZeroState.) Bytes on the wire per rank, ring algorithms: an
// all-reduce of B bytes moves 2 (W-1)/W B, a reduce-scatter or all-gather of B bytes (the whole
// buffer) (W-1)/W B. Stage 3 gathers each block twice (the forward, and the recomputation in the
// backward: blocks are always recomputed at stage 3, see model/parameter_gather.hpp) and the
// "rest" unit (embeddings, final norm, output projection) once per step, kept for the whole step.
//
// Exactness: the sharded optimizer step is the same element-wise arithmetic on the same values as
// the whole one; stage 1 clips the whole (all-reduced) gradients exactly as stage 0; stages 2 and 3
// add the ranks' float64 sums of squares of their shards (a different order of additions than
// stage 0's per-parameter sums: the gradient norm agrees to about 1e-12 relative, and weights
// agree bit for bit unless clipping is active, where the clip coefficient may differ in its last
// bit). With W = 2 the reduce-scatter (mean) gives the same gradient elements as the all-reduce.
//
// Gradient accumulation: stages 1 and 2 let autograd accumulate the micro-batches' gradients in
// .grad and reduce once; stage 3 keeps a block's earlier micro-batches' gradients in a whole flat
// buffer and reduce-scatters when the last micro-batch's backward of that block completes.
class ZeroState : public model::ParameterGather,
                  public std::enable_shared_from_this<ZeroState> {
 public:
  // Shards `model` (which must outlive this) for `stage` (1, 2 or 3) over comm's ranks. Every rank
  // must pass the same weights (the starting ones). With an optimizer config, the parameters are
  // trained (gradients and optimizer shards); without (a frozen reference model), only stage 3's
  // parameter sharding applies and the "rest" unit stays gathered. Call attach() next.
  ZeroState(model::CausalLM& model, int stage, std::shared_ptr<dist::Communicator> comm,
            const OptimizerConfig* optimizer);
  // Nothing to undo: at stage 3 the model owns this (its ParameterGather) and dies with it.
  ~ZeroState() override = default;
  ZeroState(const ZeroState&) = delete;
  ZeroState& operator=(const ZeroState&) = delete;

  // Stage 3: installs this as the model's ParameterGather and frees every unit's whole
  // parameters (the "rest" unit too, unless frozen). Other stages: nothing.
  void attach();

  int stage() const { return stage_; }
  const ShardLayout& layout() const { return *layout_; }
  bool frozen() const { return !optimizer_; }

  // --- a training step (TrainStep's order) ---
  // Stage 3: gathers the "rest" unit for the step.
  void begin_step();
  // Stage 3, before each micro-batch's backward: whether it is the step's last (gradients are
  // reduce-scattered then).
  void prepare(bool last_micro_batch) { last_micro_batch_ = last_micro_batch; }
  // After the backward of the last micro-batch. Stage 1: nothing (the caller all-reduced the whole
  // gradients). Stage 2: every unit's gradients reduce-scattered (mean) into the gradient shards
  // and the whole .grad freed. Stage 3: the "rest" unit likewise (the blocks did it in their
  // backward).
  void reduce_gradients();
  // Stages 2 and 3: the global gradient norm (0-d float64 on the device, the same on every rank)
  // from the gradient shards, which are clipped as clip_gradients_on_device clips.
  torch::Tensor clip_gradient_shards(double max_norm);
  // The optimizer update of this rank's shards with learning rate `lr`, then (stages 1 and 2) the
  // updated shards all-gathered into the whole parameters; stage 3 frees the "rest" unit. The
  // step's gradients stay until the next begin_step(), as stage 0 keeps .grad: the whole ones at
  // stage 1, the shards at stages 2 and 3.
  void step(double lr);
  // A step that will not be taken (non-finite loss): gradients cleared, stage 3's "rest" freed.
  void abandon_step();

  // --- model::ParameterGather (stage 3) ---
  void acquire(int64_t layer) override;
  void release(int64_t layer) override;
  void gradients(int64_t layer, const std::vector<torch::Tensor>& grads) override;

  // Stage 3: every unit (or with blocks = false only the "rest" unit: embeddings, final norm,
  // output projection) gathered for the scope's life (evaluation, export); released at its end
  // (units that were already gathered stay). A collective: every rank makes it. Null or other
  // stages: nothing.
  class Whole {
   public:
    explicit Whole(ZeroState* zero, bool blocks = true);
    ~Whole();
    Whole(const Whole&) = delete;
    Whole& operator=(const Whole&) = delete;

   private:
    ZeroState* zero_;
    size_t units_ = 0;  // units 0 .. units_ - 1 are held
  };

  // --- checkpoints in the logical layout (train/checkpoint_shards.hpp) ---
  // This rank's pieces of "policy/<name>" and "optimizer/<slot>/<name>" (elements of its shards;
  // padding excluded), views of the live buffers (on the device).
  std::vector<TensorPiece> checkpoint_pieces() const;
  // The optimizer's kind and step count.
  std::string optimizer_kind() const;
  int64_t optimizer_steps() const;
  // Reads this rank's shards (parameters and optimizer state) from any checkpoint, whatever layout
  // wrote it, then re-forms the whole parameters (stages 1, 2). With optimizer = false only the
  // parameters.
  void load(const CheckpointTensors& checkpoint, bool optimizer = true);

  // Bytes held on this rank now (the tensors' sizes).
  struct Memory {
    int64_t parameters = 0, gradients = 0, optimizer = 0;
    int64_t total() const { return parameters + gradients + optimizer; }
  };
  Memory memory() const;

 private:
  // The unit of block `layer`.
  static size_t unit_of_layer(int64_t layer) { return static_cast<size_t>(layer) + 1; }
  void gather_unit(size_t u);
  void free_unit(size_t u);
  // The unit's parameters' gradients (`grads`, one per parameter, undefined as zeros) as one flat
  // padded buffer.
  torch::Tensor flatten(size_t u, const std::vector<torch::Tensor>& grads) const;
  void reduce_scatter_unit(size_t u, const torch::Tensor& flat);
  // Stage 1: this rank's slice of the whole (all-reduced) gradients.
  torch::Tensor slice_of_whole_gradients(size_t u) const;
  // One more / one fewer holder of unit u's whole parameters (stage 3): gathered at the first,
  // freed at the last.
  void hold(size_t u);
  void drop(size_t u);
  // An optimizer state name "<slot>/<unit name>" as ("<slot>/", unit index).
  std::pair<std::string, size_t> slot_and_unit(const std::string& key) const;

  model::CausalLM& model_;
  const int stage_;
  std::shared_ptr<dist::Communicator> comm_;
  std::vector<std::pair<std::string, torch::Tensor>> params_;  // hf_state_dict() order
  std::vector<std::vector<int64_t>> shapes_;                    // params_' shapes
  // block_order_[u][k]: where block_parameters()[u - 1][k] sits in unit u's buffer order.
  std::vector<std::vector<size_t>> block_order_;
  std::unique_ptr<ShardLayout> layout_;
  // Per unit. whole_: the unit's flat padded buffer the parameters are views of (stages 1, 2:
  // always; stage 3: while gathered, else undefined). master_: this rank's shard of the
  // parameters (stages 1, 2: a view of whole_). grad_: this rank's gradient shard (stages 2, 3;
  // stage 1 within step()). pending_: stage 3's accumulated whole gradients of earlier
  // micro-batches.
  std::vector<torch::Tensor> whole_, master_, grad_, pending_;
  std::vector<int> gathered_;  // stage 3: acquire() depth per unit
  std::unique_ptr<Optimizer> optimizer_;
  bool last_micro_batch_ = true;
  bool attached_ = false;
};

}  // namespace gdpo::train
