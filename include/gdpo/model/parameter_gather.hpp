// Where a model's transformer blocks get their parameters when each rank holds only a shard of
// them (ZeRO stage 3, train/zero_state.hpp): the model asks for a block's parameters just before it
// uses them and hands them back just after, and gives a block's parameter gradients to the gatherer
// instead of accumulating them into .grad.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gdpo::model {

// The calls a CausalLM with a gatherer makes (CausalLM::set_parameter_gather), per block `layer`:
//
//   forward (any mode)             acquire(layer); block forward; release(layer)
//   backward (autograd enabled)    acquire(layer); the block recomputed from its input with
//                                  autograd; its backward; release(layer);
//                                  gradients(layer, d loss / d each parameter)
//
// With autograd, every block runs through model::checkpoint_block (its activations are recomputed
// in the backward pass, as with --train.activation-checkpointing): that is what lets a block's
// parameters be freed between its forward and its backward. Between release() and the next
// acquire() the parameters may hold no elements. Parameters outside the blocks (embeddings, the
// final layer norm, the output projection) are the gatherer's business before and after the call.
class ParameterGather {
 public:
  virtual ~ParameterGather() = default;
  // Block `layer`'s parameters (CausalLM::block_parameters()[layer]) hold their full values.
  virtual void acquire(int64_t layer) = 0;
  // The model is done with them until the next acquire(layer).
  virtual void release(int64_t layer) = 0;
  // One backward pass of block `layer` produced `grads`, in block_parameters()[layer]'s order (an
  // undefined tensor where a parameter got none). They are not added to the parameters' .grad.
  virtual void gradients(int64_t layer, const std::vector<torch::Tensor>& grads) = 0;
};

}  // namespace gdpo::model
