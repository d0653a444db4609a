// px::backward: walks the recorded tape in reverse order and accumulates gradients into leaves.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "proxima/autograd/autograd.h"
#include "proxima/core/ops.h"

namespace px {

using autograd::Edge;
using autograd::Node;
using autograd::TensorList;

namespace {

// The gradient `grad` of an input, brought to that input's shape and dtype.
Tensor fit_to(const Tensor& grad, const Shape& shape, DType dtype) {
  Tensor g = autograd::sum_to(grad, shape);
  if (g.dtype() != dtype) g = ops::to_dtype(g, dtype);
  return g;
}

// leaf.grad += grad (the first gradient is stored as a fresh copy, never aliased).
void accumulate_into_leaf(const Tensor& leaf, const Tensor& grad) {
  AutogradMeta* meta = leaf.autograd_meta();
  if (meta == nullptr || !meta->requires_grad) return;
  Tensor g = fit_to(grad, leaf.shape(), leaf.dtype());
  if (!meta->grad.defined()) {
    meta->grad = ops::clone(g);
    return;
  }
  PX_CHECK(meta->grad.shape() == leaf.shape(), AutogradError,
           "backward: the existing .grad() of a leaf has shape ", shape_str(meta->grad.shape()),
           " but the leaf has shape ", shape_str(leaf.shape()));
  ops::copy_(meta->grad, ops::add(meta->grad, g));
}

Tensor make_seed(const Tensor& root, const Tensor& seed) {
  if (!seed.defined()) {
    PX_CHECK(root.numel() == 1, AutogradError, "backward: the root has shape ", shape_str(root.shape()), " (",
             root.numel(), " elements); a non-scalar root needs a seed gradient of that shape");
    return ones(root.shape(), {.dtype = root.dtype(), .device = root.device()});
  }
  PX_CHECK(seed.shape() == root.shape(), AutogradError, "backward: seed has shape ", shape_str(seed.shape()),
           " but the root has shape ", shape_str(root.shape()), "; they must match");
  Tensor s = seed.device() == root.device() ? seed : ops::to_device(seed, root.device());
  return s.dtype() == root.dtype() ? s : ops::to_dtype(s, root.dtype());
}

// Every node reachable from `root`, newest first (reverse tape order). Throws before any
// gradient is computed if one of them was released by an earlier backward.
std::vector<Node*> collect_nodes(Node* root) {
  std::vector<Node*> nodes;
  std::unordered_set<Node*> seen{root};
  std::vector<Node*> stack{root};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    PX_CHECK(!node->released, AutogradError, "backward: the graph was freed by a previous backward (reached op '",
             node->name, "' again); pass retain_graph=true to the first backward to go through it twice");
    nodes.push_back(node);
    for (const Edge& edge : node->inputs) {
      if (edge.node && seen.insert(edge.node.get()).second) stack.push_back(edge.node.get());
    }
  }
  std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->sequence > b->sequence; });
  return nodes;
}

// The gradients a node hands to its backward rule: zeros for outputs that received none.
TensorList complete_grads(const Node& node, TensorList grads) {
  grads.resize(node.outputs.size());
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) {
      const auto& info = node.outputs[i];
      grads[i] = zeros(info.shape, {.dtype = info.dtype, .device = info.device});
    }
  }
  return grads;
}

void add_into(TensorList& buffer, std::size_t index, const Tensor& grad) {
  if (buffer.size() <= index) buffer.resize(index + 1);
  buffer[index] = buffer[index].defined() ? ops::add(buffer[index], grad) : grad;
}

// Runs one node's backward rule and routes each input gradient to its producer or leaf.
void run_node(Node& node, TensorList grads, std::unordered_map<Node*, TensorList>& buffers) {
  autograd::Needs needs(node.inputs.size());
  for (std::size_t i = 0; i < needs.size(); ++i) needs[i] = node.inputs[i].active();
  TensorList input_grads = node.backward(complete_grads(node, std::move(grads)), needs);
  PX_CHECK(input_grads.size() == node.inputs.size(), AutogradError, "backward: op '", node.name, "' returned ",
           input_grads.size(), " gradients for ", node.inputs.size(), " inputs");
  for (std::size_t i = 0; i < input_grads.size(); ++i) {
    const Edge& edge = node.inputs[i];
    if (!edge.active() || !input_grads[i].defined()) continue;
    if (edge.node) {
      add_into(buffers[edge.node.get()], edge.output_index, fit_to(input_grads[i], edge.shape, edge.dtype));
    } else {
      accumulate_into_leaf(edge.leaf, input_grads[i]);
    }
  }
}

}  // namespace

void backward(const Tensor& root, const Tensor& seed, bool retain_graph) {
  PX_CHECK(root.defined(), AutogradError, "backward: the root tensor is undefined");
  PX_CHECK(root.requires_grad(), AutogradError, "backward: the root tensor (shape ", shape_str(root.shape()),
           ") does not require grad: no input of the computation requires grad, or it ran under NoGradGuard");
  Tensor root_grad = make_seed(root, seed);
  NoGradGuard no_grad;
  const AutogradMeta* meta = root.autograd_meta();
  if (!meta->grad_fn) {
    accumulate_into_leaf(root, root_grad);
    return;
  }
  Node* root_node = meta->grad_fn.get();
  const std::vector<Node*> order = collect_nodes(root_node);
  std::unordered_map<Node*, TensorList> buffers;
  add_into(buffers[root_node], meta->output_index, root_grad);
  for (Node* node : order) {
    auto it = buffers.find(node);
    if (it != buffers.end()) {
      TensorList grads = std::move(it->second);
      buffers.erase(it);
      run_node(*node, std::move(grads), buffers);
    }
    if (!retain_graph) {
      node->backward = nullptr;  // frees the saved tensors
      node->released = true;
    }
  }
}

}  // namespace px
