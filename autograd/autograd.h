// The autograd tape: Node (one recorded op), recording, backward() and the grad-mode switch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxima/core/tensor.h"

namespace px {

// Grad mode is a thread-local switch; while it is off, differentiable functions record nothing.
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// RAII: turns grad mode off for the current scope (and restores the previous mode).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Back-propagates from `root`: d(sum(root * seed))/d(leaf) is added (+=) to the .grad() of
// every leaf that requires grad. `seed` may be omitted only when root has one element (it is
// then 1); otherwise it must have root's shape. Without retain_graph the graph's saved tensors
// are freed, and a second backward through it throws AutogradError; with retain_graph they are
// kept and the graph can be back-propagated again.
void backward(const Tensor& root, const Tensor& seed = {}, bool retain_graph = false);

namespace autograd {

using TensorList = std::vector<Tensor>;
using Needs = std::vector<bool>;  // needs[i]: input i wants a gradient

// Backward rule of a recorded op: receives one gradient per output (zeros for an output that
// received none) and returns one gradient per input. An entry may be undefined when
// needs[i] is false (or the gradient is zero). A gradient may have a broadcast shape of the
// input's shape (the engine sums it down) or another float dtype (the engine casts it).
using BackwardFn = std::function<TensorList(const TensorList& grad_outputs, const Needs& needs)>;
// The same for an op with one output.
using UnaryBackwardFn = std::function<TensorList(const Tensor& grad_output, const Needs& needs)>;

// Where the gradient of one input goes: the Node that produced it (non-leaf), the leaf whose
// .grad() accumulates it, or nowhere (the input does not require grad).
struct Edge {
  std::shared_ptr<Node> node;
  std::uint32_t output_index = 0;  // which output of `node` the input is
  Tensor leaf;
  Shape shape;  // the input's shape and dtype
  DType dtype = DType::float32;
  bool active() const { return node != nullptr || leaf.defined(); }
};

struct OutputInfo {
  Shape shape;
  DType dtype = DType::float32;
  Device device;
};

// CONVENTION: a Node is one recorded op. `sequence` comes from a global counter at recording
// time, so every Node is newer than the Nodes of its inputs; backward processes nodes in
// decreasing sequence (reverse tape order) and never recurses. `backward` captures only the
// (detached) tensors it needs; it is dropped and `released` set once a backward without
// retain_graph has gone through the node.
struct Node {
  std::uint64_t sequence = 0;
  std::string name;
  std::vector<Edge> inputs;
  std::vector<OutputInfo> outputs;
  BackwardFn backward;
  bool released = false;

  Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();  // frees chains of input nodes iteratively (deep graphs must not overflow the stack)
};

// True when grad mode is on and some defined input requires grad.
bool should_record(const TensorList& inputs);

// Records `outputs` as computed by op `name` from `inputs` when should_record(inputs):
// each float output gets a new Node as grad_fn and requires grad. Returns the outputs to hand
// to the user (an output that already had autograd history, e.g. an input returned
// unchanged, is replaced by a fresh alias of the same storage). Without recording, returns
// `outputs` as they are.
TensorList record(const char* name, const TensorList& inputs, TensorList outputs, BackwardFn backward);
Tensor record(const char* name, const TensorList& inputs, Tensor output, UnaryBackwardFn backward);

// Sums `grad` down to `shape` (the inverse of broadcasting `shape` to grad's shape).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Number of nodes alive (for leak tests).
std::int64_t live_node_count();

}  // namespace autograd
}  // namespace px
